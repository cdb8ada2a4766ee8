"""The numpy Core ML reference executor on real architectures: parity with PyTorch and time per image.

1. A preset architecture (DeiT-tiny by default, random weights), Core ML fp32 and fp16: max |difference| of logits and
   rollout against PyTorch on generated images, and the executor's seconds per image.
2. With --checkpoint and --data: that checkpoint exported to Core ML fp16, on the data's test
   images: top-1 agreement with PyTorch and per-image rollout correlation."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

NAME = "coreml-reference"
SUMMARY = "the numpy Core ML reference executor against PyTorch: parity and seconds per image"
SMOKE = ["--preset", "demo", "--images", "2"]  # a seconds-long run, for the tests


def columns() -> list[dict]:
    from . import column

    return [column("model"), column("precision"), column("images"),
            column("top1_agreement", "top-1 agreement with PyTorch", digits=4),
            column("max_abs_logit_diff", "max logit diff", digits=4),
            column("max_abs_rollout_diff", "max rollout diff", digits=4),
            column("rollout_corr_mean", "rollout corr mean", digits=4),
            column("rollout_corr_min", "rollout corr min", digits=4),
            column("seconds_per_image", "executor", "s/image", 3)]


def add_arguments(parser) -> None:
    from ._setup import preset_choices

    parser.add_argument("--preset", default="deit-tiny", choices=preset_choices())
    parser.add_argument("--images", type=int, default=8, help="generated images for the DeiT-tiny rows")
    parser.add_argument("--checkpoint", default=None, help="also a trained checkpoint on --data's test images")
    parser.add_argument("--data", default=None, help="data source of --checkpoint (e.g. ../shared/data/cifar10-jpeg)")
    parser.add_argument("--data-images", type=int, default=200)


def agreement(checkpoint_dir: Path, images: np.ndarray, precision: str, work: Path) -> dict:
    from export import ExportConfig, export_model
    from export.parity import reference_outputs
    from runtime.backend import BACKENDS
    from runtime.checkpoint import load_checkpoint

    folder = work / f"{checkpoint_dir.name}-coreml-{precision}"
    manifest = export_model(checkpoint_dir, folder, ExportConfig(format="coreml", precision=precision,
                                                                 parity_images=1, force=True))
    backend = BACKENDS["coreml"](folder, manifest)
    start = time.perf_counter()
    got = backend.run(images)
    seconds = (time.perf_counter() - start) / len(images)
    ref = reference_outputs(load_checkpoint(checkpoint_dir), images, "rollout")
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(got["rollout"], ref["rollout"])]
    return {"precision": precision, "images": len(images), "backend": backend.label,
            "seconds_per_image": round(seconds, 3),
            "top1_agreement": float((got["logits"].argmax(-1) == ref["logits"].argmax(-1)).mean()),
            "max_abs_logit_diff": float(np.abs(got["logits"] - ref["logits"]).max()),
            "max_abs_rollout_diff": float(np.abs(got["rollout"] - ref["rollout"]).max()),
            "rollout_corr_mean": float(np.mean(corr)), "rollout_corr_min": float(np.min(corr))}


def test_images(data: str, size: tuple[int, int], n: int) -> np.ndarray:
    from finetune.data import load_data
    from runtime.images import resize_batch

    test = load_data(data).test.subset(n)
    return resize_batch([test[i][0] for i in range(len(test))], size, "bilinear")


def run(args) -> dict:
    from export.parity import parity_images

    from ._setup import preset_checkpoint

    from finetune.presets import PRESETS

    deit = preset_checkpoint(args.preset)
    size = (PRESETS[args.preset].image_size,) * 2
    rows = [dict(model=f"{args.preset} (random weights), generated images", **agreement(
        deit, parity_images(args.images, size, seed=5), p, deit.parent)) for p in ("fp32", "fp16")]
    if args.checkpoint:
        from runtime.checkpoint import load_checkpoint

        size = load_checkpoint(args.checkpoint).image_size
        rows.append(dict(model=f"{Path(args.checkpoint).name}, {Path(args.data).name} test images",
                         **agreement(Path(args.checkpoint), test_images(args.data, size, args.data_images), "fp16",
                                     deit.parent)))
    from . import shaped

    return shaped({"preset": args.preset}, rows, columns(), name="coreml_reference")
