"""Cost of a class-specific explanation on the device: the in-graph backward pass. The three ONNX
graphs of one checkpoint (`--explain none`, `rollout`, `gradrollout`), batch 1, ONNX Runtime fp32,
timed side by side in interleaved rounds. Target: gradrollout at most 3x the latency of none."""
from __future__ import annotations

import numpy as np

NAME = "gradrollout-latency"
SUMMARY = "latency of --explain none / rollout / gradrollout ONNX graphs at batch 1 (target: gradrollout <= 3x none)"
SMOKE = ["--preset", "demo", "--rounds", "1", "--iters", "2"]  # a seconds-long run, for the tests
EXPLAINS = ("none", "rollout", "gradrollout")
TARGET_RATIO = 3.0


def add_arguments(parser) -> None:
    from ._setup import preset_choices

    parser.add_argument("--preset", default="deit-tiny", choices=preset_choices())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iters", type=int, default=20)


def run(args) -> dict:
    from export import ExportConfig, export_model
    from runtime.onnx import OnnxBackend

    from ..timing import interleaved_latency, machine_info
    from ._setup import preset_checkpoint

    checkpoint = preset_checkpoint(args.preset)
    runners, sizes, parity = {}, {}, {}
    for explain in EXPLAINS:
        folder = checkpoint.parent / explain
        manifest = export_model(checkpoint, folder, ExportConfig(explain=explain))
        image = np.random.default_rng(0).integers(0, 256, (1, *manifest.image_size, 3), dtype=np.uint8)
        backend = OnnxBackend(folder, manifest, threads=args.threads)
        runners[explain] = (lambda b=backend, x=image: b.run(x))
        sizes[explain] = round((folder / manifest.model_file).stat().st_size / 1e6, 2)
        parity[explain] = {k: v["max_abs_diff"] for k, v in manifest.parity["outputs"].items()}
    times = interleaved_latency(runners, rounds=args.rounds, iters=args.iters)
    p50 = {k: v["p50"] for k, v in times.items()}
    ratios = {"gradrollout / none": p50["gradrollout"] / p50["none"], "rollout / none": p50["rollout"] / p50["none"]}
    return {"name": "gradrollout_latency", "preset": args.preset, "threads": args.threads, "batch": 1,
            "machine": machine_info(), "latency_ms": times, "ratios": ratios, "size_mb": sizes,
            "parity_max_abs_diff": parity, "target": f"gradrollout / none <= {TARGET_RATIO}",
            "met": ratios["gradrollout / none"] <= TARGET_RATIO,
            "rows": [{"graph": n, "p50 ms": t["p50"], "p90 ms": t["p90"], "ratio to none": t["p50"] / p50["none"],
                      "size MB": sizes[n]} for n, t in times.items()]}
