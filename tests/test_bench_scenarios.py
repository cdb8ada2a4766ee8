"""Every registered bench scenario runs (small) through `python -m bench scenario`, writes its JSON
through the one writer and prints its table."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.scenarios import scenarios

SCENARIOS = scenarios()
OWN_TESTS = {"finetune-throughput": "test_bench_finetune_throughput.py", "onnx-latency": "test_bench_onnx_latency.py",
             "gemm-floor": "test_bench_onnx_latency.py"}  # scenarios whose rows a test of their own checks


def test_every_scenario_is_tested():
    here = Path(__file__).parent
    untested = [n for n, m in SCENARIOS.items() if not isinstance(getattr(m, "SMOKE", None), list)
                and not (n in OWN_TESTS and (here / OWN_TESTS[n]).is_file())]
    assert not untested, f"scenarios with neither SMOKE options (run small below) nor a test of their own: {untested}"


@pytest.mark.parametrize("name", [n for n, m in SCENARIOS.items() if hasattr(m, "SMOKE")])
def test_scenario_runs_small(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["scenario", name, *SCENARIOS[name].SMOKE, "--results", str(tmp_path / "results")]) == 0
    written = sorted((tmp_path / "results").glob("*.json"))
    assert len(written) == 1
    results = json.loads(written[0].read_text())
    assert results["rows"] and results["header"]["scenario"] == name and "cpu" in results["header"]["machine"]
    assert capsys.readouterr().out.startswith("| ")
    assert_shape(results)


def assert_shape(results: dict) -> None:
    """Every declared column is a value of some row, every declared target's verdict is in the rows
    it selects and agrees with its limit."""
    from bench.targets import disagreements, from_header

    keys = {k for r in results["rows"] for k in r}
    assert [c["key"] for c in results["header"]["columns"] if c["key"] not in keys] == []
    for t in map(from_header, results["header"].get("targets", [])):
        assert any(t.selects(r) for r in results["rows"]), t.name
    assert disagreements(results) == []


def test_unknown_scenario_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["scenario", "no-such-scenario"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
