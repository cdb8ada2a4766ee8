"""The fine-tuning throughput scenario, run small on the CPU (tiny preset, generated digits)."""
from __future__ import annotations

import json

import pytest
import torch

from bench.__main__ import scenario_main
from bench.scenarios import scenarios

TINY = ["--data", "digits", "--case", "demo:8", "--steps", "3", "--warmup-steps", "1", "--limit-test", "16"]


def test_scenario_measures_ceiling_and_training_path(tmp_path, capsys):
    assert "finetune-throughput" in scenarios()
    assert scenario_main(["finetune-throughput", *TINY, "--input-pipeline", "batch",
                          "--results", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "finetune-throughput.json").read_text())
    (row,) = results["rows"]
    assert row["preset"] == "demo" and row["batch"] == 8 and row["precision"] == "fp32"
    assert row["input_pipeline"] == "batch"
    assert row["ceiling_img_s"] > 0 and row["training_img_s"] > 0
    assert row["ratio"] == pytest.approx(row["training_img_s"] / row["ceiling_img_s"])
    assert row["host_syncs_per_step"] is None  # counted on CUDA only
    assert results["header"]["device"] == "cpu" and results["header"]["steps"] == 3
    assert "| demo | 8 |" in capsys.readouterr().out
    assert (row["compile"], row["train_graphs"], row["eval_graphs"]) == (False, 0, 0)


def test_a_compiled_path_reports_one_graph_and_no_recompile(tmp_path):
    """With --compile (torch's cheap aot_eager backend here), the path's training compiles one graph,
    though the ceiling compiled the same model's code just before in this process."""
    torch.compiler.set_default_backend("aot_eager")
    try:
        assert scenario_main(["finetune-throughput", *TINY, "--compile", "--results", str(tmp_path)]) == 0
    finally:
        torch.compiler.set_default_backend(None)
    (row,) = json.loads((tmp_path / "finetune-throughput.json").read_text())["rows"]
    assert row["compile"] is True and row["training_img_s"] > 0
    assert (row["train_graphs"], row["train_recompiles"], row["eval_graphs"], row["eval_recompiles"]) == (1, 0, 0, 0)


def test_a_bad_case_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        scenario_main(["finetune-throughput", "--data", "digits", "--case", "vit-huge:8", "--results", str(tmp_path)])
    assert e.value.code == 2 and "expected PRESET:BATCH" in capsys.readouterr().err


def test_bad_data_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        scenario_main(["finetune-throughput", "--data", str(tmp_path / "missing"), "--case", "demo:8",
                       "--results", str(tmp_path)])
    assert e.value.code == 2 and capsys.readouterr().err.strip().startswith("error: data folder")
