"""Images per second of our `road` and `faithfulness-correlation` against Quantus 0.6's `ROAD` and
`FaithfulnessCorrelation`, side by side in one run, on the same model, images and maps.

The work is the same on both sides (as in tests/test_xai_quantus.py): ROAD on grey images (Quantus
0.6 cannot index an RGB image with a one-channel map), MoRF at 10..90%, noise 0.01; faithfulness
correlation with pixels as features (Quantus sees each RGB pixel packed into one float), the same
number of runs and subset size, black fill. Two models, in one run: a ViT with random weights behind
one forward (`xai.subjects.ModelSubject`), where the model's forwards dominate, and a linear map of
the pixels that costs next to nothing, where each library's own work is what is timed. Each
measurement warms up once per side, then alternates ours and Quantus's `--repeats` times and keeps
the median of each side. torch runs on one thread unless `--threads` says otherwise: on a shared
host, a second core that another job holds slows two-thread forwards (and Quantus's torch calls) by
a factor that changes from run to run. Quantus is a test-only dependency (the `test` extra)."""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

NAME = "xai-quantus-speed"
SUMMARY = ("images/s of our road and faithfulness-correlation vs Quantus 0.6's ROAD and FaithfulnessCorrelation "
           "on the same maps: a ViT (forwards dominate) and a linear model (each library's own work)")
SMOKE = ["--vit-size", "16", "--vit-hidden", "32", "--vit-layers", "1",
         "--linear-size", "32", "--linear-patch", "8", "--linear-images", "2", "--runs", "4", "--repeats", "1"]
MODELS = ("vit", "linear")
QUANTUS = "0.6"  # the version whose ROAD and FaithfulnessCorrelation tests/test_xai_quantus.py checks ours against


def columns() -> list[dict]:
    from . import column

    return [column("model"), column("metric"), column("ours_ips", "ours", "images/s", 2),
            column("quantus_ips", "Quantus 0.6", "images/s", 2), column("ratio", "ours / Quantus", digits=2),
            column("images"), column("image_size", "image", "px")]


def add_arguments(parser) -> None:
    from _infra.cli import CommaList, whole_number

    from xai.metrics import faithfulness_correlation as fc

    parser.add_argument("--models", action=CommaList, known=MODELS, default=list(MODELS),
                        help=f"which models, comma list (default: {','.join(MODELS)})")
    parser.add_argument("--vit-size", type=whole_number(1), default=32, help="ViT image size, px")
    parser.add_argument("--vit-patch", type=whole_number(1), default=4, help="its patch, px")
    parser.add_argument("--vit-hidden", type=whole_number(1), default=192, help="its width")
    parser.add_argument("--vit-layers", type=whole_number(1), default=12, help="its layers")
    parser.add_argument("--vit-images", type=whole_number(2), default=8, help="images measured on it")
    parser.add_argument("--linear-size", type=whole_number(1), default=224, help="linear model's image size, px")
    parser.add_argument("--linear-patch", type=whole_number(1), default=16, help="its map's patch (grid) size, px")
    parser.add_argument("--linear-images", type=whole_number(2), default=8, help="images measured on it")
    parser.add_argument("--runs", type=whole_number(2), default=fc.RUNS,
                        help="faithfulness-correlation subsets per image")
    parser.add_argument("--repeats", type=whole_number(1), default=3, help="timed runs per side (the median is kept)")
    parser.add_argument("--threads", type=whole_number(0), default=1,
                        help="torch threads, 0: torch's default (default: %(default)s: a second core that another "
                             "job takes slows two-thread forwards by a factor that changes from run to run)")


# ---- Quantus's layouts: what its torch interface sees of our uint8 RGB images -------------------

def from_grey(x: np.ndarray) -> np.ndarray:
    """`(B, 1, H, W)` in [0, 1] -> uint8 `(B, H, W, 3)`, rounded as our ROAD rounds."""
    return np.repeat((x[:, 0, :, :, None] * 255).round().clip(0, 255).astype(np.uint8), 3, axis=-1)


def pack(images: np.ndarray) -> np.ndarray:
    """uint8 `(B, H, W, 3)` -> `(B, 1, H, W)` float: R * 65536 + G * 256 + B (exact in float32)."""
    rgb = images.astype(np.int64)
    return (rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]).astype(np.float64)[:, None]


