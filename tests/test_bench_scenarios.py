"""Every registered bench scenario runs (small) through `python -m bench scenario`, writes its JSON
through the one writer and prints its table."""
from __future__ import annotations

import json

import pytest

from bench.__main__ import main
from bench.scenarios import scenarios

SCENARIOS = scenarios()


def test_every_scenario_says_how_to_run_it_small():
    missing = [n for n, m in SCENARIOS.items() if not isinstance(getattr(m, "SMOKE", None), list)]
    assert not missing, f"scenarios without SMOKE options (a seconds-long run for this test): {missing}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_runs_small(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["scenario", name, *SCENARIOS[name].SMOKE, "--results", str(tmp_path / "results")]) == 0
    written = list((tmp_path / "results").glob("*.json"))
    assert len(written) == 1
    results = json.loads(written[0].read_text())
    assert results["rows"] and results["header"]["scenario"] == name and "cpu" in results["header"]["machine"]
    assert capsys.readouterr().out.startswith("| ")


def test_unknown_scenario_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["scenario", "no-such-scenario"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
