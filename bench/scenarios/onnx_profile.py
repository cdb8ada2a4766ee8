"""Where the time of an ONNX Runtime graph goes: kernel time per op type per call, from ONNX
Runtime's own profiler, for any ONNX Runtime rows of `onnx-latency` (ours, optimum's, the GEMM
floor) on the same exports, the graphs' calls interleaved in turns as the latency scenario does.
The profiler adds a few microseconds per node, so the wall time per call is higher than
`onnx-latency`'s; what the table is for is the split: products against everything else, and
which ops the rest is.
"""
from __future__ import annotations

import argparse
import bisect
import json
import tempfile
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

NAME = "onnx-profile"
SUMMARY = "ONNX Runtime profiler: kernel ms per op type per call of ours, optimum's graphs and the GEMM floor"
SMOKE = ["--preset", "demo", "--calls", "2", "--graphs", "ours none fp32", "floor fp32"]
DEFAULT_GRAPHS = ["ours none fp32", "ours rollout fp32", "optimum fp32", "optimum O2 fp32", "floor fp32"]
TURNS, WARMUP = 4, 5  # interleaved turns of calls per graph; warm-up calls per graph, left out of the profile
SHOWN = 12  # op types with a row of their own, by kernel time summed over the graphs; the rest in one row
PRODUCTS = ("Gemm", "MatMul", "FusedMatMul", "MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "Conv")


def _runs(events: list[dict]) -> list[dict]:
    return sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                  key=lambda e: e["ts"])


def op_times(events: list[dict], skip: int = 0) -> dict[str, dict[str, float]]:
    """ONNX Runtime profiler events -> `{op type: {"ms": kernel ms per call, "nodes": nodes per call}}`,
    each the median over the `model_run`s after the first `skip` (warm-up) of that run's sum."""
    runs = _runs(events)[skip:]
    if not runs:
        raise ValueError(f"the profile holds no model_run after the first {skip}")
    starts = [r["ts"] for r in runs]
    micros: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(runs))
    nodes: dict[str, list[int]] = defaultdict(lambda: [0] * len(runs))
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        i = bisect.bisect_right(starts, e["ts"]) - 1
        if i >= 0 and e["ts"] <= runs[i]["ts"] + runs[i]["dur"]:
            micros[e["args"]["op_name"]][i] += e["dur"]
            nodes[e["args"]["op_name"]][i] += 1
    return {op: {"ms": float(np.median(micros[op])) / 1e3, "nodes": float(np.median(nodes[op]))} for op in micros}


def profile(graphs: dict[str, tuple[Path, Callable[[list[str]], dict]]], threads: int, calls: int,
            rounds: int = TURNS, warmup: int = WARMUP) -> dict[str, dict]:
    """Profile every `name -> (model file, feed from its input names)` with ONNX Runtime's profiler on
    (the toolkit's session options), interleaved: `rounds` turns of `calls // rounds` calls per
    graph, after `warmup` calls each."""
    from runtime.onnx import session

    per_turn = max(1, calls // rounds)
    with tempfile.TemporaryDirectory() as tmp:
        sessions = {name: session(path, threads, profile_prefix=str(Path(tmp) / f"profile{i}"))
                    for i, (name, (path, _)) in enumerate(graphs.items())}
        feeds = {name: graphs[name][1]([i.name for i in sess.get_inputs()]) for name, sess in sessions.items()}
        for name, sess in sessions.items():
            for _ in range(warmup):
                sess.run(None, feeds[name])
        for _ in range(rounds):
            for name, sess in sessions.items():
                for _ in range(per_turn):
                    sess.run(None, feeds[name])
        events = {name: json.loads(Path(sess.end_profiling()).read_text()) for name, sess in sessions.items()}
    out = {}
    for name, evs in events.items():
        ops = op_times(evs, skip=warmup)
        out[name] = {"ops": ops, "kernel_ms": sum(v["ms"] for v in ops.values()),
                     "products_ms": sum(v["ms"] for op, v in ops.items() if op in PRODUCTS),
                     "run_ms": float(np.median([e["dur"] for e in _runs(evs)[warmup:]])) / 1e3}
    return out


def feed_for(graph, preset: str, work: Path, session_inputs: list[str]) -> dict[str, np.ndarray]:
    """The input a graph of `onnx-latency` is timed with: ours the uint8 image (and class -1 for
    gradrollout), optimum's graphs the pixels normalised as the checkpoint says, the floor its operands."""
    from finetune.presets import PRESETS
    from runtime.checkpoint import load_checkpoint

    from ..peers import OptimumRunner
    from .gemm_floor import floor_inputs
    from .onnx_latency import checkpoint_for

    p = PRESETS[preset]
    if graph.source == "floor":
        return floor_inputs(p)
    image = np.random.default_rng(0).integers(0, 256, (1, p.image_size, p.image_size, 3), dtype=np.uint8)
    if graph.source == "optimum":
        facts = load_checkpoint(checkpoint_for(preset, work))
        return {session_inputs[0]: OptimumRunner.normalise(image, facts.mean, facts.std)}
    feed = {session_inputs[0]: image}
    if len(session_inputs) > 1:
        feed[session_inputs[1]] = np.full(1, -1, dtype=np.int64)
    return feed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from finetune.presets import PRESETS

    from .onnx_latency import GRAPHS

    onnx_rows = [n for n, g in GRAPHS.items() if g.runtime == "onnx" and g.threads is None]  # one --threads
    parser.add_argument("--preset", default="deit-tiny", choices=list(PRESETS))
    parser.add_argument("--graphs", nargs="+", default=DEFAULT_GRAPHS, choices=onnx_rows, metavar="GRAPH",
                        help=f"ONNX Runtime rows of onnx-latency (default: {', '.join(DEFAULT_GRAPHS)})")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--calls", type=int, default=40, help=f"profiled calls per graph, in {TURNS} interleaved turns "
                        f"(after {WARMUP} warm-up calls, left out)")
    parser.add_argument("--work", default="bench-work/onnx-latency", help="exports, shared with onnx-latency")


