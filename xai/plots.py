"""Pictures of explanations and of their quality (the explanation overlay is what apps draw)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from _infra.pictures import TICK_CHARS, plot_text, pyplot
from .overlay import FLAT_MAP_RANGE, OVERLAY_ALPHA, overlay_pixels, stretch  # noqa: F401  (one overlay, Pillow only)

OVERLAY_COLOUR_MAP = "jet"  # matplotlib's name for xai.overlay's table


def _overlay_axes(ax, image: np.ndarray, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA):
    """The photo with the stretched heatmap over it (see `overlay_pixels` for the same as pixels)."""
    ax.imshow(image)
    im = ax.imshow(stretch(heatmap), cmap=OVERLAY_COLOUR_MAP, alpha=alpha, vmin=0, vmax=1)
    ax.axis("off")
    return im


def plot_explanation(image: np.ndarray, heatmap: np.ndarray, path: str | Path, title: str,
                     method: str = "attention rollout") -> Path:
    """The seed's picture: the original beside the heatmap overlaid on it, with a colour bar.

    image: `(H, W, 3)` uint8; heatmap: `(H, W)` in [0, 1] at the image's size.
    """
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 4.4))
    a.imshow(image)
    a.set_title("input")
    a.axis("off")
    im = _overlay_axes(b, image, heatmap)
    b.set_title(plot_text(method))
    fig.colorbar(im, ax=b, fraction=0.046, pad=0.04, label="relevance (min-max scaled)")
    fig.suptitle(plot_text(title), fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_probabilities(labels: Sequence[str], probs: np.ndarray, path: str | Path, title: str, top: int = 10) -> Path:
    """Horizontal bars of the `top` most likely classes, the winner highlighted."""
    plt = pyplot()
    order = np.argsort(-probs)[:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(order) + 1.4))
    colours = ["tab:orange" if i == order[-1] else "tab:blue" for i in order]
    bars = ax.barh(range(len(order)), probs[order], color=colours)  # positions: shortened labels may repeat
    ax.set_yticks(range(len(order)), [plot_text(labels[i], TICK_CHARS) for i in order])
    for bar, p in zip(bars, probs[order]):
        ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, f"{p:.1%}", va="center", fontsize=9)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("probability")
    ax.set_title(plot_text(title))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_comparison(image: np.ndarray, rows: Sequence[tuple[str, str, float, np.ndarray]], path: str | Path,
                    title: str = "") -> Path:
    """Models side by side on one image: each panel is (model name, top-1 label, probability, heatmap)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows) + 1, figsize=(3.6 * (len(rows) + 1) + 0.6, 4))
    axes[0].imshow(image)
    axes[0].set_title("input")
    axes[0].axis("off")
    im = None
    for ax, (name, label, prob, heatmap) in zip(axes[1:], rows):
        im = _overlay_axes(ax, image, heatmap)
        ax.set_title(f"{plot_text(name, TICK_CHARS)}\n{plot_text(label, TICK_CHARS)} ({prob:.1%})", fontsize=10)
    fig.colorbar(im, ax=list(axes[1:]), fraction=0.025, pad=0.02, label="relevance")
    if title:
        fig.suptitle(plot_text(title))
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def _save(fig, path: str | Path, title: str = "") -> Path:
    """Title, tight layout, write at 100 dpi, close."""
    if title:
        fig.suptitle(plot_text(title))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot().close(fig)
    return Path(path)


def plot_method_grid(images: np.ndarray, maps: dict[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Rows = images, columns = the input then one overlay per method (maps `(k, gh, gw)` each)."""
    from .metrics import upsample

    plt = pyplot()
    names = list(maps)
    rows, cols = len(images), len(names) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 1.9 * rows + 0.6), squeeze=False)
    for r, image in enumerate(images):
        axes[r, 0].imshow(image)
        axes[r, 0].axis("off")
        for c, name in enumerate(names, start=1):
            _overlay_axes(axes[r, c], image, upsample(maps[name][r:r + 1], image.shape[:2])[0])
            if r == 0:
                axes[r, c].set_title(plot_text(name, TICK_CHARS), fontsize=9)
    axes[0, 0].set_title("input", fontsize=9)
    return _save(fig, path, title)


def plot_metric_curves(curves: dict[str, dict[str, list[float]]], path: str | Path, title: str = "") -> Path:
    """One panel per curve kind (perturbation pos/neg, deletion, insertion), one line per method."""
    plt = pyplot()
    kinds = list(next(iter(curves.values())))
    ylabel = {"perturbation-pos": "accuracy", "perturbation-neg": "accuracy"}
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        for method, by_kind in curves.items():
            y = np.asarray(by_kind[kind])
            x = np.linspace(0, 0.9, len(y)) if kind.startswith("perturbation") else np.linspace(0, 1, len(y))
            ax.plot(x, y, label=plot_text(method, TICK_CHARS), linestyle="--" if method == "random" else "-")
        ax.set_title(plot_text(kind))
        ax.set_xlabel("fraction of pixels " + ("inserted" if kind == "insertion" else "removed"))
        ax.set_ylabel(ylabel.get(kind, "probability of the explained class"))
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize=8)
    return _save(fig, path, title)


def plot_cascade(curves: dict[str, list[float]], stages: list[str], path: str | Path, title: str = "",
                 threshold: float = 0.5) -> Path:
    """Cascading randomisation: per method, the rank correlation with the trained model's map as the
    weights are randomised from the top down to each stage (the sanity threshold dashed)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.5, 0.7 * len(stages) + 2.5), 3.6))
    x = np.arange(len(stages))
    for method, curve in curves.items():
        ax.plot(x, curve, marker="o", label=plot_text(method, TICK_CHARS),
                linestyle="--" if method in ("random", "edges") else "-")
    ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    ax.set_xticks(x, [plot_text(f"to {s}", TICK_CHARS) for s in stages], rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("Spearman rank correlation")
    ax.set_ylim(-0.2, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path, title)
