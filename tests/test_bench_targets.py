"""bench.targets: one home for every acceptance limit; a target judges the rows it selects where
they are written, and results declare the columns their rows carry."""
from __future__ import annotations

import pytest

from _infra.registry import DuplicateName
from bench import targets as T
from bench.scenarios import cell, column, format_columns, shaped


def test_a_target_judges_only_the_rows_it_selects():
    t = T.TARGETS["int8_agreement"]  # agreement >= 0.98 on the `onnx int8` row
    rows = [{"target": "onnx int8", "agreement": 0.981}, {"target": "onnx fp32", "agreement": 0.5},
            {"target": "onnx int8", "agreement": 0.979}, {"target": "onnx int8"}]
    T.judge(rows, [t])
    assert [r.get("int8_agreement") for r in rows] == ["met", None, "missed", None]


@pytest.mark.parametrize("op, value, verdict", [("<=", 1.03, "met"), ("<", 1.03, "missed"), (">=", 1.03, "met"),
                                                 ("<=", 1.031, "missed"), (">=", 1.029, "missed")])
def test_each_comparison_at_its_boundary(op, value, verdict):
    assert T.Target("t", "s", "x", "x", op, 1.03).judge(value) == verdict


def test_targets_sharing_a_verdict_key_judge_their_own_rows():
    """The Swift overlay targets: release and debug rows each against their own limit, in one column."""
    rows = [{"target": "swift postprocess display-size", "build": b, "postprocess_ms_p50": ms}
            for b, ms in (("release", 49.0), ("release", 71.5), ("debug", 460.0), ("debug", 1600.0))]
    rows.append({"target": "swift postprocess reference full-size", "build": "release", "postprocess_ms_p50": 1.0})
    T.judge(rows, T.of("swift-postprocess"))
    assert [r.get("met") for r in rows] == ["met", "missed", "met", "missed", None]


def test_every_limit_is_registered_once_and_names_its_scenario():
    from bench.scenarios import scenarios

    known = set(scenarios()) | {"bench", "swift-postprocess"}
    assert {t.scenario for t in T.TARGETS.values()} <= known
    with pytest.raises(DuplicateName, match="registered twice"):
        T.target("batching_speedup", "runtime-batching", "speedup", "speedup", ">=", 2.0)


def test_the_header_says_what_was_judged_and_the_docs_check_it():
    rows = [{"preset": "demo", "speedup": 1.6}, {"preset": "tiny", "speedup": 1.2}]
    results = shaped({}, rows, [column("preset"), column("speedup", digits=2)], T.of("runtime-batching"))
    assert [r["met"] for r in results["rows"]] == ["met", "missed"]
    (target,) = results["header"]["targets"]
    assert target == {"name": "batching_speedup", "what": "speedup", "key": "speedup", "op": ">=", "limit": 1.5,
                      "rows": {}, "verdict": "met"}
    assert T.disagreements(results) == []
    results["rows"][1]["speedup"] = 1.7  # edited, not judged again
    assert T.disagreements(results) == ["row 1: met 'missed' but 1.7 >= 1.5 is met"]


def test_bench_judges_its_rows_with_the_derived_accuracy_gap():
    from bench.run import add_derived

    rows = [{"backend": "onnx", "precision": p, "explain": "rollout", "target": f"onnx {p}", "accuracy": a}
            for p, a in (("fp32", 0.7355), ("int8", 0.7200))]
    add_derived(rows)
    T.judge(rows, T.of("bench"))
    assert rows[1]["accuracy_gap"] == pytest.approx(0.0155) and rows[1]["int8_accuracy_gap"] == "missed"
    assert "accuracy_gap" not in rows[0] and "int8_accuracy_gap" not in rows[0]


def test_cells_follow_the_declared_digits():
    assert [cell(v, 3) for v in (1.23456, 2, 0.0002, -0.0004, 0.0)] == ["1.235", "2.000", "2.0e-04", "-4.0e-04",
                                                                         "0.000"]
    assert [cell(v) for v in (1.23456, 7, None, True, "missed", "met")] == ["1.235", "7", "", "yes", "**missed**",
                                                                             "met"]
    table = format_columns([{"a": 1.5, "b": None}, {"a": 2.25}], [column("a", "A", "ms", 1), column("b")])
    assert table.splitlines() == ["| A ms |", "| --- |", "| 1.5 |", "| 2.2 |"]  # b is empty in every row: left out
