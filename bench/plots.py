"""The bench pictures: accuracy against latency, and latency per target with the explanation's
share stacked on the same backend's plain (explain none) latency."""
from __future__ import annotations

from pathlib import Path

from _infra.pictures import TICK_CHARS, plot_text, pyplot
from runtime.contract import gives_map


def plot_accuracy_vs_latency(rows: list[dict], path: Path, title: str = "") -> Path | None:
    timed = [r for r in rows if r.get("latency_ms_p50") and r.get("accuracy") is not None]
    if not timed:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in timed:
        marker = {"none": "s", "gradrollout": "^"}.get(r.get("explain"), "o")
        ax.scatter(r["latency_ms_p50"], r["accuracy"], marker=marker, s=50)
        ax.annotate(plot_text(r["target"], TICK_CHARS), (r["latency_ms_p50"], r["accuracy"]), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
    ax.set_xlabel("latency, batch 1, p50 (ms)")
    ax.set_ylabel("accuracy")
    ax.set_title(plot_text(title or "accuracy vs latency (o rollout, ^ gradrollout, s no explanation)"))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_latency_breakdown(rows: list[dict], path: Path) -> Path | None:
    """Bars: plain latency of the backend/precision, plus the explanation's extra on top."""
    plain = {(r["backend"], r["precision"]): r["latency_ms_p50"] for r in rows
             if not gives_map(r.get("explain")) and not r.get("peer") and r.get("latency_ms_p50")}
    timed = [r for r in rows if r.get("latency_ms_p50")]
    if not timed:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(timed) + 2), 4.5))
    for i, r in enumerate(timed):
        base = plain.get((r["backend"], r["precision"])) if gives_map(r.get("explain")) and not r.get("peer") else None
        if base is not None and base <= r["latency_ms_p50"]:
            ax.bar(i, base, color="tab:blue")
            ax.bar(i, r["latency_ms_p50"] - base, bottom=base, color="tab:orange")
        else:
            ax.bar(i, r["latency_ms_p50"], color="tab:gray" if r.get("peer") else "tab:blue")
    ax.set_xticks(range(len(timed)), [plot_text(r["target"], TICK_CHARS) for r in timed], rotation=40, ha="right",
                  fontsize=8)
    ax.set_ylabel("latency, batch 1, p50 (ms)")
    ax.set_title("latency: model (blue) + explanation (orange); peers grey")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
