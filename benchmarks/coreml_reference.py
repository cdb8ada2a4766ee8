"""The numpy Core ML reference executor on real architectures: parity with PyTorch and time per image.

    python benchmarks/coreml_reference.py [--images 8] [--cifar-checkpoint runs/cifar-tiny --cifar-images 200]

1. DeiT-tiny architecture (random weights), Core ML fp32 and fp16: max |difference| of logits and
   rollout against PyTorch on generated images, and the executor's seconds per image.
2. With --cifar-checkpoint: that checkpoint exported to Core ML fp16, on CIFAR-10 test images
   (../shared/data/cifar10-jpeg): top-1 agreement with PyTorch and per-image rollout correlation.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from export import ExportConfig, export_model  # noqa: E402
from export.parity import parity_images, reference_outputs  # noqa: E402
from finetune.models import write_preset  # noqa: E402
from finetune.presets import PRESETS  # noqa: E402
from runtime.backend import BACKENDS  # noqa: E402
from runtime.checkpoint import load_checkpoint  # noqa: E402


def agreement(checkpoint_dir: Path, images: np.ndarray, precision: str, work: Path) -> dict:
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


def cifar_images(n: int) -> np.ndarray:
    from finetune.data import load_data

    test = load_data(str(Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg")).test
    return np.stack([np.asarray(test[i][0], dtype=np.uint8) for i in range(n)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--cifar-checkpoint", default=None)
    parser.add_argument("--cifar-images", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/coreml_reference.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="coreml-reference-"))
    deit = work / "deit-tiny"
    write_preset(PRESETS["deit-tiny"], deit, [f"class_{i}" for i in range(10)], init="hf")
    rows = [dict(model="deit-tiny (random weights), generated images", **agreement(
        deit, parity_images(args.images, (224, 224), seed=5), p, work)) for p in ("fp32", "fp16")]
    if args.cifar_checkpoint:
        images = cifar_images(args.cifar_images)
        rows.append(dict(model=f"{Path(args.cifar_checkpoint).name}, CIFAR-10 test images",
                         **agreement(Path(args.cifar_checkpoint), images, "fp16", work)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    print("| model | precision | images | top-1 agreement | max logit diff | max rollout diff | rollout corr (mean / min) | s/image |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['model']} | {r['precision']} | {r['images']} | {r['top1_agreement']:.4f} | "
              f"{r['max_abs_logit_diff']:.2e} | {r['max_abs_rollout_diff']:.2e} | "
              f"{r['rollout_corr_mean']:.4f} / {r['rollout_corr_min']:.4f} | {r['seconds_per_image']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