def unpack(x: np.ndarray) -> np.ndarray:
    """`pack`'s `(B, 1, H, W)` floats -> uint8 `(B, H, W, 3)`."""
    v = np.rint(x[:, 0]).astype(np.int64)
    return np.stack([v // 65536, v // 256 % 256, v % 256], axis=-1).astype(np.uint8)


def quantus_model(forward, decode):
    """Our numpy `forward` (uint8 `(B, H, W, 3)` -> probabilities `(B, classes)`) behind Quantus's
    torch interface: its input `decode`d to uint8 RGB, log-probabilities out (Quantus's softmax gives
    our probabilities back)."""
    import torch

    class Wrapped(torch.nn.Module):
        def forward(self, x):
            probs = forward(decode(x.detach().double().numpy()))
            return torch.from_numpy(np.log(np.maximum(probs, 1e-30)))

    return Wrapped().eval()


# ---- the two models --------------------------------------------------------------------------

class LinearSubject:
    """Softmax of a fixed random linear map of the pixels: a forward that costs next to nothing."""

    def __init__(self, image_size: int, patch: int, classes: int = 10):
        self.grid = (image_size // patch,) * 2
        self.weights = np.random.default_rng(0).normal(0, 1e-3, (image_size * image_size * 3, classes))

    def forward(self, images: np.ndarray) -> np.ndarray:
        """uint8 `(B, H, W, 3)` -> probabilities `(B, classes)` float32."""
        z = images.reshape(len(images), -1).astype(np.float64) @ self.weights
        e = np.exp(z - z.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def vit_subject(image_size: int, hidden: int, layers: int, patch: int):
    """A ViT classifier (10 classes, random weights, eager attention) behind our numpy forward."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from xai.subjects import ModelSubject

    torch.manual_seed(0)
    config = ViTConfig(image_size=image_size, patch_size=patch, hidden_size=hidden, num_hidden_layers=layers,
                       num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden, num_labels=10,
                       attn_implementation="eager")
    model = ViTForImageClassification(config).eval()
    return ModelSubject(model, (image_size // patch,) * 2, 1, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), batch=64)


def subject_of(model: str, args):
    """(subject, row label, image size, images) of `model` ("vit" or "linear") at `args`' settings."""
    if model == "vit":
        subject = vit_subject(args.vit_size, args.vit_hidden, args.vit_layers, args.vit_patch)
        label = f"ViT {args.vit_layers} x {args.vit_hidden}, patch {args.vit_patch}"
        return subject, label, args.vit_size, args.vit_images
    subject = LinearSubject(args.linear_size, args.linear_patch)
    return subject, f"linear, patch {args.linear_patch}", args.linear_size, args.linear_images


def inputs(n: int, size: int, grid: tuple[int, int], seed: int = 0):
    """uint8 grey and colour images `(n, size, size, 3)` and patch-grid maps `(n, gh, gw)`."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    colour = gaussian_filter(rng.random((n, size, size, 3)), (0, size / 16, size / 16, 0))
    colour = ((colour - colour.min()) / (colour.max() - colour.min()) * 255).round().astype(np.uint8)
    grey = np.repeat(colour[..., :1], 3, axis=-1)
    return grey, colour, rng.random((n, *grid)).astype(np.float32)


# ---- the same work on both sides -------------------------------------------------------------

def road_pair(subject, grey: np.ndarray, maps: np.ndarray):
    """(ours, Quantus's) zero-argument callables: ROAD MoRF on the same grey images and upsampled maps,
    explaining the predicted class."""
    import quantus

    from xai.metrics import road, upsample

    labels = subject.forward(grey).argmax(-1)
    full = upsample(maps, grey.shape[1:3])
    metric = quantus.ROAD(percentages=list(road.PERCENTAGES), noise=road.NOISE, disable_warnings=True)
    x = grey[..., :1].transpose(0, 3, 1, 2).astype(np.float64) / 255
    model = quantus_model(subject.forward, from_grey)
    return (lambda: road.road_curve(subject.forward, grey, maps, labels, morf=True),
            lambda: metric(model=model, x_batch=x, y_batch=labels, a_batch=full[:, None], channel_first=True,
                           device="cpu"))


def fc_pair(subject, colour: np.ndarray, maps: np.ndarray, runs: int):
    """(ours, Quantus's): faithfulness correlation with `runs` subsets of 5% of the pixels, black fill."""
    import quantus

    from xai.metrics import faithfulness_correlation as fc, upsample

    classes = subject.forward(colour).argmax(-1)
    full = upsample(maps, colour.shape[1:3])
    h, w = colour.shape[1:3]
    size = max(1, round(fc.SUBSET_FRACTION * h * w))
    metric = quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=size, perturb_baseline=0.0,
                                            return_aggregate=False, disable_warnings=True)
    black = np.zeros(3, np.uint8)
    model = quantus_model(subject.forward, unpack)
    return (lambda: fc.faithfulness_correlation(subject.forward, colour, maps, classes, black, runs=runs),
            lambda: metric(model=model, x_batch=pack(colour), y_batch=classes, a_batch=full[:, None],
                           channel_first=True, softmax=True, device="cpu"))


def alternate(pair, repeats: int) -> dict[str, list[float]]:
    """Seconds of each side's `repeats` runs, `{"ours": [...], "quantus": [...]}`: one warm-up run
    each, then the two in turn (`bench.timing.interleaved_latency`: a slow spell of a shared host
    hits both)."""
    from ..timing import interleaved_latency

    ours, theirs = pair
    times = interleaved_latency({"ours": ours, "quantus": theirs}, rounds=repeats, iters=1, warmup=1)
    return {side: [ms / 1e3 for ms in t["round_p50"]] for side, t in times.items()}


def row(model: str, metric: str, seconds: dict[str, list[float]], images: int, image_size: int) -> dict:
    """One table row: images/s of each side from its median seconds, and ours / Quantus's (above 1:
    ours is faster)."""
    ours, quantus = (images / float(np.median(seconds[side])) for side in ("ours", "quantus"))
    return {"model": model, "metric": metric, "ours_ips": ours, "quantus_ips": quantus, "ratio": ours / quantus,
            "images": images, "image_size": image_size}


def measure(model: str, args) -> tuple[list[dict], dict]:
    """`model`'s two rows (road, faithfulness correlation) and each side's seconds per repeat."""
    subject, label, size, n = subject_of(model, args)
    grey, colour, maps = inputs(n, size, subject.grid)
    pairs = {"road (MoRF, 9 steps)": road_pair(subject, grey, maps),
             f"faithfulness-correlation ({args.runs} runs)": fc_pair(subject, colour, maps, args.runs)}
    seconds = {metric: alternate(pair, args.repeats) for metric, pair in pairs.items()}
    return [row(label, metric, s, n, size) for metric, s in seconds.items()], seconds


def settings(args) -> dict:
    """The run's settings, per model, as the header records them."""
    import torch

    found = {"vit": {"image_size": args.vit_size, "patch": args.vit_patch, "hidden": args.vit_hidden,
                     "layers": args.vit_layers, "images": args.vit_images, "weights": "random"},
             "linear": {"image_size": args.linear_size, "patch": args.linear_patch, "images": args.linear_images}}
    return {"models": {m: found[m] for m in args.models}, "runs": args.runs, "repeats": args.repeats,
            "torch_threads": torch.get_num_threads()}


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to `threads` (0: left as they are) while the block runs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def problems(args) -> list[str]:
    """Every setting that cannot run, each as one line."""
    sizes = {"vit": (args.vit_size, args.vit_patch), "linear": (args.linear_size, args.linear_patch)}
    return [f"--{m}-size {sizes[m][0]} is not a multiple of --{m}-patch {sizes[m][1]}"
            for m in args.models if sizes[m][0] % sizes[m][1]]


def checked_quantus():
    """Quantus, imported (a missing one is `_infra.extras`'s one-line install error), and of the
    version this comparison is written for."""
    import quantus

    from _infra.errors import ToolkitError

    if not quantus.__version__.startswith(f"{QUANTUS}."):
        raise ToolkitError(f"{NAME} compares with Quantus {QUANTUS}, found {quantus.__version__}: "
                           f'pip install "quantus>={QUANTUS},<0.7"')
    return quantus


def about(load: float, threads: int) -> str:
    """The header's note on the host (its cores are in the header's machine): its 1-minute `load`
    average before the run, and the torch `threads` both sides ran on."""
    shared = " (shared: other jobs ran beside this one)" if load >= 0.5 else ""
    return (f"1-minute load average {load:.1f} before the run{shared}; "
            f"{threads} torch thread{'s' if threads > 1 else ''}; absolute images/s follow the host's load, the "
            "ratios are measured side by side")


def run(args) -> dict:
    import os

    from _infra.errors import ToolkitError

    from . import shaped

    quantus = checked_quantus()  # both refusals before any work
    bad = problems(args)
    if bad:
        raise ToolkitError(*bad)
    load = os.getloadavg()[0]
    rows, seconds = [], {}
    with torch_threads(args.threads):
        for model in args.models:
            found, seconds[model] = measure(model, args)
            rows += found
        used = settings(args)
    header = {"what": "images/s of the same ROAD (MoRF) and faithfulness correlation, ours and Quantus's, on the same "
                      "model, images and maps; alternating sides, median of the repeats; ratio = ours / Quantus",
              "about": about(load, used["torch_threads"]), "quantus": quantus.__version__, **used, "seconds": seconds}
    return shaped(header, rows, columns())
