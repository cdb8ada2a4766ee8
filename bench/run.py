"""`run_bench`: every backend x precision on a labelled test set, against PyTorch, in one table.

Each row: quality (accuracy, macro-F1, top-1 agreement with the PyTorch reference, max |delta
logit|), explanation parity (per-image Pearson correlation and top-10% patch IoU of the heatmap
against the reference's) and cost (file size, batch-1 latency). One row failing never loses the
others: its status says why.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from export import ExportConfig, export_model
from runtime.backend import BACKENDS
from runtime.checkpoint import load_checkpoint, weights_sha256
from runtime.contract import DEFAULT_EXPLAIN, EXPLAIN, FORMATS, gives_map
from runtime.coreml import COMPUTE_UNITS, apple_runtime_unavailable
from runtime.images import resize_batch
from runtime.manifest import ArtifactError, read_manifest, verify_files
from _infra.cli import reading
from _infra.outputs import WRITTEN_BY
from _infra.errors import ToolkitError
from finetune.scores import classification_scores

from .scenarios import column, command_line, format_columns
from .targets import header as targets_header, judge, of as targets_of
from .placement import format_placement, placement as op_placement, unavailable_reason as placement_unavailable
from .timing import interleaved_latency, machine_info


@dataclass(frozen=True)
class BenchTarget:
    """One row of the table: a backend running an export (or the checkpoint itself)."""

    name: str
    backend: str
    export: ExportConfig | None  # None: run the checkpoint folder directly
    explain: str = "rollout"  # rollout, gradrollout (class-specific, backward in the graph) or none
    peer: str | None = None  # "optimum": optimum-cli's export instead of ours (bench.peers)
    compute_units: str | None = None  # Core ML on Apple's runtime only: a key of runtime.coreml.COMPUTE_UNITS

    @property
    def artifact(self) -> str:
        """The artifact folder's name, one per export: every backend and compute unit running the same
        format, precision and explanation shares it."""
        return f"{self.export.format}-{self.export.resolved_precision}-{self.explain}"

    @property
    def precision(self) -> str:
        return self.export.resolved_precision if self.export else "fp32"


BENCH_EXPLAINS = ("rollout", "gradrollout", "none")  # `attentions` is rollout plus its inputs: not a row of its own
PARITY_IMAGES = {"coreml": 1}  # off macOS Core ML runs in the numpy reference executor: one parity image
NOT_ON_CPU = {("onnx", "fp16"): "fp16 ONNX graphs are for GPU execution providers"}  # (format, precision) skipped


def _name(backend: str, precision: str, explain: str) -> str:
    return f"{backend} {precision}" + ("" if explain == DEFAULT_EXPLAIN else f" {explain}")


def _export(fmt: str, precision: str, explain: str) -> ExportConfig:
    return ExportConfig(format=fmt, precision=precision, explain=explain, parity_images=PARITY_IMAGES.get(fmt, 4))


def matrix() -> list[BenchTarget]:
    """Every row from the contract: the PyTorch reference per explain kind, then every format's
    backends x precisions x explain kinds (less `NOT_ON_CPU`), optimum's graphs as peers, and
    Core ML's compute units."""
    rows = [BenchTarget(_name("torch", "fp32", e), "torch", None, e) for e in BENCH_EXPLAINS]
    for fmt in FORMATS.values():
        backends = [fmt.backend] + sorted(n for n, b in BACKENDS.items() if fmt.name in b.formats and n != fmt.backend)
        rows += [BenchTarget(_name(backend, precision, explain), backend, _export(fmt.name, precision, explain), explain)
                 for backend in backends for precision in fmt.precisions if (fmt.name, precision) not in NOT_ON_CPU
                 for explain in BENCH_EXPLAINS]
    rows += [BenchTarget(f"optimum {p}", "onnx", _export("onnx", p, "none"), "none", peer="optimum") for p in ("fp32", "int8")]
    rows.append(BenchTarget("optimum fp32 openvino", "openvino", _export("onnx", "fp32", "none"), "none", peer="optimum"))
    default = FORMATS["coreml"].precisions[0]  # on-device latency per compute unit (Apple's runtime: macOS only)
    rows += [BenchTarget(f"coreml {default} {units}", "coreml", _export("coreml", default, "rollout"), compute_units=units)
             for units in COMPUTE_UNITS]
    return rows


