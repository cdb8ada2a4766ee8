"""bench: every target row against the PyTorch reference; a failing target never loses the others."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import LABELS, save_tiny_checkpoint, write_image_folder
from test_bench_scenarios import assert_shape

from bench.run import REFERENCE, TARGETS, BenchError, BenchTarget, heatmap_parity, run_bench
from export import ExportConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    data = write_image_folder(root / "data", labels=sorted(LABELS), per_class=5)
    return save_tiny_checkpoint(root / "ckpt", "vit"), data


def test_every_target_row_against_the_reference(setup, tmp_path):
    checkpoint, data = setup
    rows = run_bench(checkpoint, str(data), out=tmp_path / "out", latency_rounds=1)
    assert sorted(r["target"] for r in rows) == sorted(TARGETS)
    assert [r["target"] for r in rows][:2] == ["torch fp32", "torch fp32 gradrollout"]  # references first
    by = {r["target"]: r for r in rows}
    on_apple = sys.platform == "darwin"  # compute-unit rows need Apple's runtime; elsewhere they say why
    assert all(r["status"].startswith("works" if on_apple or not TARGETS[r["target"]].compute_units else "not measured")
               for r in rows), [r["status"] for r in rows]
    for name in ("onnx fp32", "coreml fp32", "onnx fp32 gradrollout", "coreml fp32 gradrollout", "openvino fp32",
                 "openvino fp32 gradrollout"):
        assert by[name]["agreement"] == 1.0 and by[name]["heatmap_corr"] > 0.9999, name
        assert by[name]["max_abs_logit_diff"] < 1e-4
    assert "heatmap_corr" not in by["onnx fp32 none"]
    assert by["onnx fp32"]["explain_overhead"] > 0 and by["onnx fp32 gradrollout"]["explain_overhead"] > 0
    for peer in ("optimum fp32", "torch fp32 none", "optimum fp32 openvino"):  # logits-only peers
        assert by[peer]["agreement"] == 1.0 and "explain_overhead" not in by[peer]
        assert by[peer]["max_abs_logit_diff"] < 1e-4
    assert "accuracy" in by["optimum int8"] and "explain_overhead" not in by["optimum int8"]
    for name in ("onnx fp32", "optimum fp32", "torch fp32"):
        assert by[name]["throughput_ips"] > 0 and by[name]["memory_mb"] >= 0 and by[name]["peak_rss_mb"] > 0
    out = tmp_path / "out"
    assert (out / "accuracy_vs_latency.png").is_file() and (out / "latency.png").is_file()
    assert (out / "confusion" / "onnx-fp32-gradrollout.png").is_file()
    assert by["onnx fp32"]["accuracy"] == by[REFERENCE]["accuracy"]
    assert "latency_ms_p50" in by["onnx fp32"] and by["onnx int8"]["size_mb"] < by["onnx fp32"]["size_mb"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(saved["rows"]) == len(TARGETS) and "cpu" in saved["header"]["machine"]
    assert_shape(saved)  # its columns and the targets that judged its rows (bench.targets), verdicts in the rows
    assert {t["name"] for t in saved["header"]["targets"]} == {"int8_accuracy_gap", "int8_agreement", "fp16_agreement",
                                                              "fp32_heatmap_corr", "int8_heatmap_corr"}
    assert by["onnx fp32"]["fp32_heatmap_corr"] == "met" and "accuracy_gap" in by["onnx int8"]
    assert "| onnx int8 |" in (tmp_path / "out" / "report.md").read_text()


def test_artifacts_are_reused_only_for_the_same_weights(setup, tmp_path):
    checkpoint, data = setup
    out = tmp_path / "out"
    run_bench(checkpoint, str(data), ["onnx fp32"], out=out, latency_rounds=1, memory=False)
    model = out / "artifacts" / TARGETS["onnx fp32"].artifact / "model.onnx"
    first = model.stat().st_mtime_ns
    run_bench(checkpoint, str(data), ["onnx fp32"], out=out, latency_rounds=1, memory=False)
    assert model.stat().st_mtime_ns == first, "same weights and options: the artifact is reused"
    other = save_tiny_checkpoint(tmp_path / "other", "vit", seed=3)
    rows = run_bench(other, str(data), ["onnx fp32"], out=out, latency_rounds=1, memory=False)
    assert model.stat().st_mtime_ns != first and rows[1]["agreement"] == 1.0


def test_a_failing_target_keeps_the_others(setup, tmp_path, monkeypatch):
    checkpoint, data = setup
    monkeypatch.setitem(TARGETS, "onnx broken", BenchTarget("onnx broken", "onnx",
                                                            ExportConfig(format="onnx", explain="gradcam")))
    rows = run_bench(checkpoint, str(data), ["onnx fp32", "onnx broken"], out=tmp_path / "o", latency_rounds=1, memory=False)
    status = {r["target"]: r["status"] for r in rows}
    assert status["onnx fp32"] == "works" and status["onnx broken"].startswith("failed: ExportError")


def test_bad_input(setup, tmp_path):
    checkpoint, data = setup
    with pytest.raises(BenchError, match="known: torch fp32"):
        run_bench(checkpoint, str(data), ["tflite fp32"], out=tmp_path)
    with pytest.raises(BenchError, match="--limit"):
        run_bench(checkpoint, str(data), limit=0, out=tmp_path)
    other = save_tiny_checkpoint(tmp_path / "other", "vit", labels=["a", "b", "c", "d"])
    with pytest.raises(BenchError, match="do not match"):
        run_bench(other, str(data), out=tmp_path / "out")


def test_heatmap_parity_metrics():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 4, 4))
    corr, iou = heatmap_parity(maps, maps)
    assert np.allclose(corr, 1) and np.allclose(iou, 1)
    corr, iou = heatmap_parity(maps, -maps)
    assert np.allclose(corr, -1) and np.allclose(iou, 0), "the top patches of a map are the bottom ones of its negative"


def test_cli_min_accuracy_fails_the_run(setup, tmp_path):
    checkpoint, data = setup
    proc = subprocess.run([sys.executable, "-m", "bench", str(checkpoint), "--data", str(data), "--targets",
                           "onnx fp32", "--out", str(tmp_path / "c"), "--min-accuracy", "1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and "below --min-accuracy" in proc.stderr
    assert "| onnx fp32 | works |" in proc.stdout


def test_a_preset_name_benches_random_weights(tmp_path):
    rows = run_bench("demo", "digits", ["onnx fp32"], limit=8, out=tmp_path, latency_rounds=1, memory=False)
    assert (tmp_path / "preset-demo" / "model.safetensors").is_file()
    assert [r["status"] for r in rows] == ["works", "works"] and rows[1]["agreement"] == 1.0


def test_the_quick_subset_comes_from_the_contract():
    from bench.run import quick_targets
    from runtime.contract import FORMATS

    quick = quick_targets()
    assert set(quick) <= set(TARGETS)
    for fmt in FORMATS.values():  # every format's default precision on its own backend, each explain kind
        assert {t.explain for n, t in TARGETS.items() if n in quick and t.export and not t.peer
                and t.export.format == fmt.name} == {"rollout", "gradrollout", "none"}


def _device_results(path: Path, **row_changes) -> Path:
    """A file as `explainable-vit-bench --json` writes it (apple/Sources/ExplainableViTBenchKit/Rows.swift)."""
    row = {"target": "coreml fp16 rollout cpu+ne", "backend": "coreml", "precision": "fp16", "explain": "rollout",
           "status": "works", "device": "iPhone15,2 (iOS 18.1)", "compute_units": "cpu+ne", "runs": 50,
           "load_ms": 412.0, "first_prediction_ms": 31.5, "latency_ms_p50": 2.41, "latency_ms_p90": 2.9,
           "postprocess_ms_p50": 11.2, "memory_mb": 38.5, **row_changes}
    header = {"machine": {"cpu": "Apple A16", "cores": "6"}, "command": "explainable-vit-bench m.mlpackage",
              "model": "m.mlpackage"}
    path.write_text(json.dumps({"header": header, "rows": [row]}))
    return path


def test_device_rows_join_the_report_named_by_their_device(setup, tmp_path):
    from bench.__main__ import main

    checkpoint, data = setup
    device = _device_results(tmp_path / "iphone.json")
    out = tmp_path / "b"
    assert main([str(checkpoint), "--data", str(data), "--targets", "onnx fp32", "--no-memory", "--limit", "4",
                 "--out", str(out), "--device-results", str(device)]) == 0
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["target"] for r in rows] == ["torch fp32", "onnx fp32",
                                           "coreml fp16 rollout cpu+ne @ iPhone15,2 (iOS 18.1)"]
    assert rows[-1]["latency_ms_p50"] == 2.41 and rows[-1]["imported_from"] == str(device)
    report = (out / "report.md").read_text()
    assert "Measured on Apple devices" in report and "| coreml fp16 rollout cpu+ne @ iPhone15,2 (iOS 18.1) | cpu+ne |" in report


def test_a_device_results_file_that_is_not_ours_is_refused_whole(setup, tmp_path, capsys):
    from bench.__main__ import main

    checkpoint, data = setup
    bad = _device_results(tmp_path / "bad.json", device="", latency_ms_p50=float("nan"))
    assert main([str(checkpoint), "--data", str(data), "--out", str(tmp_path / "b"), "--device-results", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rows[0].device must be a non-empty string" in err and "rows[0].latency_ms_p50 must be a finite" in err
    assert not (tmp_path / "b").exists(), "refused before any work"