def columns(graphs: list[str]) -> list[dict]:
    from . import column

    return [column("op"), *(c for g in graphs for c in (column(g, g, "ms", 2), column(f"{g} nodes", f"{g} nodes")))]


def op_rows(graphs: dict[str, dict]) -> list[dict]:
    """One row per op type, by kernel time summed over the graphs: ms and nodes per call per graph."""
    order = sorted({op for g in graphs.values() for op in g["ops"]},
                   key=lambda op: -sum(g["ops"].get(op, {}).get("ms", 0.0) for g in graphs.values()))
    return [{"op": op, **{name: round(g["ops"][op]["ms"], 3) if op in g["ops"] else None for name, g in graphs.items()},
             **{f"{name} nodes": g["ops"][op]["nodes"] if op in g["ops"] else None for name, g in graphs.items()}}
            for op in order]


def summary_rows(rest: list[dict], graphs: dict[str, dict]) -> list[dict]:
    """The op types beyond `SHOWN` in one row, then all kernels, the products, the rest, the call."""
    rows = [{"op": f"{len(rest)} other op types", **{g: sum(r[g] or 0 for r in rest) for g in graphs}}]
    for label, value in (("**all kernels**", lambda g: g["kernel_ms"]),
                         ("products (Gemm, MatMul, FusedMatMul, Conv)", lambda g: g["products_ms"]),
                         ("**outside the products**", lambda g: g["kernel_ms"] - g["products_ms"]),
                         ("call (profiler on)", lambda g: g["run_ms"])):
        rows.append({"op": label, **{name: value(g) for name, g in graphs.items()}})
    return rows


def run(args) -> dict:
    from . import shaped
    from .onnx_latency import GRAPHS, make_runners

    work = Path(args.work) / args.preset
    _, _, models = make_runners(args.graphs, args.preset, work, args.threads)
    graphs = profile({name: (models[name], partial(feed_for, GRAPHS[name], args.preset, work)) for name in args.graphs},
                     args.threads, args.calls)
    ops = op_rows(graphs)
    header = {"preset": args.preset, "threads": args.threads, "batch": 1, "calls": args.calls,
              "graphs": {name: {k: round(v, 3) if isinstance(v, float) else v for k, v in g.items() if k != "ops"}
                         for name, g in graphs.items()},
              "other_ops": ops[SHOWN:], "about": f"per call the median over {args.calls} profiled calls, interleaved"}
    return shaped(header, ops[:SHOWN] + summary_rows(ops[SHOWN:], header["graphs"]), columns(list(graphs)))
