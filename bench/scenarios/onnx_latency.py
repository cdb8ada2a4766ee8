"""Batch-1 CPU latency of our ONNX graphs against every peer, interleaved in one run.

Rows: ours (`none`, `rollout`, `gradrollout`; fp32 and int8) on ONNX Runtime; the same fp32
graphs on OpenVINO; optimum's image-classification export plain (fp32, `--avx2` dynamic int8)
and through its ONNX Runtime optimizer (-O2, -O3) on ONNX Runtime, its fp32 graph on OpenVINO;
and the GEMM floor (`gemm_floor`: only the model's products) at fp32 and int8. Ours take the
uint8 image and normalise inside the graph; optimum's get pixels normalised beforehand,
outside the timed call. Ratios: to the floor of the same precision, to optimum's plain graph
of the same precision and runtime, and the issue's targets in NAME-targets.json. A target's ratio in one
timing is paired round by round (the median over rounds of the two rows' per-round p50 ratio), so
a slow spell of a shared host that lasts seconds hits both rows of a pair. With `--repeat K` the
interleaved timing runs K times in the process: each row's p50 is the median of the K p50s, and
each target gives the median of its K paired ratios with their range and how many repeats met it
(on a shared host one run's ratio moves by 10% or more).

Two-thread scaling: the row `ours none fp32 1 thread` times our graph on one thread beside the
same graph on the run's threads; per repeat, their paired ratio says how much the second thread
bought while that repeat ran. A shared host that places the two CPUs far apart (lab/host_state.py)
slows two-thread transformer graphs by about half while one thread and chains of large products
barely move, so each target is also given over the repeats whose scaling was at most
`SCALED_AT_MOST` (the host's usual state), next to its median over all of them.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAME = "onnx-latency"
DEFAULT_PRESET = "deit-tiny"
SUMMARY = ("batch-1 latency: ours (none/rollout/gradrollout, fp32/int8) vs optimum plain/-O2/-O3/int8, "
           "ONNX Runtime and OpenVINO, with ratios to the GEMM floor")


@dataclass(frozen=True)
class Graph:
    """One timed row: whose graph, on which runtime."""

    source: str  # "ours", "optimum" or "floor"
    runtime: str  # "onnx" (ONNX Runtime) or "openvino"
    precision: str = "fp32"
    explain: str = "none"  # ours: the explain kind; others: "none"
    optimize: str | None = None  # optimum: "O2" / "O3"
    threads: int | None = None  # intra-op threads of this row (None: the run's --threads)

    @property
    def name(self) -> str:
        variant = self.explain if self.source == "ours" else (self.optimize or "")
        parts = [self.source, variant, self.precision] + (["openvino"] if self.runtime == "openvino" else [])
        if self.threads is not None:
            parts.append(f"{self.threads} thread" + ("s" if self.threads > 1 else ""))
        return " ".join(p for p in parts if p)


ONE_THREAD = Graph("ours", "onnx", "fp32", "none", threads=1)  # against ours none on the run's threads: scaling
GRAPHS = {g.name: g for g in [
    *(Graph("ours", "onnx", p, e) for p in ("fp32", "int8") for e in ("none", "rollout", "gradrollout")),
    *(Graph("ours", "openvino", "fp32", e) for e in ("none", "rollout", "gradrollout")),
    Graph("optimum", "onnx", "fp32"), Graph("optimum", "onnx", "int8"),
    Graph("optimum", "onnx", "fp32", optimize="O2"), Graph("optimum", "onnx", "fp32", optimize="O3"),
    Graph("optimum", "openvino", "fp32"),
    Graph("floor", "onnx", "fp32"), Graph("floor", "onnx", "int8"),
    ONE_THREAD,
]}
# the ratios: label -> (numerator row, denominator row); their limits are in bench.targets
RATIOS = {"rollout overhead fp32": ("ours rollout fp32", "ours none fp32"),
          "rollout overhead int8": ("ours rollout int8", "ours none int8"),
          "ours rollout fp32 / optimum fp32": ("ours rollout fp32", "optimum fp32"),
          "ours rollout fp32 / optimum O2 fp32": ("ours rollout fp32", "optimum O2 fp32"),
          "ours rollout fp32 / optimum O3 fp32": ("ours rollout fp32", "optimum O3 fp32"),
          "ours rollout int8 / optimum int8": ("ours rollout int8", "optimum int8"),
          "ours none fp32 / gemm floor fp32": ("ours none fp32", "floor fp32")}
SCALING = (Graph("ours", "onnx", "fp32", "none").name, ONE_THREAD.name)  # two-thread scaling: this over that
SCALED_AT_MOST = 0.75  # a repeat counts as the host's usual state when the run's threads took at most
# this fraction of one thread's time (measured here: 0.6 usual, 0.85-0.9 with the CPUs far apart)


def checkpoint_for(preset: str, work: Path) -> Path:
    """The preset at seeded random weights (hf init), written once into `work`."""
    from ._setup import preset_checkpoint

    folder = work / f"checkpoint-{preset}"
    return folder if (folder / "model.safetensors").is_file() else preset_checkpoint(preset, folder.parent, folder.name)


def ours_runner(graph: Graph, checkpoint: Path, work: Path, image: np.ndarray, threads: int):
    """Export (reused when made from the same weights and options) and a runner on `graph.runtime`."""
    from dataclasses import replace

    from export import ExportConfig, export_model
    from runtime.backend import BACKENDS
    from runtime.manifest import read_manifest

    from ..run import reusable

    cfg = ExportConfig(precision=graph.precision, explain=graph.explain, parity_images=1)
    folder = work / f"ours-{graph.explain}-{graph.precision}"
    if not reusable(folder, checkpoint, cfg):
        export_model(checkpoint, folder, replace(cfg, force=True))
    backend = BACKENDS[graph.runtime](folder, read_manifest(folder), threads=threads)
    return (lambda: backend.run(image)), folder / backend.manifest.model_file


def optimum_runner(graph: Graph, checkpoint: Path, work: Path, image: np.ndarray, threads: int):
    from runtime.checkpoint import load_checkpoint, weights_sha256

    from ..peers import OptimumRunner, export_optimum

    folder = work / f"optimum-{graph.optimize or graph.precision}"
    model = export_optimum(checkpoint, folder, graph.precision, weights_sha256(checkpoint), graph.optimize)
    facts = load_checkpoint(checkpoint)
    runner = OptimumRunner(model, facts.mean, facts.std, threads=threads, runtime=graph.runtime)
    pixels = runner.pixels(image)
    return (lambda: runner.logits(pixels)), model


def floor_runner(graph: Graph, preset: str, work: Path, threads: int):
    from finetune.presets import PRESETS

    from .gemm_floor import floor_runner as make

    return make(PRESETS[preset], work, graph.precision, threads)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from finetune.presets import PRESETS

    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=list(PRESETS),
                        help=f"results go to {NAME}.json for {DEFAULT_PRESET}, {NAME}-PRESET.json for another")
    parser.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=list(GRAPHS), metavar="GRAPH",
                        help=f"rows to time (default: all): {', '.join(repr(g) for g in GRAPHS)}")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of every runtime")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1, help="independent interleaved timings in one run")
    parser.add_argument("--work", default="bench-work/onnx-latency", help="exports (one folder per preset), "
                        "reused between runs")


def make_runners(names: list[str], preset: str, work: Path, threads: int) -> tuple[dict, dict, dict]:
    """name -> runner, name -> size in MB, name -> model file, for every graph in `names`."""
    from finetune.presets import PRESETS

    size = PRESETS[preset].image_size
    image = np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    checkpoint = checkpoint_for(preset, work)
    runners, sizes, models = {}, {}, {}
    for name in names:
        graph = GRAPHS[name]
        if graph.source == "ours":
            runners[name], model = ours_runner(graph, checkpoint, work, image, graph.threads or threads)
        elif graph.source == "optimum":
            runners[name], model = optimum_runner(graph, checkpoint, work, image, threads)
        else:
            runners[name], model = floor_runner(graph, preset, work, threads)
        sizes[name], models[name] = round(model.stat().st_size / 1e6, 2), model
    return runners, sizes, models


def ratio_rows(p50: dict[str, float], sizes: dict[str, float]) -> list[dict]:
    """One row per graph: latency and its ratios to the floor and to optimum's plain graph."""
    rows = []
    for name, ms in p50.items():
        graph = GRAPHS[name]
        row = {"graph": name, "runtime": graph.runtime, "precision": graph.precision, "p50_ms": round(ms, 3)}
        if graph.threads is not None:  # against rows timed on other threads, no ratio
            rows.append({**row, "threads": graph.threads, "size_mb": sizes[name]})
            continue
        floor = p50.get(f"floor {graph.precision}")
        peer = GRAPHS.get(Graph("optimum", graph.runtime, graph.precision).name)
        if floor:
            row["x_floor"] = round(ms / floor, 3)
        if peer is not None and peer.name in p50 and graph.source != "floor":
            row["x_optimum"] = round(ms / p50[peer.name], 3)
        rows.append({**row, "size_mb": sizes[name]})
    return rows


