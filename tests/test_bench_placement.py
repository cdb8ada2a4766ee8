"""bench's Core ML compute-unit axis: a row per unit, measured on macOS with an op-placement summary
(MLComputePlan, macOS 14.4+); elsewhere the rows exist and say why nothing was measured."""
from __future__ import annotations

import sys

import pytest
from conftest import LABELS, save_tiny_checkpoint, write_image_folder

from bench.placement import MIN_MACOS, compute_plan_ops, format_placement, placement, summarize, unavailable_reason
from bench.run import TARGETS, run_bench
from runtime.coreml import COMPUTE_UNITS

UNIT_TARGETS = [name for name, t in TARGETS.items() if t.compute_units]
ON_PLAN_MAC = unavailable_reason() is None


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("placement")
    data = write_image_folder(root / "data", labels=sorted(LABELS), per_class=2)
    return save_tiny_checkpoint(root / "ckpt", "vit"), data


def test_a_row_per_compute_unit():
    assert sorted(TARGETS[n].compute_units for n in UNIT_TARGETS) == sorted(COMPUTE_UNITS)
    assert len({TARGETS[n].artifact for n in UNIT_TARGETS}) == 1, "the units share one export"


@pytest.mark.skipif(sys.platform == "darwin", reason="off macOS only")
def test_rows_off_macos_say_why_and_the_report_shows_it(setup, tmp_path):
    checkpoint, data = setup
    rows = run_bench(checkpoint, str(data), UNIT_TARGETS, out=tmp_path, latency_rounds=1, memory=False)
    by = {r["target"]: r for r in rows}
    assert set(UNIT_TARGETS) <= set(by)
    for name in UNIT_TARGETS:
        assert by[name]["status"].startswith("not measured: Apple's Core ML runtime needs macOS"), by[name]
        assert "latency_ms_p50" not in by[name] and "needs Apple's Core ML runtime" in by[name]["placement"]["reason"]
    report = (tmp_path / "report.md").read_text()
    assert "## Core ML op placement" in report and f"| {UNIT_TARGETS[0]} | not available: " in report


@pytest.mark.parametrize("system, version, available", [
    ("Linux", "", False), ("Windows", "", False), ("Darwin", "13.6", False), ("Darwin", "14.3.1", False),
    ("Darwin", "14.4", True), ("Darwin", "15.1", True), ("Darwin", "10.15.7", False)])
def test_placement_needs_macos_14_4(system, version, available):
    reason = unavailable_reason(system, version)
    assert (reason is None) == available
    if not available:
        assert ".".join(map(str, MIN_MACOS)) in reason and (system in reason or version in reason)


def test_summary_shares_of_ops_and_cost():
    ops = [("conv", "MLNeuralEngineComputeDevice", 0.6), ("softmax", "MLNeuralEngineComputeDevice", 0.1),
           ("reduce_max", "MLCPUComputeDevice", 0.3), ("const", None, None)]
    summary = summarize(ops)
    assert summary["ops"] == 4
    ne, cpu = summary["devices"]["neural engine"], summary["devices"]["cpu"]
    assert (ne["ops"], ne["op_share"], ne["cost_share"]) == (2, 0.5, pytest.approx(0.7))
    assert (cpu["op_share"], cpu["cost_share"]) == (0.25, pytest.approx(0.3))
    assert list(summary["devices"])[0] == "neural engine"  # most ops first
    text = format_placement([{"target": "coreml fp16 cpu+ne", "placement": summary},
                             {"target": "coreml fp16 cpu", "placement": {"reason": "no Mac"}}, {"target": "onnx"}])
    assert "| coreml fp16 cpu+ne | neural engine | 2 | 50.0% | 70.0% |" in text
    assert "| coreml fp16 cpu | not available: no Mac |" in text and "| onnx |" not in text


@pytest.mark.skipif(ON_PLAN_MAC, reason="Linux behaviour")
def test_the_compute_plan_api_refuses_off_apple(tmp_path):
    # the real coremltools call, not a stand-in: off Apple it has no runtime to ask
    with pytest.raises(ValueError, match="not supported"):
        compute_plan_ops(str(tmp_path / "model.mlmodelc"), "ALL")


@pytest.mark.skipif(not ON_PLAN_MAC, reason="needs Apple's Core ML runtime on macOS 14.4+")
@pytest.mark.parametrize("units", sorted(COMPUTE_UNITS))
def test_placement_on_apple_covers_every_op(setup, tmp_path, units):
    from export import ExportConfig, export_model
    from runtime.coreml import CoreMLBackend
    from runtime.manifest import read_manifest

    export_model(setup[0], tmp_path / "a", ExportConfig(format="coreml"))
    summary = placement(CoreMLBackend(tmp_path / "a", read_manifest(tmp_path / "a"), compute_units=units,
                                      reference=False))
    assert "reason" not in summary, summary
    assert sum(d["ops"] for d in summary["devices"].values()) == summary["ops"] > 0
    if units == "cpu":
        assert set(summary["devices"]) <= {"cpu", "not reported"}
