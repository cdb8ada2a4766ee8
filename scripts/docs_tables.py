"""The documents' tables, generated: from the code's registries and from the committed results JSON.

A table sits in README.md or docs/*.md between two markers,

    <!-- table:NAME -->
    ...generated Markdown...
    <!-- /table:NAME -->

and `TABLES[NAME](results)` makes its content. Run from the repository root:

    python -m scripts.docs_tables            # rewrite every table in place
    python -m scripts.docs_tables --check    # exit 1 and list every stale or unknown table

A table is added by writing its function and registering it with `@table("NAME")`.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = "benchmarks/results"  # relative to the repository root
MARKER = re.compile(r"<!-- table:(?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- /table:(?P=name) -->", re.DOTALL)
OPENING = re.compile(r"<!-- (/?)table:([\w.-]+) -->")

# Targets the measured figures are held to (the tables say "met" or "not met").
INT8_ACCURACY_POINTS = 0.01  # int8 accuracy within 1 point of fp32
INT8_AGREEMENT = 0.98  # top-1 agreement of int8 with PyTorch
FP16_AGREEMENT = 0.995  # top-1 agreement of fp16 with PyTorch
FP32_HEATMAP_CORR = 0.99  # heatmap Pearson correlation with PyTorch's, fp32
INT8_HEATMAP_CORR = 0.95  # the same at int8
EXPLAIN_OVERHEAD = 1.05  # in-graph rollout latency over the same graph without it
PEER_RATIO = 1.10  # our graph with its heatmap over optimum's logits-only graph
BATCHING_SPEEDUP = 1.5  # one predict of 64 images over 64 one-image calls


class Results:
    """The committed results JSON of a folder, by file stem, loaded on first use."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._loaded: dict[str, object] = {}

    def __getitem__(self, stem: str):
        if stem not in self._loaded:
            self._loaded[stem] = json.loads((self.folder / f"{stem}.json").read_text())
        return self._loaded[stem]

    @property
    def used(self) -> set[str]:
        """The stems read so far."""
        return set(self._loaded)

    def source(self, stem: str) -> str:
        return f"`{RESULTS_DIR}/{stem}.json`"


TABLES: dict[str, Callable[[Results], str]] = {}


def table(name: str):
    """Register `fn(results) -> markdown` as the generator of table NAME."""
    def register(fn):
        from _infra.registry import add_unique

        return add_unique(TABLES, name, fn, "docs table")
    return register