def paired_ratio(times: dict[str, dict], a: str, b: str) -> float:
    """Row a over row b in one interleaved timing: the median over its rounds of the two rows'
    per-round p50 ratio (each round times b a fraction of a second after a)."""
    return float(np.median(np.divide(times[a]["round_p50"], times[b]["round_p50"])))


def scaling(repeats: list[dict[str, dict]]) -> list[float] | None:
    """Per repeat, ours none on the run's threads over the same graph on one thread (paired), or
    None when the run timed only one of the two."""
    if not all(name in repeats[0] for name in SCALING):
        return None
    return [round(paired_ratio(times, *SCALING), 3) for times in repeats]


def target_ratios(repeats: list[dict[str, dict]], scaled: list[float] | None = None) -> list[dict]:
    """One row per target (bench.targets) whose two rows were timed: per repeat its paired ratio,
    then the median of those (judged: `met`), their range, and how many repeats met it. With
    `scaled` (per repeat two-thread scaling), also the median over the repeats that scaled (at most
    `SCALED_AT_MOST`), its verdict and how many of those met it (`usual_*`, None when none scaled)."""
    from ..targets import of, judge

    targets = {t.what: t for t in of(NAME)}
    out = []
    for label, (a, b) in RATIOS.items():
        if a not in repeats[0] or b not in repeats[0]:
            continue
        target = targets[label]
        ratios = [paired_ratio(times, a, b) for times in repeats]
        row = {"ratio": label, "limit": target.limit, "value": round(float(np.median(ratios)), 3),
               "low": round(min(ratios), 3), "high": round(max(ratios), 3),
               "met_in": f"{sum(target.judge(r) == 'met' for r in ratios)}/{len(ratios)}",
               "per_repeat": [round(r, 3) for r in ratios]}
        if scaled is not None:
            usual = [r for r, s in zip(ratios, scaled) if s <= SCALED_AT_MOST]
            row.update(usual_value=round(float(np.median(usual)), 3) if usual else None,
                       usual_met=target.judge(float(np.median(usual))) if usual else None,
                       usual_met_in=f"{sum(target.judge(r) == 'met' for r in usual)}/{len(usual)}" if usual else None)
        out.append(row)
    return judge(out, list(targets.values()))


