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

import numpy as np

from export import ExportConfig, export_model
from runtime.backend import BACKENDS
from runtime.checkpoint import load_checkpoint, weights_sha256
from runtime.images import resize_batch
from runtime.manifest import read_manifest

from .timing import interleaved_latency, machine_info


@dataclass(frozen=True)
class BenchTarget:
    """One row of the table: a backend running an export (or the checkpoint itself)."""

    name: str
    backend: str
    export: ExportConfig | None  # None: run the checkpoint folder directly


TARGETS = {t.name: t for t in [
    BenchTarget("torch fp32", "torch", None),
    BenchTarget("onnx fp32", "onnx", ExportConfig(format="onnx", precision="fp32")),
    BenchTarget("onnx int8", "onnx", ExportConfig(format="onnx", precision="int8")),
    BenchTarget("coreml fp32", "coreml", ExportConfig(format="coreml", precision="fp32", parity_images=1)),
    BenchTarget("coreml fp16", "coreml", ExportConfig(format="coreml", precision="fp16", parity_images=1)),
    BenchTarget("coreml int8", "coreml", ExportConfig(format="coreml", precision="int8", parity_images=1)),
]}
REFERENCE = "torch fp32"


class BenchError(ValueError):
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

    labelled = load_data(data)
    if list(labelled.labels) != list(checkpoint.labels):
        raise BenchError(f"the data's labels {labelled.labels} do not match the checkpoint's {checkpoint.labels}")
    test = labelled.test.subset(limit)
    images = resize_batch([test[i][0] for i in range(len(test))], checkpoint.image_size, checkpoint.resample)
    return images, test.targets[: len(test)]


def reusable(folder: Path, checkpoint_dir: Path, cfg: ExportConfig) -> bool:
    """An artifact made earlier from the same weights with the same format, precision and explanation."""
    if not (folder / "manifest.json").is_file():
        return False
    manifest = read_manifest(folder)
    return (manifest.source.get("sha256") == weights_sha256(checkpoint_dir) and manifest.format == cfg.format
            and manifest.precision == cfg.resolved_precision and manifest.explain == cfg.explain)


def run_target(target: BenchTarget, checkpoint_dir: Path, work: Path, images: np.ndarray, batch: int):
    """Export if needed (reusing an artifact made earlier with the same options), load, run all images."""
    if target.export is None:
        backend = BACKENDS["torch"](checkpoint_dir)
        folder = checkpoint_dir
    else:
        folder = work / target.name.replace(" ", "-")
        if not reusable(folder, checkpoint_dir, target.export):
            export_model(checkpoint_dir, folder, replace(target.export, force=True))
        backend = BACKENDS[target.backend](folder, read_manifest(folder))
    outputs = [backend.run_batched(images[i:i + batch]) for i in range(0, len(images), batch)]
    merged = {k: np.concatenate([o[k] for o in outputs]) for k in ("logits", "rollout")}
    model = Path(folder) / ("model.safetensors" if target.export is None else backend.manifest.model_file)
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file()) if model.is_dir() else model.stat().st_size
    return backend, merged, size / 1e6


def quality(logits: np.ndarray, targets: np.ndarray, reference: dict | None, maps: np.ndarray) -> dict:
    from sklearn.metrics import f1_score

    predictions = logits.argmax(-1)
    row = {"accuracy": float((predictions == targets).mean()),
           "macro_f1": float(f1_score(targets, predictions, average="macro"))}
    if reference is not None:
        corr, iou = heatmap_parity(maps, reference["rollout"])
        row.update(agreement=float((predictions == reference["logits"].argmax(-1)).mean()),
                   max_abs_logit_diff=float(np.abs(logits - reference["logits"]).max()),
                   heatmap_corr=float(corr.mean()), heatmap_corr_min=float(corr.min()),
                   heatmap_iou_top10=float(iou.mean()))
    return row


def run_bench(checkpoint: str | Path, data: str, targets: list[str] | None = None, limit: int | None = None,
              batch: int = 32, out: str | Path = "bench-results", latency_rounds: int = 5) -> list[dict]:
    """Benchmark `targets` (default: all) on `data`'s test split; writes results.json and report.md."""
    names = targets or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    problems = [f"unknown target '{n}'; known: {', '.join(TARGETS)}" for n in unknown]
    if limit is not None and limit < 1:
        problems.append("--limit must be >= 1")
    if problems:
        raise BenchError("; ".join(problems))
    names = [REFERENCE] + [n for n in names if n != REFERENCE]  # the reference runs first
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(checkpoint)
    images, labels = load_test_images(data, load_checkpoint(checkpoint), limit)
    from tqdm import tqdm

    rows, reference, runners = [], None, {}
    for name in tqdm(names, desc="bench targets", unit="target"):
        row = {"backend": TARGETS[name].backend, "precision": name.split()[-1], "target": name, "status": "works"}
        try:
            start = time.perf_counter()
            backend, outputs, size = run_target(TARGETS[name], checkpoint, out / "artifacts", images, batch)
            row.update(size_mb=round(size, 2), images=len(images),
                       eval_seconds=round(time.perf_counter() - start, 2),
                       **quality(outputs["logits"], labels, reference, outputs["rollout"]))
            if name == REFERENCE:
                reference = outputs
            if getattr(backend, "reference", False):
                row["status"] = "works (numpy reference executor: parity only, latency not measurable here)"
            else:
                runners[name] = (lambda b=backend: b.run(images[:1]))
        except Exception as e:  # one failing target never loses the others
            row["status"] = f"failed: {type(e).__name__}: {e}"
        rows.append(row)
    latency = interleaved_latency(runners, rounds=latency_rounds, iters=10, warmup=3) if runners else {}
    for row in rows:
        if row["target"] in latency:
            row.update(latency_ms_p50=round(latency[row["target"]]["p50"], 3),
                       latency_ms_p90=round(latency[row["target"]]["p90"], 3))
    write_report(rows, out, {"checkpoint": str(checkpoint), "data": data, "images": len(images)})
    return rows


COLUMNS = ["target", "status", "accuracy", "agreement", "max_abs_logit_diff", "heatmap_corr", "heatmap_corr_min",
           "heatmap_iou_top10", "latency_ms_p50", "size_mb"]


def format_table(rows: list[dict]) -> str:
    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def write_report(rows: list[dict], out: Path, header: dict) -> None:
    machine = machine_info()
    (out / "results.json").write_text(json.dumps({"header": {**header, "machine": machine}, "rows": rows}, indent=2))
    (out / "report.md").write_text(
        f"# Benchmark: {header['checkpoint']} on {header['data']} ({header['images']} test images)\n\n"
        f"Machine: {machine['cpu']}, {machine['cores']} cores; {machine['versions']}\n\n{format_table(rows)}\n")