TARGETS = {t.name: t for t in matrix()}


def quick_targets() -> list[str]:
    """A quick subset of the matrix (the demo's): the references, every format's default precision on
    its own backend for each explain kind, and optimum's fp32 graph as the peer."""
    def own_default(t: BenchTarget) -> bool:
        fmt = FORMATS[t.export.format]
        return not t.peer and not t.compute_units and t.backend == fmt.backend and t.precision == fmt.precisions[0]

    return [n for n, t in TARGETS.items() if t.export is None or own_default(t)
            or (t.peer and t.backend == "onnx" and t.precision == "fp32")]
REFERENCES = {"rollout": "torch fp32", "gradrollout": "torch fp32 gradrollout"}  # heatmaps compared per kind
REFERENCE = REFERENCES["rollout"]  # logits are compared with this one


class BenchError(ToolkitError):
    """Bad benchmark input: unknown targets, empty data, labels that disagree with the model."""


def heatmap_parity(maps: np.ndarray, reference: np.ndarray, top: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Per-image Pearson correlation and IoU of the top `top` fraction of patches, `(N,)` each."""
    a, b = maps.reshape(len(maps), -1).astype(np.float64), reference.reshape(len(reference), -1).astype(np.float64)
    a_c, b_c = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    corr = (a_c * b_c).sum(1) / np.maximum(np.sqrt((a_c ** 2).sum(1) * (b_c ** 2).sum(1)), 1e-12)
    k = max(1, int(round(a.shape[1] * top)))
    top_a, top_b = np.argsort(-a, 1)[:, :k], np.argsort(-b, 1)[:, :k]
    iou = np.array([len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(top_a, top_b)])
    return corr, iou


def load_test_images(data: str, checkpoint, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 `(N, H, W, 3)` at the model's size and int labels, checked against the model's labels."""
    from finetune.data import load_data

    with reading(f"data '{data}'"):
        labelled = load_data(data)
        if list(labelled.labels) != list(checkpoint.labels):
            raise BenchError(f"the data's labels {labelled.labels} do not match the checkpoint's {checkpoint.labels}")
        test = labelled.test.subset(limit)
        images = resize_batch([test[i][0] for i in range(len(test))], checkpoint.image_size, checkpoint.resample)
    return images, test.targets[: len(test)]


def resolve_checkpoint(checkpoint: str | Path, data: str, out: Path) -> Path:
    """A checkpoint folder as given, or a `finetune` preset name: that architecture at random
    (seeded) weights with the data's labels, written to OUT/preset-NAME (for latency tables)."""
    from finetune.presets import PRESETS

    if Path(checkpoint).exists() or str(checkpoint) not in PRESETS:
        return Path(checkpoint)
    from finetune.data import load_data
    from finetune.models import write_preset

    folder = out / f"preset-{checkpoint}"
    if not (folder / "model.safetensors").is_file():
        with reading(f"data '{data}'"):
            labels = list(load_data(data).labels)
        write_preset(PRESETS[str(checkpoint)], folder, labels, init="hf")
    return folder


def reusable(folder: Path, checkpoint_dir: Path, cfg: ExportConfig) -> bool:
    """An artifact made earlier from the same weights with the same format, precision and explanation,
    whose files are still the ones sealed at export (a results folder may be shared: never measure a
    model someone swapped in)."""
    if not (folder / "manifest.json").is_file():
        return False
    try:
        manifest = read_manifest(folder)
        verify_files(folder, manifest)
    except ArtifactError:
        return False
    return (manifest.source.get("sha256") == weights_sha256(checkpoint_dir) and manifest.format == cfg.format
            and manifest.precision == cfg.resolved_precision and manifest.explain == cfg.explain)


def load_target(target: BenchTarget, checkpoint_dir: Path, work: Path):
    """Export if needed (reusing an artifact made earlier with the same options) and load:
    (runner with run/run_batched, model file or folder, name of the heatmap output or None)."""
    if target.peer == "optimum":
        from .peers import OptimumRunner, export_optimum

        checkpoint = load_checkpoint(checkpoint_dir)
        model = export_optimum(checkpoint_dir, work / f"optimum-{target.precision}", target.precision,
                               weights_sha256(checkpoint_dir))
        return OptimumRunner(model, checkpoint.mean, checkpoint.std, runtime=target.backend), model, None
    if target.export is None:
        backend = BACKENDS["torch"](checkpoint_dir, explain=target.explain)
        return backend, checkpoint_dir / "model.safetensors", backend.manifest.heatmap_output
    folder = work / target.artifact
    if not reusable(folder, checkpoint_dir, target.export):
        export_model(checkpoint_dir, folder, replace(target.export, force=True))
    options = {"compute_units": target.compute_units, "reference": False} if target.compute_units else {}
    backend = BACKENDS[target.backend](folder, read_manifest(folder), **options)
    return backend, folder / backend.manifest.model_file, backend.manifest.heatmap_output


def run_target(target: BenchTarget, checkpoint_dir: Path, work: Path, images: np.ndarray, batch: int,
               classes: np.ndarray | None = None):
    """Load the target and run every image: (runner, {"logits", "heatmap"}, size in MB).
    classes: the class each gradrollout map explains (the reference's predictions), so maps are
    compared for the same class even where a quantized model's top-1 differs."""
    runner, model, heatmap = load_target(target, checkpoint_dir, work)
    classes = classes if EXPLAIN[target.explain].class_input else None
    outputs = [runner.run_batched(images[i:i + batch], None if classes is None else classes[i:i + batch])
               for i in range(0, len(images), batch)]
    merged = {"logits": np.concatenate([o["logits"] for o in outputs]),
              "heatmap": np.concatenate([o[heatmap] for o in outputs]) if heatmap else None}
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file()) if model.is_dir() else model.stat().st_size
    return runner, merged, size / 1e6


