"""The bench pictures: accuracy against latency, and latency per target with the explanation's
share stacked on the same backend's plain (explain none) latency.

Pictures people read: no label is printed over another (targets are told apart by a legend, never
by text next to the points), an axis whose values span more than `LOG_RATIO` is logarithmic (a
160 ms PyTorch row must not flatten 1 ms ONNX bars), and every axis and number carries its unit."""
from __future__ import annotations

from pathlib import Path

from _infra.pictures import TICK_CHARS, plot_text, pyplot
from runtime.contract import gives_map

LOG_RATIO = 10  # largest / smallest value beyond which an axis is logarithmic
MARKERS = {"none": "s", "gradrollout": "^"}  # by explain kind; every other kind "o"
MODEL, EXPLANATION, PEER = "tab:blue", "tab:orange", "tab:gray"
LATENCY_LABEL = "latency, batch 1, p50 (ms)"


def log_scale_needed(values: list[float]) -> bool:
    """Whether values this far apart need a log axis to all be seen."""
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_RATIO


def _latency_axis(ax, which: str, latencies: list[float]) -> str:
    """Axis `which` ("x" or "y") on a log scale when the `latencies` span needs it, its ticks plain
    numbers (30, 100, 200), not powers of ten; the axis label to give it."""
    from matplotlib.ticker import FuncFormatter

    if not log_scale_needed(latencies):
        return LATENCY_LABEL
    getattr(ax, f"set_{which}scale")("log")
    axis, plain = getattr(ax, f"{which}axis"), FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(plain)
    axis.set_minor_formatter(plain)
    return LATENCY_LABEL.replace("(ms)", "(ms, log scale)")


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    return Path(path)


def plot_accuracy_vs_latency(rows: list[dict], path: Path, title: str = "") -> Path | None:
    fig = accuracy_vs_latency_figure(rows, title)
    return _save(fig, path) if fig is not None else None


def plot_latency_breakdown(rows: list[dict], path: Path) -> Path | None:
    fig = latency_figure(rows)
    return _save(fig, path) if fig is not None else None


def accuracy_vs_latency_figure(rows: list[dict], title: str = ""):
    """One point per target: its own colour, a marker per explain kind, named in the legend."""
    timed = [r for r in rows if r.get("latency_ms_p50") and r.get("accuracy") is not None]
    if not timed:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    colours = plt.get_cmap("tab20")
    for i, r in enumerate(timed):
        ax.scatter(r["latency_ms_p50"], r["accuracy"], marker=MARKERS.get(r.get("explain"), "o"), s=55,
                   color=colours(i % 20), edgecolors="black", linewidths=0.4, alpha=0.85,
                   label=plot_text(r["target"], TICK_CHARS))
    ax.set_xlabel(_latency_axis(ax, "x", [r["latency_ms_p50"] for r in timed]))
    ax.set_ylabel("accuracy (share of test images right)")
    ax.set_title(plot_text(title or "accuracy vs latency (o rollout, ^ gradrollout, s no explanation)"))
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7, frameon=False, title="target")
    return fig


def latency_figure(rows: list[dict]):
    """Bars: plain latency of the backend/precision, plus the explanation's extra on top, each bar
    with its latency in ms and, for explained rows, the overhead (x times the plain latency)."""
    plain = {(r["backend"], r["precision"]): r["latency_ms_p50"] for r in rows
             if not gives_map(r.get("explain")) and not r.get("peer") and r.get("latency_ms_p50")}
    timed = [r for r in rows if r.get("latency_ms_p50")]
    if not timed:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.75 * len(timed) + 2), 4.8))
    for i, r in enumerate(timed):
        _bar(ax, i, r, plain.get((r["backend"], r["precision"])))
    ax.set_ylabel(_latency_axis(ax, "y", [r["latency_ms_p50"] for r in timed]))
    ax.set_xticks(range(len(timed)), [plot_text(r["target"], TICK_CHARS) for r in timed], rotation=40, ha="right",
                  fontsize=8)
    ax.set_title("latency per target; above each bar: ms, and the explanation's overhead\n"
                 "(x = latency / the same backend and precision without explanation)", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (MODEL, EXPLANATION, PEER)]
    ax.legend(handles, ["model (explain none)", "explanation's extra", "peer (other exporter)"], fontsize=8,
              loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.margins(y=0.15)
    return fig


def _bar(ax, i: int, row: dict, base: float | None) -> None:
    """One target's bar: stacked on its plain latency when it explains and that latency is known."""
    total = row["latency_ms_p50"]
    explained = gives_map(row.get("explain")) and not row.get("peer")
    if explained and base is not None and base <= total:
        ax.bar(i, base, color=MODEL)
        ax.bar(i, total - base, bottom=base, color=EXPLANATION)
        text = f"{total:.3g} ms\nx{total / base:.2f}"
    else:
        ax.bar(i, total, color=PEER if row.get("peer") else MODEL)
        text = f"{total:.3g} ms"
    ax.annotate(text, (i, total), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=7)