def markdown(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of already formatted cells -> a Markdown table (bench's one table formatter)."""
    from bench.scenarios import format_rows

    return format_rows(rows, columns)


def fmt(value, digits: int = 4) -> str:
    """Fixed `digits` decimals; tiny non-zero values in 2-digit scientific notation; None -> ''."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.1e}" if value and abs(value) < 1e-3 else f"{value:.{digits}f}"
    return str(value)


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def machine_line(header: dict) -> str:
    m = header.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items() if k in ("torch", "onnxruntime"))
    return f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores; {versions}"


# ---- tables from the code's registries -------------------------------------------------------

@table("presets")
def presets_table(results: Results) -> str:
    from finetune.presets import PRESETS

    return markdown([{"preset": f"`{p.name}`", "image": p.image_size, "patch": p.patch_size, "width": p.hidden_size,
                      "layers": p.num_hidden_layers, "heads": p.num_attention_heads, "MLP": p.intermediate_size,
                      "init": f"`{p.init}`", "what": p.summary} for p in PRESETS.values()])


@table("formats")
def formats_table(results: Results) -> str:
    from runtime.contract import EXPLAIN_KINDS, FORMATS

    return markdown([{"format": f"`{f.name}`", "precisions (first = default)": ", ".join(f.precisions),
                      "runtime backend": f"`{f.backend}`", "explain kinds": ", ".join(f"`{k}`" for k in EXPLAIN_KINDS)}
                     for f in FORMATS.values()])


@table("explain-kinds")
def explain_kinds_table(results: Results) -> str:
    from runtime.contract import EXPLAIN_KINDS

    return markdown([{"`--explain`": f"`{k}`", "outputs": v} for k, v in EXPLAIN_KINDS.items()])


@table("tolerances")
def tolerances_table(results: Results) -> str:
    from export.parity import TOLERANCES

    return markdown([{"precision": precision, **{("logits (relative)" if k == "logits" else k): f"{v:g}"
                                                 for k, v in limits.items()}}
                     for precision, limits in TOLERANCES.items()])


@table("backends")
def backends_table(results: Results) -> str:
    import runtime  # noqa: F401  (registers the backends)
    from runtime.backend import BACKENDS

    return markdown([{"backend": f"`{name}`", "runs": ", ".join(cls.formats),
                      "where": (cls.__doc__ or "").strip().splitlines()[0]} for name, cls in BACKENDS.items()])


@table("methods")
def methods_table(results: Results) -> str:
    from xai.methods import METHODS

    return markdown([{"method": f"`{m.name}`", "what": m.summary, "gradients": "yes" if m.gradients else "no",
                      "paper": m.paper or "-"} for m in METHODS.values()])


@table("metrics")
def metrics_table(results: Results) -> str:
    from xai.metrics import METRICS

    return markdown([{"metric": f"`{m.name}`", "better": m.better, "what": m.summary} for m in METRICS.values()])


@table("finetune-precisions")
def finetune_precisions_table(results: Results) -> str:
    from finetune.precision import PRECISIONS as TRAIN_PRECISIONS

    return markdown([{"`--precision`": f"`{p.name}`", "what": p.summary, "may be asked for on": p.requirement}
                     for p in TRAIN_PRECISIONS.values()])


@table("finetune-pipelines")
def finetune_pipelines_table(results: Results) -> str:
    from finetune.pipeline import PIPELINES

    return markdown([{"`--input-pipeline`": f"`{name}`", "what": summary} for name, summary in PIPELINES.items()])


@table("bench-scenarios")
def bench_scenarios_table(results: Results) -> str:
    from bench.scenarios import scenarios

    return markdown([{"scenario": f"`{name}`", "what": module.SUMMARY} for name, module in scenarios().items()])


@table("coreml-app-keys")
def coreml_app_keys_table(results: Results) -> str:
    from runtime.coreml import APP_KEYS, METADATA_PREFIX

    return markdown([{"Core ML metadata key": f"`{METADATA_PREFIX}{key}`", "what an app reads there": meaning}
                     for key, meaning in APP_KEYS.items()])


@table("bench-targets")
def bench_targets_table(results: Results) -> str:
    from bench.run import TARGETS

    return markdown([{"target": f"`{t.name}`", "backend": t.backend,
                      "precision": t.precision, "explanation": t.explain,
                      "graph": "optimum-cli's" if t.peer else ("ours" if t.export else "the checkpoint")}
                     for t in TARGETS.values()])


# ---- tables from benchmarks/results/*.json ---------------------------------------------------

REFERENCE_EXECUTOR = "reference executor"  # in a Core ML row's status off macOS: parity measured, latency not


def bench_caption(results: Results, stem: str) -> str:
    h = results[stem]["header"]
    star = any(REFERENCE_EXECUTOR in r["status"] for r in results[stem]["rows"])
    return (f"\n\nFrom {results.source(stem)}: checkpoint `{h['checkpoint']}`, {h['images']} test images of "
            f"`{h['data']}`, throughput at batch {h.get('batch')}; {machine_line(h)}."
            + ("\n\\* numpy reference executor (not macOS): parity measured, latency not." if star else ""))


def bench_row(r: dict) -> dict:
    """One bench result row -> formatted cells (empty where the row has no value)."""
    name = r["target"] + (" \\*" if REFERENCE_EXECUTOR in r["status"] else "")
    if not r["status"].startswith("works"):
        return {"target": name, "accuracy": r["status"]}
    corr = f"{r['heatmap_corr']:.4f} / {r['heatmap_corr_min']:.4f}" if "heatmap_corr" in r else ""
    return {"target": name, "accuracy": fmt(r.get("accuracy")), "agreement": fmt(r.get("agreement")),
            "max abs logit diff": fmt(r.get("max_abs_logit_diff"), 2), "heatmap corr (mean / worst)": corr,
            "top-10% IoU": fmt(r.get("heatmap_iou_top10")),
            "latency p50 ms": fmt(r.get("latency_ms_p50"), 3) if r.get("latency_ms_p50") else "n/a",
            "explain overhead": fmt(r.get("explain_overhead"), 3), "throughput img/s": fmt(r.get("throughput_ips"), 1),
            "memory MB": fmt(r.get("memory_mb"), 1), "size MB": fmt(r.get("size_mb"), 2)}


def bench_table(results: Results, stem: str, columns: list[str] | None = None) -> str:
    """Every row of one `python -m bench` run; columns empty in every row are left out."""
    rows = [bench_row(r) for r in results[stem]["rows"]]
    columns = columns or list(rows[0])
    columns = [c for c in columns if any(r.get(c) for r in rows)]
    return markdown(rows, columns) + bench_caption(results, stem)


HEADLINE_COLUMNS = ["target", "accuracy", "agreement", "heatmap corr (mean / worst)", "latency p50 ms",
                    "throughput img/s", "size MB"]


@table("bench-cifar-tiny-sincos18")
def bench_sincos18(results: Results) -> str:
    return bench_table(results, "bench_cifar-tiny-sincos18")


@table("bench-cifar-tiny-sincos18-headline")
def bench_sincos18_headline(results: Results) -> str:
    return bench_table(results, "bench_cifar-tiny-sincos18", HEADLINE_COLUMNS)


@table("bench-cifar-tiny")
def bench_cifar_tiny(results: Results) -> str:
    return bench_table(results, "bench_cifar-tiny")


def row_of(results: Results, stem: str, target: str) -> dict:
    return next((r for r in results[stem]["rows"] if r["target"] == target), {})


def quality_checks(results: Results, stem: str) -> list[tuple[str, str, str, bool]]:
    """(check, target, measured, met) for one bench run, from its onnx and coreml rows."""
    fp32, int8, fp16 = (row_of(results, stem, t) for t in ("onnx fp32", "onnx int8", "coreml fp16"))
    gap = abs(fp32["accuracy"] - int8["accuracy"])
    return [
        ("ONNX int8 accuracy vs fp32", f"within {INT8_ACCURACY_POINTS} (1 point)",
         f"{int8['accuracy']:.4f} vs {fp32['accuracy']:.4f}", gap <= INT8_ACCURACY_POINTS),
        ("ONNX int8 top-1 agreement with PyTorch", f">= {INT8_AGREEMENT}", f"{int8['agreement']:.4f}",
         int8["agreement"] >= INT8_AGREEMENT),
        ("Core ML fp16 top-1 agreement with PyTorch", f">= {FP16_AGREEMENT}", f"{fp16['agreement']:.4f}",
         fp16["agreement"] >= FP16_AGREEMENT),
        ("ONNX fp32 heatmap correlation (mean)", f">= {FP32_HEATMAP_CORR}", f"{fp32['heatmap_corr']:.4f}",
         fp32["heatmap_corr"] >= FP32_HEATMAP_CORR),
        ("ONNX int8 heatmap correlation (mean)", f">= {INT8_HEATMAP_CORR}", f"{int8['heatmap_corr']:.4f}",
         int8["heatmap_corr"] >= INT8_HEATMAP_CORR),
    ]


@table("bench-checks")
def bench_checks(results: Results) -> str:
    stems = ["bench_cifar-tiny-sincos18", "bench_cifar-tiny"]
    per_run = {s: quality_checks(results, s) for s in stems}
    rows = []
    for i, (check, target, _, _) in enumerate(per_run[stems[0]]):
        row = {"check": check, "target": target}
        for s in stems:
            _, _, measured, ok = per_run[s][i]
            row[f"`{results[s]['header']['checkpoint']}`"] = f"{measured} ({met(ok)})"
        rows.append(row)
    return markdown(rows) + "\n\nFrom " + " and ".join(results.source(s) for s in stems) + " (full CIFAR-10 test set)."


@table("bench-224")
def bench_224(results: Results) -> str:
    """Latency, throughput and memory of the 224 px architectures, one column group per run."""
    runs = {"deit-tiny": "bench_deit-tiny-224", "vit-base": "bench_vit-base-224"}
    by_target = {n: {r["target"]: r for r in results[s]["rows"]} for n, s in runs.items()}
    targets = list(dict.fromkeys(t for rows in by_target.values() for t, r in rows.items() if r.get("latency_ms_p50")))
    rows = []
    for t in targets:
        row = {"target": t}
        for n, s in runs.items():
            r = by_target[n].get(t, {})
            batch = results[s]["header"]["batch"]
            row[f"{n} p50 ms"] = fmt(r.get("latency_ms_p50"), 2) or "-"
            row[f"{n} img/s (batch {batch})"] = fmt(r.get("throughput_ips"), 1) or "-"
            row[f"{n} memory MB"] = fmt(r.get("memory_mb"), 0) or "-"
        rows.append(row)
    images = ", ".join(f"{n} {results[s]['header']['images']}" for n, s in runs.items())
    return (markdown(rows) + f"\n\nFrom {' and '.join(results.source(s) for s in runs.values())}: random weights, "
            f"test images: {images}; {machine_line(results[runs['deit-tiny']]['header'])}.")


def graph_label(key: str) -> str:
    """'ours rollout fp32' -> 'ours, `--explain rollout`, fp32'; peers keep their name."""
    parts = key.split()
    if parts[0] == "ours" and len(parts) == 3:
        return f"ours, `--explain {parts[1]}`, {parts[2]}"
    return f"{key} (logits only)"


@table("gradrollout-latency")
def gradrollout_latency(results: Results) -> str:
    from runtime.contract import HEATMAP_OUTPUTS

    data = results["gradrollout_latency"]
    base = data["latency_ms"]["none"]["p50"]
    rows = []
    for k, v in data["latency_ms"].items():
        diffs = data["parity_max_abs_diff"][k]
        output = next((o for o in HEATMAP_OUTPUTS if o in diffs), "logits")
        rows.append({"graph": f"`--explain {k}`", "p50 ms": f"{v['p50']:.2f}", "p90 ms": f"{v['p90']:.2f}",
                     "ratio to `none`": f"{v['p50'] / base:.2f}", "size MB": f"{data['size_mb'][k]:.2f}",
                     "max diff vs PyTorch": f"{output} {diffs[output]:.1e}"})
    return (markdown(rows) + f"\n\nTarget {data['target']}: {met(data['met'])}. From "
            f"{results.source('gradrollout_latency')}: `{data['preset']}` at random weights, batch {data['batch']}, "
            f"{data['threads']} threads; {machine_line(data)}.")


@table("coreml-reference")
def coreml_reference(results: Results) -> str:
    rows = [{"model": r["model"], "precision": r["precision"], "images": r["images"],
             "top-1 agreement with PyTorch": f"{r['top1_agreement']:.4f}",
             "max logit diff": f"{r['max_abs_logit_diff']:.1e}", "max rollout diff": f"{r['max_abs_rollout_diff']:.1e}",
             "rollout corr (mean / min)": f"{r['rollout_corr_mean']:.4f} / {r['rollout_corr_min']:.4f}",
             "executor s/image": f"{r['seconds_per_image']:.3f}"} for r in results["coreml_reference"]["rows"]]
    return markdown(rows) + f"\n\nFrom {results.source('coreml_reference')}."


@table("runtime-batching")
def runtime_batching(results: Results) -> str:
    rows = []
    for stem in ("runtime_batching_cifar-tiny", "runtime_batching"):
        d = results[stem]
        rows.append({"model": f"`{d['preset']}`", "images": d["images"],
                     "batched ms/image": f"{d['ms_per_image']['batched']:.2f}",
                     "one at a time ms/image": f"{d['ms_per_image']['one at a time']:.2f}",
                     "speedup": f"{d['speedup']:.2f}x",
                     f"target >= {BATCHING_SPEEDUP}x": met(d["speedup"] >= BATCHING_SPEEDUP)})
    sources = " and ".join(results.source(s) for s in ("runtime_batching_cifar-tiny", "runtime_batching"))
    return markdown(rows) + f"\n\nFrom {sources}; {machine_line(results['runtime_batching'])}."


@table("load-verify")
def load_verify(results: Results) -> str:
    from bench.scenarios.load_verify import VERIFY_SHARE

    data = results["load_verify"]
    rows = [{"case": r["case"], "loads": r["loads"], "load ms (p50)": f"{r['load_ms_p50']:.0f}",
             "verifying ms (p50)": f"{r['verify_ms_p50']:.2f}", "share of the load": f"{r['verify_share']:.3f}",
             f"under {VERIFY_SHARE}": met(r["verify_share"] < VERIFY_SHARE)} for r in data["rows"]]
    header = data["header"]
    return (markdown(rows) + f"\n\nFrom {results.source('load_verify')}: `{header['preset']}`, "
            f"{header['model_mb']} MB of model files, each load a fresh process; {machine_line(header)}.")


SWIFT_OVERLAY_MS = {"release": 50, "debug": 1500}  # issue 27: 12 MP photo to overlay, per Swift build


@table("swift-postprocess")
def swift_postprocess(results: Results) -> str:
    """explainable-vit-bench --postprocess: the overlay of a 12 MP photo before and after, per build."""
    data = results["swift-postprocess-linux"]
    rows = [{"build": r["build"], "path": "before: full size, scalar (`--reference`)" if r["measured"] == "before"
             else "after: display size", "overlay": r["postprocess"].split("-> overlay ")[-1],
             "p50 ms": f"{r['postprocess_ms_p50']:.1f}", "p90 ms": f"{r['postprocess_ms_p90']:.1f}",
             "peak RSS MB": f"{r['peak_rss_mb']:.0f}", "runs": r["runs"],
             "target (ms)": (f"{SWIFT_OVERLAY_MS[r['build']]}: " + met(r["postprocess_ms_p50"] <= SWIFT_OVERLAY_MS[r["build"]]))
             if r["measured"] == "after" else ""} for r in data["rows"]]
    header = data["header"]
    return (markdown(rows) + f"\n\nFrom {results.source('swift-postprocess-linux')}: a 4032x3024 photo and a 14x14 grid, "
            f"no model; peak RSS of the whole process (the 48 MB photo included); "
            f"{header['machine']['cpu']}, {header['machine']['cores']} cores, shared with other jobs; {header['swift']}.")

# ---- documents ---------------------------------------------------------------------------------

def documents(root: str | Path = ROOT) -> list[Path]:
    """README.md and docs/*.md of a checkout."""
    root = Path(root)
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]


def marker_problems(text: str) -> list[str]:
    """Markers that do not pair up (an opening without its closing, or the reverse)."""
    opened, problems = [], []
    for m in OPENING.finditer(text):
        closing, name = m.group(1) == "/", m.group(2)
        if not closing:
            opened.append(name)
        elif opened and opened[-1] == name:
            opened.pop()
        else:
            problems.append(f"closing marker for '{name}' without its opening")
    return problems + [f"table '{name}' is never closed" for name in opened]


def render(text: str, results: Results) -> tuple[str, list[str]]:
    """`text` with every table regenerated, and the problems: stale tables (their content differs from
    what the generator makes now), unknown table names, unpaired markers."""
    problems = marker_problems(text)

    def replace(m: re.Match) -> str:
        name = m.group("name")
        if name not in TABLES:
            problems.append(f"unknown table '{name}' (known: {', '.join(TABLES)})")
            return m.group(0)
        body = TABLES[name](results).strip() + "\n"
        if m.group("body").strip() != body.strip():
            problems.append(f"table '{name}' is stale")
        return f"<!-- table:{name} -->\n{body}<!-- /table:{name} -->"

    return MARKER.sub(replace, text), problems


def check(root: str | Path = ROOT, results_dir: str | Path | None = None) -> list[str]:
    """Every problem of every document, as 'FILE: problem' (empty when all tables are current)."""
    root = Path(root)
    results = Results(results_dir or root / RESULTS_DIR)
    return [f"{doc.relative_to(root)}: {p}" for doc in documents(root) for p in render(doc.read_text(), results)[1]]


def write(root: str | Path = ROOT, results_dir: str | Path | None = None) -> list[Path]:
    """Regenerate every table in place; returns the documents that changed."""
    root = Path(root)
    results, changed = Results(results_dir or root / RESULTS_DIR), []
    for doc in documents(root):
        old = doc.read_text()
        new, _ = render(old, results)
        if new != old:
            doc.write_text(new)
            changed.append(doc)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.docs_tables", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing every stale table")
    parser.add_argument("--root", default=str(ROOT), help="checkout whose README.md and docs/*.md to process")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.root)
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    changed = write(args.root)
    print("\n".join(f"rewrote {p}" for p in changed) or "every table is current")
    problems = [p for p in check(args.root) if "stale" not in p]
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


# ---------------------------------------------------------------------------------- scenarios
def scenario_rows(results: Results, stem: str, columns: dict[str, str]) -> str:
    """A scenario's rows (`python -m bench scenario`), columns renamed, with its source line."""
    data = results[stem]
    rows = [{label: fmt(r.get(key)) if isinstance(r.get(key), float) else r.get(key, "") for key, label in columns.items()}
            for r in data["rows"]]
    header = data["header"]
    repeats = header.get("repeat", 1)
    timing = f"{header.get('rounds')} x {header.get('iters')} interleaved" + (
        f", {repeats} repeats (p50: the median of the repeats' p50s)" if repeats > 1 else "")
    return (markdown(rows) + f"\n\nFrom {results.source(stem)}: `{header.get('preset')}`, batch {header.get('batch')}, "
            f"{header.get('threads')} threads, {timing}; {machine_line(header)}.")


LATENCY_COLUMNS = {"graph": "graph", "runtime": "runtime", "p50_ms": "p50 ms", "x_floor": "x floor",
                   "x_optimum": "x optimum (same precision, runtime)", "size_mb": "MB"}


@table("onnx-latency")
def onnx_latency(results: Results) -> str:
    return scenario_rows(results, "onnx-latency", LATENCY_COLUMNS)


@table("onnx-latency-vit-base")
def onnx_latency_vit_base(results: Results) -> str:
    return scenario_rows(results, "onnx-latency-vit-base", LATENCY_COLUMNS)


@table("onnx-latency-hf-forward")
def onnx_latency_hf_forward(results: Results) -> str:
    return scenario_rows(results, "onnx-latency-hf-forward", LATENCY_COLUMNS)


def latency_targets(results: Results, stem: str) -> str:
    """The issue's ratio targets of one onnx-latency run: the median over its repeats, their range,
    how many met it."""
    data = results[stem]
    header = data["header"]
    repeats, scaled = header.get("repeat", 1), header.get("scaling_per_repeat")
    rows = []
    for t in header["targets"]:
        row = {"ratio": t["ratio"], "target": t["target"], f"median of {repeats}": f"{t['value']:.3f}",
               "range": " - ".join(f"{v:.3f}" for v in t.get("range", [t["value"]] * 2)),
               "met (median)": "yes" if t["met"] else "**no**", "repeats that met it": t.get("met_in", "")}
        if scaled is not None:
            usual = t.get("usual")
            row[f"median where {header.get('threads')} threads scaled (<= {header['scaled_at_most']}x 1 thread)"] = (
                "no such repeat" if usual is None else
                f"{usual['value']:.3f} ({'met' if usual['met'] else '**not met**'}, {usual['met_in']})")
        rows.append(row)
    note = "" if scaled is None else (" Two-thread scaling per repeat (ours none fp32 on "
                                      f"{header.get('threads')} threads over 1 thread): "
                                      + ", ".join(f"{v:.2f}" for v in scaled) + ".")
    return markdown(rows) + f"\n\nFrom {results.source(stem)}.{note}"


@table("onnx-latency-targets")
def onnx_latency_targets(results: Results) -> str:
    return latency_targets(results, "onnx-latency")


@table("onnx-latency-vit-base-targets")
def onnx_latency_vit_base_targets(results: Results) -> str:
    return latency_targets(results, "onnx-latency-vit-base")


PROFILE_ROWS = 12  # op types shown, by kernel time summed over the graphs


@table("onnx-profile")
def onnx_profile(results: Results) -> str:
    """Kernel ms per call (nodes per call) per op type and graph, then the products against the rest."""
    data = results["onnx-profile"]
    graphs = data["header"]["graphs"]

    def cell(ms, nodes):
        return "" if ms is None else f"{ms:.2f} ({nodes:g})"

    rows = [{"op": r["op"], **{g: cell(r[g], r[f"{g} nodes"]) for g in graphs}} for r in data["rows"][:PROFILE_ROWS]]
    rest = data["rows"][PROFILE_ROWS:]
    rows.append({"op": f"{len(rest)} other op types", **{g: f"{sum(r[g] or 0 for r in rest):.2f}" for g in graphs}})
    for label, value in (("**all kernels**", lambda g: g["kernel_ms"]), ("products (Gemm, MatMul, FusedMatMul, Conv)",
                                                                      lambda g: g["products_ms"]),
                         ("**outside the products**", lambda g: g["kernel_ms"] - g["products_ms"]),
                         ("call (profiler on)", lambda g: g["run_ms"])):
        rows.append({"op": label, **{name: f"{value(g):.2f}" for name, g in graphs.items()}})
    h = data["header"]
    return (markdown(rows) + f"\n\nFrom {results.source('onnx-profile')}: `{h['preset']}`, batch {h['batch']}, "
            f"{h['threads']} threads, per call the median over {h['calls']} profiled calls, interleaved; {machine_line(h)}.")


@table("gemm-floor")
def gemm_floor(results: Results) -> str:
    return scenario_rows(results, "gemm-floor", {"graph": "graph", "p50_ms": "p50 ms", "p90_ms": "p90 ms",
                                                  "gflop": "GFLOP", "gflop_per_s": "GFLOP/s"})


@table("finetune-input-pipeline")
def finetune_input_pipeline(results: Results) -> str:
    data = results["finetune_input_pipeline"]
    rows = [{"work": work, "images/s": f"{rate:,.0f}"} for work, rate in data["images_per_s"].items()]
    return (markdown(rows) + f"\n\nFrom {results.source('finetune_input_pipeline')}: {data['source_size']} px source, "
            f"{data['args']['size']} px model input, one thread; {machine_line(data)}.")


@table("finetune-gpu-throughput")
def finetune_gpu_throughput(results: Results) -> str:
    """The GPU run of finetune-throughput: ceiling vs training path, with the code it measured."""
    data = results["finetune-gpu-h200"]
    rows = []
    for key, code in (("throughput", "current"), ("throughput_before", "with the per-step label-count copy"),
                      ("throughput_compile_before", "with the per-step label-count copy")):
        for r in data[key]["rows"]:
            rows.append({"case": f"{r['preset']}, batch {r['batch']}", "precision": r["precision"],
                         "compile": "on" if r["compile"] else "off", "code": code,
                         "host syncs per step": fmt(r.get("host_syncs_per_step"), 2),
                         "ceiling img/s": f"{r['ceiling_img_s']:,.0f}", "training path img/s": f"{r['training_img_s']:,.0f}",
                         "ratio": f"{r['ratio']:.3f}", "target >= 0.80": met(r["ratio"] >= 0.80)})
    header = data["throughput"]["header"]
    return (markdown(rows) + f"\n\nFrom {results.source('finetune-gpu-h200')}: {data['gpu']}, {data['cores']} CPU cores; "
            f"{header['steps']} timed steps after {header['warmup_steps']}; torch {data['versions']['torch']}, "
            f"transformers {data['versions']['transformers']}.")


@table("finetune-gpu-recipe")
def finetune_gpu_recipe(results: Results) -> str:
    """The seed recipe's shape on the GPU: wall time per phase and accuracy."""
    data = results["finetune-gpu-h200"]
    rows = []
    for key, label in (("recipe", "current"), ("recipe_compile", "current, `--compile`"),
                       ("recipe_before", "serial image check")):
        r, sec = data[key], data[key]["setup"].get("seconds", {})
        rows.append({"run": label, "process wall s": str(r["process_wall_s"]),
                     "data load + check s": fmt(sec.get("load_and_check_data"), 1),
                     "prepare inputs s": fmt(sec.get("prepare_inputs"), 1),
                     "training s (3 epochs + 3 evaluations)": f"{r['train_runtime_s']:.1f}",
                     "training img/s": f"{r['train_images_per_s']:,.0f}",
                     "test accuracy per epoch": " / ".join(f"{a:.4f}" for a in r["eval_accuracy_per_epoch"])})
    return (markdown(rows) + f"\n\n`{data['recipe']['command']}` on {data['gpu']}; "
            f"{data['process_wall_s_note']}. From {results.source('finetune-gpu-h200')}.")


# ---------------------------------------------------------------------------------- xai eval
def xai_metrics(results: Results, stem: str) -> str:
    """`python -m xai eval`'s xai_results.json: its command, accuracy and every method x metric."""
    from xai.evaluate import markdown_table

    data = results[stem]
    return (f"`{data['command']}`: {data['n_images']} images, model accuracy on them {data['accuracy']:.4f}.\n\n"
            + markdown_table(data) + f"\n\nFrom {results.source(stem)}.")


def xai_cascade(results: Results, stem: str) -> str:
    from xai.evaluate import cascade_table

    return cascade_table(results[stem]) + f"\n\nFrom {results.source(stem)}."


for _stem in ("xai-demo-digits", "xai-loc-cifar-tiny", "xai-cifar-tiny-sincos18"):
    table(_stem)(lambda results, stem=_stem: xai_metrics(results, stem))
    table(f"{_stem}-cascade")(lambda results, stem=_stem: xai_cascade(results, stem))


@table("xai-cifar-tiny-sincos18-onnx")
def xai_cifar_onnx(results: Results) -> str:
    """The exported graphs' in-graph maps beside the PyTorch methods they compute."""
    from xai.evaluate import markdown_table

    torch_rows = {r["method"]: r for r in results["xai-cifar-tiny-sincos18"]["rows"]}
    rows, metrics = [], None
    for stem, method in (("xai-cifar-tiny-sincos18-onnx-rollout", "rollout"),
                         ("xai-cifar-tiny-sincos18-onnx-gradrollout", "grad-rollout")):
        data = results[stem]
        metrics = data["metrics"]
        rows += [{**torch_rows[method], "method": f"{method} (PyTorch)"},
                 *(r for r in data["rows"] if r["method"] != "random")]
    sources = " and ".join(results.source(s) for s in ("xai-cifar-tiny-sincos18-onnx-rollout",
                                                       "xai-cifar-tiny-sincos18-onnx-gradrollout"))
    return markdown_table({"rows": rows, "metrics": metrics}) + f"\n\nFrom {sources}."


@table("distilled-readout")
def distilled_readout(results: Results) -> str:
    data = results["distilled_readout"]
    cls, both = data["cls_row"], data["cls_and_distillation_rows"]
    rows = [{"method": f"`{name}`", **{f"{metric}: CLS row / both rows": f"{cls[name][metric]:.3f} / {both[name][metric]:.3f}"
                                        for metric in cls[name]}} for name in cls]
    return (markdown(rows) + f"\n\nFrom {results.source('distilled_readout')}: `{data['command']}`, "
            f"{data['n_images']} test digits, model accuracy {data['accuracy']:.4f}.")


if __name__ == "__main__":
    sys.exit(main())
