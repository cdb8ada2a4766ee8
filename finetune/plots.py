"""Training pictures: the confusion matrix of a test split and the training curves."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from _infra.pictures import TICK_CHARS, plot_text, pyplot


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts `(n_classes, n_classes)`: row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(targets), np.asarray(predictions)), 1)
    return cm


def plot_confusion_matrix(cm: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised heatmap with counts in each cell; accuracy in the title."""
    plt = pyplot()
    n = len(labels)
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4.5, 0.55 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true")
    ax.set_xticklabels([plot_text(n, TICK_CHARS) for n in labels], rotation=45, ha="right")
    ax.set_yticklabels([plot_text(n, TICK_CHARS) for n in labels])
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(f"{plot_text(title)}  accuracy {accuracy:.4f}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_training_curves(log_history: list[dict], path: str | Path, title: str = "") -> Path:
    """Train and eval loss against epoch, eval accuracy on a second axis."""
    plt = pyplot()
    train = [(h["epoch"], h["loss"]) for h in log_history if "loss" in h and "epoch" in h]
    evals = [(h["epoch"], h["eval_loss"], h.get("eval_accuracy")) for h in log_history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train loss", color="tab:blue", alpha=0.8)
    if evals:
        ax.plot([e for e, _, _ in evals], [l for _, l, _ in evals], "o-", label="eval loss", color="tab:orange")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    if evals and evals[0][2] is not None:
        ax2 = ax.twinx()
        ax2.plot([e for e, _, _ in evals], [a for _, _, a in evals], "s--", color="tab:green", label="eval accuracy")
        ax2.set_ylabel("accuracy")
        ax2.set_ylim(0, 1)
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="center right")
    ax.set_title(plot_text(title or "training curves"))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
