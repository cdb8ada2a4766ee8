"""What a fine-tuning run leaves behind: metrics.json, run.json and two pictures."""
from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .plots import confusion_matrix, plot_confusion_matrix, plot_training_curves
from finetune.scores import classification_scores
from _infra.columns import column
from _infra.stamps import library_versions as stamps


@dataclass
class RunResult:
    cfg: dict
    labels: list[str]
    data_source: str
    n_train: int
    n_test: int
    logits: np.ndarray  # (N_test, C)
    targets: np.ndarray  # (N_test,)
    test_loss: float
    train_metrics: dict
    train_wall_s: float
    eval_wall_s: float
    log_history: list[dict]
    resumed_from: str | None
    out: Path
    processes: int = 1  # training processes (torchrun/accelerate)
    setup: dict = field(default_factory=dict)  # resolved device, precision, input pipeline, data loader
    metrics: dict = field(default_factory=dict)


def classification_metrics(logits: np.ndarray, targets: np.ndarray, labels: list[str]) -> dict:
    """Accuracy, macro-F1, per-class accuracy and the confusion matrix of `(N, C)` logits."""
    predictions = logits.argmax(-1)
    cm = confusion_matrix(targets, predictions, len(labels))
    per_class = cm.diagonal() / np.maximum(cm.sum(axis=1), 1)
    return {**classification_scores(predictions, targets, len(labels)),
            "per_class_accuracy": {name: float(a) for name, a in zip(labels, per_class)},
            "confusion_matrix": cm.tolist()}


def library_versions() -> dict:
    return {**stamps("torch", "transformers", "datasets", "accelerate", "numpy"),
            "platform": platform.platform(), "processor": platform.processor()}


def command_line() -> str:
    """The command as the user typed it (`python -m finetune ...` rather than a path to __main__.py)."""
    argv0 = Path(sys.argv[0])
    head = ["python", "-m", argv0.parent.name] if argv0.name == "__main__.py" else ["python", argv0.name]
    return shlex.join([*head, *sys.argv[1:]])


def write_report(result: RunResult) -> dict:
    """Write metrics.json, run.json, confusion_matrix.png and training_curves.png into `result.out`."""
    out = result.out
    m = classification_metrics(result.logits, result.targets, result.labels)
    m.update(loss=float(result.test_loss), n_train=result.n_train, n_test=result.n_test,
             epochs=float(result.train_metrics.get("epoch", result.cfg["epochs"])), processes=result.processes,
             train_wall_s=round(result.train_wall_s, 2),
             train_images_per_s=round(float(result.train_metrics.get("train_samples_per_second", 0.0)), 2),
             eval_images_per_s=round(result.n_test / max(result.eval_wall_s, 1e-9), 2))
    result.metrics = m
    (out / "metrics.json").write_text(json.dumps(m, indent=2))
    (out / "run.json").write_text(json.dumps({
        "command": command_line(), "config": result.cfg,
        "data": result.data_source, "labels": result.labels, "resumed_from": result.resumed_from,
        "setup": result.setup,
        "versions": library_versions(), "log_history": result.log_history}, indent=2, default=str))
    name = Path(result.cfg["model"]).name
    plot_confusion_matrix(np.asarray(m["confusion_matrix"]), result.labels, out / "confusion_matrix.png",
                          title=f"{name} on {Path(result.data_source).name}")
    plot_training_curves(result.log_history, out / "training_curves.png", title=f"{name}: training")
    return m


# ---------------------------------------------------------------------------------- recipe rows
RECIPE_COLUMNS = [
    column("run"), column("compile"), column("process_wall_s", "process wall", "s", 0),
    column("load_and_check_data_s", "data load + check", "s", 1),
    column("train_s", "training, with its evaluations", "s", 1), column("evaluate_s", "final evaluation", "s", 1),
    column("train_graphs", "train graphs"), column("train_recompiles", "train recompiles"),
    column("eval_graphs", "eval graphs"), column("compile_s", "compiling", "s", 1),
    column("cache_hits", "compile cache hits"), column("accuracy", "test accuracy per epoch"),
]


def compile_counts(compiled: dict) -> dict:
    """Graphs compiled and recompiles per phase, `{train_graphs, train_recompiles, eval_graphs,
    eval_recompiles}`, from a run.json's `setup.compile`."""
    phases = compiled.get("phases", {})
    return {f"{phase}_{key}": phases.get(phase, {}).get(key, 0) for phase in ("train", "eval")
            for key in ("graphs", "recompiles")}


def recipe_row(name: str, run: dict, process_wall_s: float | None = None) -> dict:
    """One finished run (its run.json) as a results row: seconds per phase, what compiled, accuracy."""
    setup = run["setup"]
    compiled, seconds = setup.get("compile", {}), setup.get("seconds", {})
    phases, counts = compiled.get("phases", {}), compile_counts(compiled)

    def both(key: str):
        return sum(phases.get(phase, {}).get(key, 0) for phase in ("train", "eval"))

    accuracy = [h["eval_accuracy"] for h in run["log_history"] if "eval_accuracy" in h]
    return {"run": name, "compile": compiled["chosen"],
            "process_wall_s": process_wall_s, "load_and_check_data_s": seconds.get("load_and_check_data"),
            "train_s": seconds.get("train"), "evaluate_s": seconds.get("evaluate"),
            "train_graphs": counts["train_graphs"], "train_recompiles": counts["train_recompiles"],
            "eval_graphs": counts["eval_graphs"], "compile_s": round(both("compile_s"), 1),
            "cache_hits": both("fx_graph_cache_hits") + both("aot_autograd_cache_hits"),
            "accuracy": " / ".join(f"{a:.4f}" for a in accuracy), "command": run.get("command"),
            "recompile_reasons": {p: v.get("recompile_reasons", []) for p, v in phases.items()}}


def recipe_results(runs: dict[str, Path], walls: dict[str, float] | None = None, about: str = "") -> dict:
    """{header, rows} (the results shape docs tables are made from) of named runs' run.json files;
    `walls`: each run's process wall seconds, measured by whoever started it."""
    loaded = {name: json.loads(Path(path).read_text()) for name, path in runs.items()}
    rows = [recipe_row(name, run, (walls or {}).get(name)) for name, run in loaded.items()]
    first = next(iter(loaded.values()), {})
    device = first.get("setup", {}).get("device", "cpu")
    where = {"gpu": device} if device != "cpu" else {"cpu": platform.processor() or platform.machine()}
    machine = {**where, "cores": os.cpu_count(), "versions": first.get("versions", {})}
    return {"header": {"scenario": "finetune recipes", "about": about, "machine": machine,
                       "columns": RECIPE_COLUMNS}, "rows": rows}