def quality(logits: np.ndarray, targets: np.ndarray, reference: dict | None, maps: np.ndarray | None,
            reference_maps: np.ndarray | None) -> dict:
    """Accuracy and macro-F1; against the reference: agreement, logit drift, heatmap parity."""
    predictions = logits.argmax(-1)
    row = classification_scores(predictions, targets, logits.shape[-1])
    if reference is not None:
        row.update(agreement=float((predictions == reference["logits"].argmax(-1)).mean()),
                   max_abs_logit_diff=float(np.abs(logits - reference["logits"]).max()))
    if maps is not None and reference_maps is not None:
        corr, iou = heatmap_parity(maps, reference_maps)
        row.update(heatmap_corr=float(corr.mean()), heatmap_corr_min=float(corr.min()),
                   heatmap_iou_top10=float(iou.mean()))
    return row


BENCH_COMMAND = "python -m bench"  # what results.json says wrote the folder (_infra.outputs)
RESULTS = "results.json"
REUSED = ("artifacts", "preset-*")  # what a new run takes over from the folder it replaces


def check_options(names: list[str], limit: int | None, batch: int) -> None:
    problems = [f"unknown target '{n}'; known: {', '.join(TARGETS)}" for n in names if n not in TARGETS]
    if limit is not None and limit < 1:
        problems.append("--limit must be >= 1")
    if batch < 1:
        problems.append("--batch must be >= 1")
    if problems:
        raise BenchError("; ".join(problems))


