"""Images per second of our `road` and `faithfulness-correlation` against Quantus 0.6's `ROAD` and
`FaithfulnessCorrelation`, side by side in one run, on the same model, images and maps.

The work is the same on both sides (as in tests/test_xai_quantus.py): ROAD on grey images (Quantus 0.6
cannot index an RGB image with a one-channel map), MoRF at 10..90%, noise 0.01; faithfulness
correlation with pixels as features (Quantus sees each RGB pixel packed into one float), the same
number of runs and subset size, black fill. The model is a ViT with random weights behind one
forward (`xai.subjects.ModelSubject`), or with `--model linear` a linear map of the pixels that
costs next to nothing, so that each library's own work is what is timed. Each measurement
alternates ours and Quantus's `--repeats` times and keeps the median.

    python -m lab.quantus_speed --image-size 32 --images 32
    python -m lab.quantus_speed --image-size 224 --patch 16 --images 8 --model linear
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from xai.metrics import faithfulness_correlation as fc, road
from xai.subjects import ModelSubject


class LinearSubject:
    """Softmax of a fixed random linear map of the pixels: a forward that costs next to nothing."""

    def __init__(self, image_size: int, patch: int, classes: int = 10):
        self.grid = (image_size // patch,) * 2
        self.weights = np.random.default_rng(0).normal(0, 1e-3, (image_size * image_size * 3, classes))

    def forward(self, images: np.ndarray) -> np.ndarray:
        z = images.reshape(len(images), -1).astype(np.float64) @ self.weights
        e = np.exp(z - z.max(-1, keepdims=True))
        return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def vit_subject(image_size: int, hidden: int, layers: int, patch: int) -> ModelSubject:
    """A ViT classifier (10 classes, random weights, eager attention) behind our numpy forward."""
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(image_size=image_size, patch_size=patch, hidden_size=hidden, num_hidden_layers=layers,
                       num_attention_heads=max(1, hidden // 64), intermediate_size=4 * hidden, num_labels=10,
                       attn_implementation="eager")
    model = ViTForImageClassification(config).eval()
    grid = (image_size // patch,) * 2
    return ModelSubject(model, grid, 1, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), batch=64)


class Wrapped(torch.nn.Module):
    """Our forward behind Quantus's torch interface: input decoded to uint8 RGB, log-probabilities out."""

    def __init__(self, forward, decode):
        super().__init__()
        self.forward_np, self.decode = forward, decode
        self.eval()

    def forward(self, x):
        return torch.from_numpy(np.log(np.maximum(self.forward_np(self.decode(x.detach().double().numpy())), 1e-30)))


def from_grey(x: np.ndarray) -> np.ndarray:
    """`(B, 1, H, W)` in [0, 1] -> uint8 `(B, H, W, 3)`, rounded as our ROAD rounds."""
    return np.repeat((x[:, 0, :, :, None] * 255).round().clip(0, 255).astype(np.uint8), 3, axis=-1)


def pack(images: np.ndarray) -> np.ndarray:
    """uint8 `(B, H, W, 3)` -> `(B, 1, H, W)` float: R * 65536 + G * 256 + B (exact in float32)."""
    rgb = images.astype(np.int64)
    return (rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]).astype(np.float64)[:, None]


def unpack(x: np.ndarray) -> np.ndarray:
    v = np.rint(x[:, 0]).astype(np.int64)
    return np.stack([v // 65536, v // 256 % 256, v % 256], axis=-1).astype(np.uint8)


def inputs(n: int, size: int, grid: tuple[int, int], seed: int = 0):
    """uint8 grey and colour images `(n, size, size, 3)` and patch-grid maps `(n, gh, gw)`."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    colour = gaussian_filter(rng.random((n, size, size, 3)), (0, size / 16, size / 16, 0))
    colour = ((colour - colour.min()) / (colour.max() - colour.min()) * 255).round().astype(np.uint8)
    grey = np.repeat(colour[..., :1], 3, axis=-1)
    return grey, colour, rng.random((n, *grid)).astype(np.float32)


def road_pair(subject, grey, maps, labels):
    """(ours, Quantus's) as zero-argument callables over the same grey images and upsampled maps."""
    import quantus
    from xai.metrics import upsample

    full = upsample(maps, grey.shape[1:3])
    metric = quantus.ROAD(percentages=list(road.PERCENTAGES), noise=road.NOISE, disable_warnings=True)
    x = grey[..., :1].transpose(0, 3, 1, 2).astype(np.float64) / 255
    return (lambda: road.road_curve(subject.forward, grey, maps, labels, morf=True),
            lambda: metric(model=Wrapped(subject.forward, from_grey), x_batch=x, y_batch=labels,
                           a_batch=full[:, None], channel_first=True, device="cpu"))


def fc_pair(subject, colour, maps, classes, runs: int):
    import quantus
    from xai.metrics import upsample

    full = upsample(maps, colour.shape[1:3])
    h, w = colour.shape[1:3]
    size = max(1, round(fc.SUBSET_FRACTION * h * w))
    metric = quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=size, perturb_baseline=0.0,
                                            return_aggregate=False, disable_warnings=True)
    black = np.zeros(3, np.uint8)
    return (lambda: fc.faithfulness_correlation(subject.forward, colour, maps, classes, black, runs=runs),
            lambda: metric(model=Wrapped(subject.forward, unpack), x_batch=pack(colour), y_batch=classes,
                           a_batch=full[:, None], channel_first=True, softmax=True, device="cpu"))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, pair, n: int, repeats: int) -> dict:
    """Warm-up once each, then alternate; images/s from the median time of each side."""
    from tqdm.auto import tqdm

    ours, theirs = pair
    timed(ours), timed(theirs)
    times = {"ours": [], "quantus": []}
    for _ in tqdm(range(repeats), desc=name):
        times["ours"].append(timed(ours))
        times["quantus"].append(timed(theirs))
    return {side: n / float(np.median(t)) for side, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["vit", "linear"], default="vit")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--patch", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--runs", type=int, default=fc.RUNS, help="faithfulness-correlation subsets per image")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.image_size % args.patch:
        parser.error(f"--image-size {args.image_size} is not a multiple of --patch {args.patch}")
    warnings.filterwarnings("ignore")
    subject = (vit_subject(args.image_size, args.hidden, args.layers, args.patch) if args.model == "vit"
               else LinearSubject(args.image_size, args.patch))
    grey, colour, maps = inputs(args.images, args.image_size, subject.grid)
    rows = {"road (MoRF, 9 steps)": compare("road", road_pair(subject, grey, maps, subject.forward(grey).argmax(-1)),
                                            args.images, args.repeats),
            f"faithfulness-correlation ({args.runs} runs)": compare(
                "faithfulness-correlation", fc_pair(subject, colour, maps, subject.forward(colour).argmax(-1), args.runs),
                args.images, args.repeats)}
    model = f"ViT {args.layers} x {args.hidden}" if args.model == "vit" else "linear model"
    print(f"{model}, {args.image_size} px, patch {args.patch}, {args.images} images, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
    print("| metric | ours (images/s) | Quantus 0.6 (images/s) | ratio |\n| --- | --- | --- | --- |")
    for name, r in rows.items():
        print(f"| {name} | {r['ours']:.2f} | {r['quantus']:.2f} | {r['ours'] / r['quantus']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
