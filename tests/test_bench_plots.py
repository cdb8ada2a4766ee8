"""The bench pictures as people read them, on committed bench results: no text printed over other
text, a log axis where rows differ by orders of magnitude, units on the axes and the overhead."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.plots import LOG_RATIO, accuracy_vs_latency_figure, latency_figure, plot_latency_breakdown

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def rows(name: str) -> list[dict]:
    return json.loads((RESULTS / f"{name}.json").read_text())["rows"]


def overprinted(fig) -> list[tuple[str, str]]:
    """Pairs of texts drawn in the plot area (point labels, bar labels) whose boxes overlap."""
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in ax.texts if t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    return [(a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1:] if box.overlaps(other)]


@pytest.mark.parametrize("name", ["bench_cifar-tiny", "bench_vit-base-224", "bench_deit-tiny-224"])
def test_no_label_is_printed_over_another(name):
    from _infra.pictures import pyplot

    for figure in (accuracy_vs_latency_figure, latency_figure):
        fig = figure(rows(name))
        try:
            assert not overprinted(fig), overprinted(fig)[:3]
        finally:
            pyplot().close(fig)


def test_every_target_is_named_in_the_legend():
    from _infra.pictures import pyplot

    timed = [r for r in rows("bench_cifar-tiny") if r.get("latency_ms_p50") and r.get("accuracy") is not None]
    fig = accuracy_vs_latency_figure(rows("bench_cifar-tiny"))
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    pyplot().close(fig)
    assert legend == [r["target"] for r in timed]


def test_a_log_axis_where_rows_differ_by_orders_of_magnitude():
    from _infra.pictures import pyplot

    spread = [{"target": t, "backend": b, "precision": "fp32", "explain": e, "latency_ms_p50": ms, "accuracy": 0.9}
              for t, b, e, ms in (("torch fp32", "torch", "rollout", 160.0), ("onnx fp32", "onnx", "rollout", 1.2),
                                  ("onnx fp32 none", "onnx", "none", 1.1))]
    assert 160.0 / 1.1 > LOG_RATIO
    for figure, scale in ((accuracy_vs_latency_figure, "get_xscale"), (latency_figure, "get_yscale")):
        fig = figure(spread)
        assert getattr(fig.axes[0], scale)() == "log"
        assert "log scale" in (fig.axes[0].get_xlabel() + fig.axes[0].get_ylabel())
        pyplot().close(fig)
        close = figure(spread[1:])
        assert getattr(close.axes[0], scale)() == "linear"
        pyplot().close(close)


def test_every_axis_and_the_overhead_carry_their_unit(tmp_path):
    from _infra.pictures import pyplot

    table = rows("bench_cifar-tiny")
    fig = latency_figure(table)
    ax = fig.axes[0]
    assert "(ms" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.texts]
    overheads = {r["target"]: r["explain_overhead"] for r in table if r.get("explain_overhead")}
    timed = [r for r in table if r.get("latency_ms_p50")]
    assert all(text.split("\n")[0].endswith(" ms") for text in labels) and len(labels) == len(timed)
    for r, text in zip(timed, labels):
        if r["target"] in overheads:  # the same ratio bench wrote, as x times the plain latency
            assert f"x{overheads[r['target']]:.2f}" in text
    pyplot().close(fig)
    fig = accuracy_vs_latency_figure(table)
    assert "(ms" in fig.axes[0].get_xlabel() and "share" in fig.axes[0].get_ylabel()
    pyplot().close(fig)
    assert plot_latency_breakdown(table, tmp_path / "latency.png").stat().st_size > 0