def take_over(old: Path, new: Path) -> None:
    """Hard links (a copy where links fail) of what the run may reuse from the folder it replaces:
    exports and optimum graphs, preset checkpoints. Writers never change a file in place (exports
    are swapped in, optimum's folders removed first), so the old folder stays whole until the swap."""
    import os
    import shutil

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    def links(folder, names):  # never taken over: a run writes nothing through a link
        return [n for n in names if os.path.islink(os.path.join(folder, n))]

    for pattern in REUSED:
        for folder in old.glob(pattern) if old.is_dir() and not old.is_symlink() else []:
            if folder.is_dir() and not folder.is_symlink():
                shutil.copytree(folder, new / folder.name, copy_function=link, ignore=links)


def run_bench(checkpoint: str | Path, data: str, targets: list[str] | None = None, limit: int | None = None,
              batch: int = 32, out: str | Path = "bench-results", latency_rounds: int = 5,
              memory: bool = True, device_rows: Sequence[dict] = ()) -> list[dict]:
    """Benchmark `targets` (default: all) on `data`'s test split; writes results.json, report.md,
    a confusion matrix per target and the plots into `out` (a new folder, or one bench wrote before:
    replaced whole when the run ends, see _infra.outputs). `batch` is also the throughput batch size.
    `device_rows` (`bench.device_rows`, measured on an Apple device) join this run's rows in the
    results and the report, not the pictures; the rows returned are this run's, then those."""
    from _infra.outputs import path_sources, result_folder

    names = targets or list(TARGETS)
    check_options(names, limit, batch)
    kinds = {TARGETS[n].explain for n in names}
    first = [REFERENCES[k] for k in REFERENCES if k in kinds or REFERENCES[k] == REFERENCE]  # references run first
    names = first + [n for n in names if n not in first]
    out = Path(out)
    with result_folder(out, RESULTS, BENCH_COMMAND, "a bench results folder",
                       sources=path_sources(checkpoint, data)) as work:
        take_over(out, work)
        return bench_into(work, out, checkpoint, data, names, limit, batch, latency_rounds, memory, list(device_rows))


def bench_into(work: Path, out: Path, checkpoint: str | Path, data: str, names: list[str], limit: int | None,
               batch: int, latency_rounds: int, memory: bool, device_rows: list[dict]) -> list[dict]:
    """The run itself, written into `work` (which becomes `out` when it ends)."""
    checkpoint = resolve_checkpoint(checkpoint, data, work)
    images, labels = load_test_images(data, load_checkpoint(checkpoint), limit)
    from tqdm import tqdm

    rows, references, runners, predictions = [], {}, {}, {}
    for name in tqdm(names, desc="bench targets", unit="target"):
        target = TARGETS[name]
        row = {"backend": target.backend, "precision": target.precision, "explain": target.explain,
               "target": name, "status": "works", **({"peer": target.peer} if target.peer else {})}
        if target.compute_units and apple_runtime_unavailable():
            row["status"] = f"not measured: {apple_runtime_unavailable()}"
            row["placement"] = {"reason": placement_unavailable()}
            rows.append(row)
            continue
        try:
            start = time.perf_counter()
            reference_logits = references.get(REFERENCE, {}).get("logits")
            classes = None if reference_logits is None else reference_logits.argmax(-1)
            backend, outputs, size = run_target(target, checkpoint, work / "artifacts", images, batch, classes)
            reference_maps = references.get(REFERENCES.get(target.explain), {}).get("heatmap")
            row.update(size_mb=round(size, 2), images=len(images),
                       eval_seconds=round(time.perf_counter() - start, 2),
                       **quality(outputs["logits"], labels, references.get(REFERENCE), outputs["heatmap"],
                                 reference_maps))
            predictions[name] = outputs["logits"].argmax(-1)
            if name in REFERENCES.values():
                references[name] = outputs
            if target.compute_units:
                row["placement"] = op_placement(backend)
            if getattr(backend, "reference", False):
                row["status"] = "works (numpy reference executor: parity only, latency not measurable here)"
            else:
                runners[name] = backend
        except Exception as e:  # one failing target never loses the others
            row["status"] = f"failed: {type(e).__name__}: {e}"
        rows.append(row)
    measure_speed(rows, runners, images, batch, latency_rounds)
    if memory:
        measure_memory(rows, runners, checkpoint, work / "artifacts", batch)
    add_derived(rows)
    judge(rows, targets_of("bench"))
    import torch

    from runtime.onnx import DEFAULT_THREADS

    threads = {"torch": torch.get_num_threads(), "onnxruntime": DEFAULT_THREADS or "all cores (ORT default)"}
    shown = out / checkpoint.relative_to(work) if checkpoint.is_relative_to(work) else checkpoint  # a preset's
    write_report(rows + device_rows, work, {"checkpoint": str(shown), "data": data, "images": len(images),
                                            "batch": batch, "threads": threads})
    write_pictures(rows, predictions, labels, load_checkpoint(checkpoint).labels, work)
    return rows + device_rows


