"""Cost of a class-specific explanation on the device: the in-graph backward pass. The three ONNX
graphs of one checkpoint (`--explain none`, `rollout`, `gradrollout`), batch 1, ONNX Runtime fp32,
timed side by side in interleaved rounds. Target (bench.targets): gradrollout at most 3x the latency of none."""
from __future__ import annotations

import numpy as np

from . import column

NAME = "gradrollout-latency"
SUMMARY = "latency of --explain none / rollout / gradrollout ONNX graphs at batch 1 (target: gradrollout <= 3x none)"
SMOKE = ["--preset", "demo", "--rounds", "1", "--iters", "2"]  # a seconds-long run, for the tests
EXPLAINS = ("none", "rollout", "gradrollout")


def columns() -> list[dict]:
    from ..targets import of

    return [column("graph", "`--explain`"), column("p50_ms", "p50", "ms", 2), column("p90_ms", "p90", "ms", 2),
            column("ratio_to_none", "ratio to `none`", digits=2), column("size_mb", "size", "MB", 2),
            column("parity_output", "output compared with PyTorch"),
            column("parity_max_abs_diff", "max diff vs PyTorch", digits=1),
            *(column(t.verdict_key, t.label) for t in of(NAME))]


def add_arguments(parser) -> None:
    from ._setup import preset_choices

    parser.add_argument("--preset", default="deit-tiny", choices=preset_choices())
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--iters", type=int, default=20)


def rows_of(times: dict, sizes: dict, parity: dict) -> list[dict]:
    """One row per graph: latency, its ratio to `none`, size, and the max difference from PyTorch of
    its map output (runtime.contract's heatmap output of the kind; logits for `none`)."""
    from runtime.contract import EXPLAIN

    rows = []
    for kind, t in times.items():
        output = EXPLAIN[kind].heatmap or "logits"
        rows.append({"graph": kind, "p50_ms": t["p50"], "p90_ms": t["p90"],
                     "ratio_to_none": t["p50"] / times["none"]["p50"], "size_mb": sizes[kind], "parity_output": output, "parity_max_abs_diff": parity[kind][output]})
    return rows


def run(args) -> dict:
    from export import ExportConfig, export_model
    from runtime.onnx import OnnxBackend

    from ..targets import of
    from ..timing import interleaved_latency
    from . import shaped
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
    header = {"preset": args.preset, "threads": args.threads, "batch": 1, "latency_ms": times,
              "parity_max_abs_diff": parity, "about": f"`{args.preset}` at random weights"}
    return shaped(header, rows_of(times, sizes, parity), columns(), of(NAME), name="gradrollout_latency")
