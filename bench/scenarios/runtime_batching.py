"""Batching through `runtime.Predictor`: one `predict` of N images against N calls of one image,
ONNX Runtime fp32 with rollout, side by side in interleaved rounds."""
from __future__ import annotations

import numpy as np

NAME = "runtime-batching"
SUMMARY = "one predict() of N images vs N one-image calls (ONNX Runtime fp32, rollout)"
SMOKE = ["--preset", "demo", "--images", "4", "--rounds", "1"]  # a seconds-long run, for the tests


def columns() -> list[dict]:
    from ..targets import of
    from . import column

    return [column("preset", "model"), column("images"), column("batched_ms_per_image", "batched", "ms/image", 2),
            column("one_at_a_time_ms_per_image", "one at a time", "ms/image", 2), column("speedup", digits=2),
            *(column(t.verdict_key, t.label) for t in of(NAME))]


def add_arguments(parser) -> None:
    from ._setup import preset_choices

    parser.add_argument("--preset", default="deit-tiny", choices=preset_choices())
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)


def run(args) -> dict:
    from export import ExportConfig, export_model
    from runtime import load

    from ..targets import of
    from ..timing import interleaved_latency
    from . import shaped
    from ._setup import preset_checkpoint

    checkpoint = preset_checkpoint(args.preset)
    export_model(checkpoint, checkpoint.parent / "onnx", ExportConfig())
    predictor = load(checkpoint.parent / "onnx")
    size = predictor.manifest.image_size
    images = list(np.random.default_rng(0).integers(0, 256, (args.images, *size, 3), dtype=np.uint8))
    times = interleaved_latency({"batched": lambda: predictor.predict(images),
                                 "one at a time": lambda: [predictor.predict(im) for im in images]},
                                rounds=args.rounds, iters=1, warmup=1)
    per_image = {k: v["p50"] / args.images for k, v in times.items()}
    speedup = per_image["one at a time"] / per_image["batched"]
    row = {"preset": args.preset, "images": args.images, "batched_ms_per_image": per_image["batched"],
           "one_at_a_time_ms_per_image": per_image["one at a time"], "speedup": speedup}
    return shaped({"preset": args.preset, "images": args.images, "rounds": args.rounds}, [row], columns(), of(NAME),
                  name="runtime_batching" + ("" if args.preset == "deit-tiny" else f"_{args.preset}"))