def measure_speed(rows: list[dict], runners: dict, images: np.ndarray, batch: int, rounds: int) -> None:
    """Batch-1 latency and batch-`batch` throughput, each in interleaved rounds over all runners."""
    if not runners:
        return
    batch_images = images[:batch]
    single = interleaved_latency({n: (lambda r=r: r.run(images[:1])) for n, r in runners.items()},
                                 rounds=rounds, iters=10, warmup=3)
    batched = interleaved_latency({n: (lambda r=r: r.run_batched(batch_images)) for n, r in runners.items()},
                                  rounds=rounds, iters=3, warmup=3)
    for row in rows:
        name = row["target"]
        if name in single:
            row.update(latency_ms_p50=round(single[name]["p50"], 3), latency_ms_p90=round(single[name]["p90"], 3),
                       throughput_ips=round(len(batch_images) / (batched[name]["p50"] / 1e3), 1),
                       throughput_batch=len(batch_images))


def measure_memory(rows: list[dict], runners: dict, checkpoint: Path, work: Path, batch: int) -> None:
    """Peak RSS of each timed target, each in its own process (see bench.memory)."""
    from tqdm import tqdm

    from .memory import peak_memory_mb

    for row in tqdm([r for r in rows if r["target"] in runners], desc="peak memory", unit="target"):
        try:
            row.update(peak_memory_mb(row["target"], checkpoint, work, batch))
        except Exception as e:  # memory is a column, not a reason to lose the row
            row["memory_status"] = f"not measured: {e}"


def write_pictures(rows: list[dict], predictions: dict, labels: np.ndarray, names: list[str], out: Path) -> None:
    """A confusion matrix per working target, accuracy vs latency, latency with the explanation stacked."""
    from finetune.plots import confusion_matrix, plot_confusion_matrix

    from .plots import plot_accuracy_vs_latency, plot_latency_breakdown

    folder = out / "confusion"
    folder.mkdir(parents=True, exist_ok=True)
    for name, predicted in predictions.items():
        plot_confusion_matrix(confusion_matrix(labels, predicted, len(names)), names,
                              folder / f"{name.replace(' ', '-')}.png", title=name)
    plot_accuracy_vs_latency(rows, out / "accuracy_vs_latency.png")
    plot_latency_breakdown(rows, out / "latency.png")


def add_derived(rows: list[dict]) -> None:
    """explain_overhead: latency over the same backend and precision's `none` row, when both ran;
    accuracy_gap: |accuracy - the same backend and explanation's fp32 accuracy| (what the int8 target judges)."""
    plain = {(r["backend"], r["precision"]): r.get("latency_ms_p50") for r in rows
             if not gives_map(r.get("explain")) and not r.get("peer")}
    fp32 = {(r["backend"], r["explain"], r.get("peer")): r.get("accuracy") for r in rows if r["precision"] == "fp32"}
    for row in rows:
        base = plain.get((row["backend"], row["precision"]))
        if base and row.get("latency_ms_p50") and gives_map(row.get("explain")) and not row.get("peer"):
            row["explain_overhead"] = round(row["latency_ms_p50"] / base, 3)
        reference = fp32.get((row["backend"], row["explain"], row.get("peer")))
        if row["precision"] != "fp32" and reference is not None and row.get("accuracy") is not None:
            row["accuracy_gap"] = round(abs(row["accuracy"] - reference), 6)


