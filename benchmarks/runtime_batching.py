"""Batching through `runtime.Predictor`: one `predict` of 64 images against 64 calls of one image,
ONNX Runtime fp32, measured side by side with interleaved rounds.

    python benchmarks/runtime_batching.py [--preset deit-tiny] [--images 64] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import interleaved_latency, machine_info  # noqa: E402
from export import ExportConfig, export_model  # noqa: E402
from finetune.models import write_preset  # noqa: E402
from finetune.presets import PRESETS  # noqa: E402
from runtime import load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="deit-tiny", choices=list(PRESETS))
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/runtime_batching.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="runtime-batching-"))
    write_preset(PRESETS[args.preset], work / "checkpoint", [f"class_{i}" for i in range(10)], init="hf")
    export_model(work / "checkpoint", work / "onnx", ExportConfig())
    predictor = load(work / "onnx")
    size = PRESETS[args.preset].image_size
    images = list(np.random.default_rng(0).integers(0, 256, (args.images, size, size, 3), dtype=np.uint8))
    times = interleaved_latency({"batched": lambda: predictor.predict(images),
                                 "one at a time": lambda: [predictor.predict(im) for im in images]},
                                rounds=args.rounds, iters=1, warmup=1)
    per_image = {k: v["p50"] / args.images for k, v in times.items()}
    result = {"preset": args.preset, "images": args.images, "machine": machine_info(),
              "ms_per_image": per_image, "speedup": per_image["one at a time"] / per_image["batched"]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{args.preset}, {args.images} images, ONNX Runtime fp32 with rollout: "
          f"batched {per_image['batched']:.2f} ms/image, one at a time {per_image['one at a time']:.2f} ms/image, "
          f"speedup {result['speedup']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