def columns() -> list[dict]:
    from . import column

    return [column("graph"), column("runtime"), column("p50_ms", "p50", "ms", 3),
            column("x_floor", "x floor", digits=3),
            column("x_optimum", "x optimum (same precision, runtime)", digits=3), column("size_mb", "size", "MB", 2)]


def target_columns(repeat: int, threads: int) -> list[dict]:
    from . import column

    usual = f"where {threads} threads scaled (<= {SCALED_AT_MOST}x 1 thread)"
    return [column("ratio"), column("limit", "at most"), column("value", f"median of {repeat}", digits=3),
            column("low", "lowest", digits=3), column("high", "highest", digits=3), column("met", "met (median)"),
            column("met_in", "repeats that met it"), column("usual_value", f"median {usual}", digits=3),
            column("usual_met", "met there"), column("usual_met_in", "repeats there")]


def targets_results(name: str, args, repeats: list[dict], scaled: list[float] | None) -> dict:
    """The ratio targets of the run, as results of their own (NAME-targets.json)."""
    from ..targets import of
    from . import shaped

    about = None if scaled is None else (f"two-thread scaling per repeat ({SCALING[0]} on {args.threads} threads "
                                         f"over 1 thread): " + ", ".join(f"{v:.2f}" for v in scaled))
    header = {"preset": args.preset, "threads": args.threads, "repeat": args.repeat, "scaling_per_repeat": scaled,
              "scaled_at_most": SCALED_AT_MOST, **({"about": about} if about else {})}
    rows = target_ratios(repeats, scaled)
    return shaped(header, rows, target_columns(args.repeat, args.threads), of(NAME), name=f"{name}-targets")


def run(args) -> dict:
    from ..timing import interleaved_latency
    from . import shaped

    work = Path(args.work) / args.preset
    runners, sizes, _ = make_runners(args.graphs, args.preset, work, args.threads)
    repeats = [interleaved_latency(runners, rounds=args.rounds, iters=args.iters, warmup=3)
               for _ in range(args.repeat)]
    scaled = scaling(repeats) if args.threads > 1 else None  # on one thread there is nothing to scale
    p50s = [{name: t["p50"] for name, t in times.items()} for times in repeats]
    p50 = {name: float(np.median([p[name] for p in p50s])) for name in runners}
    header = {"preset": args.preset, "threads": args.threads, "batch": 1, "rounds": args.rounds,
              "iters": args.iters, "repeat": args.repeat, "latency_ms": repeats[-1] if args.repeat == 1 else
              {name: {"p50_per_repeat": [round(p[name], 3) for p in p50s]} for name in runners}}
    if args.repeat > 1:
        header["about"] = f"{args.repeat} repeats (p50: the median of the repeats' p50s)"
    name = NAME if args.preset == DEFAULT_PRESET else f"{NAME}-{args.preset}"  # one results file per preset
    return shaped(header, ratio_rows(p50, sizes), columns(), name=name,
                  also=[targets_results(name, args, repeats, scaled)])