COLUMNS = [column("target"), column("status"), column("accuracy", digits=4), column("agreement", digits=4),
           column("max_abs_logit_diff", "max abs logit diff", digits=2),
           column("heatmap_corr", "heatmap corr (mean)", digits=4),
           column("heatmap_corr_min", "heatmap corr (worst)", digits=4),
           column("heatmap_iou_top10", "top-10% IoU", digits=4), column("latency_ms_p50", "latency p50", "ms", 3),
           column("explain_overhead", "explain overhead", "x", 3),
           column("throughput_ips", "throughput", "img/s", 1), column("memory_mb", "memory", "MB", 1),
           column("size_mb", "size", "MB", 2)]


def format_table(rows: list[dict], columns: list[dict | str] = COLUMNS) -> str:
    """Rows as a Markdown table of `columns` (`column` dicts, or keys of COLUMNS and DEVICE_COLUMNS)."""
    known = {c["key"]: c for c in DEVICE_COLUMNS + COLUMNS}
    return format_columns(rows, [known.get(c, column(c)) if isinstance(c, str) else c for c in columns])


DEVICE_COLUMNS = [column("target"), column("compute_units", "compute units"), column("load_ms", "load", "ms", 1),
                  column("first_prediction_ms", "first prediction", "ms", 1),
                  column("latency_ms_p50", "latency p50", "ms", 2), column("latency_ms_p90", "latency p90", "ms", 2),
                  column("postprocess_ms_p50", "post-processing p50", "ms", 1), column("memory_mb", "memory", "MB", 1),
                  column("met", "post-processing target"), column("imported_from", "from")]


def device_section(rows: list[dict]) -> str:
    """The rows measured on Apple devices (`--device-results`), as a table of their own."""
    device = [r for r in rows if "imported_from" in r]
    if not device:
        return ""
    return ("Measured on Apple devices by `explainable-vit-bench` (Core ML; load, first prediction, "
            f"prediction and post-processing in ms):\n\n{format_table(device, DEVICE_COLUMNS)}\n\n")


def write_report(rows: list[dict], out: Path, header: dict) -> None:
    machine = machine_info()
    judged = [t for t in targets_of("bench") if any(t.selects(r) for r in rows)]
    said = {"command": command_line(), "about": f"{header['images']} test images, throughput at batch {header['batch']}"}
    header = {"scenario": "bench", **{k: v for k, v in said.items() if v}, **header, "machine": machine,
              "columns": COLUMNS, "targets": targets_header(judged)}
    (out / RESULTS).write_text(json.dumps({WRITTEN_BY: BENCH_COMMAND, "header": header, "rows": rows}, indent=2))
    (out / "report.md").write_text(
        f"# Benchmark: {header['checkpoint']} on {header['data']} ({header['images']} test images)\n\n"
        f"Machine: {machine['cpu']}, {machine['cores']} cores; {machine['versions']}\n\n"
        f"Threads: {header.get('threads')}; latency at batch 1 and throughput at batch {header.get('batch')}, "
        f"interleaved rounds, medians.\n\n{format_table([r for r in rows if 'imported_from' not in r])}\n\n"
        + device_section(rows) +
        "Pictures: `accuracy_vs_latency.png`, `latency.png` (explanation overhead stacked), `confusion/*.png`.\n"
        + ("\n" + format_placement(rows) if any("placement" in r for r in rows) else ""))
