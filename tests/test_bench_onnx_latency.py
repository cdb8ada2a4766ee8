"""bench scenarios `gemm-floor` and `onnx-latency` on the tiny `demo` preset: the floor graph computes
exactly the model's products, and one interleaved run gives every row its ratios."""
from __future__ import annotations

import argparse
import json

import numpy as np
import onnx
import pytest

from bench.scenarios import scenarios
from test_bench_scenarios import assert_shape
from bench.scenarios.gemm_floor import floor_graph, floor_inputs, gflop, model_matmuls
from finetune.presets import PRESETS

FLOOR_ATOL = 1e-3  # the floor graph against numpy, fp32 products of ~unit-size values
DEIT_TINY_GFLOP = 2.507  # 12 x (4 N D^2 + 2 N D I + 2 N^2 D) x 2 + the patch embedding, N = 197


def scenario_args(name: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    scenarios()[name].add_arguments(parser)
    return parser.parse_args(argv)


def test_floor_counts_deit_tiny_products():
    preset = PRESETS["deit-tiny"]
    assert gflop(preset) == pytest.approx(DEIT_TINY_GFLOP, abs=1e-3)
    assert sum(b for _, b, *_ in model_matmuls(preset)) == 1 + 12 * (4 + 2 + 2 * 3)


def test_floor_graph_computes_the_chained_products():
    import onnxruntime as ort

    preset = PRESETS["demo"]
    model = floor_graph(preset)
    weights = {t.name: np.frombuffer(t.raw_data, np.float32).reshape(t.dims) for t in model.graph.initializer}
    feed = floor_inputs(preset)
    x, att, w = feed["x"], feed["heads"], iter(weights[f"w{i}"] for i in range(len(weights)))
    for _ in range(preset.num_hidden_layers):
        for _ in range(6):
            x = x @ next(w)
        att = att @ feed["k_t"] @ feed["v"]
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feed)
    np.testing.assert_allclose(got[0], x, atol=FLOOR_ATOL)
    np.testing.assert_allclose(got[1], att, atol=FLOOR_ATOL)
    np.testing.assert_allclose(got[2], feed["patches"] @ next(w), atol=FLOOR_ATOL)


def test_gemm_floor_scenario(tmp_path):
    result = scenarios()["gemm-floor"].run(scenario_args("gemm-floor", [
        "--preset", "demo", "--rounds", "1", "--iters", "2", "--work", str(tmp_path)]))
    assert [r["graph"] for r in result["rows"]] == ["gemm floor fp32", "gemm floor int8"]
    assert all(r["p50_ms"] > 0 and r["gflop_per_s"] > 0 for r in result["rows"])
    assert_shape(result)
    int8 = onnx.load(str(tmp_path / "floor-int8.onnx"))
    quantized = [n for n in int8.graph.node if n.op_type == "MatMulInteger"]
    assert len(quantized) == 1 + 6 * PRESETS["demo"].num_hidden_layers, "every weight product, no attention product"


def test_onnx_latency_scenario_gives_every_row_its_ratios(tmp_path):
    from bench.__main__ import main

    graphs = ["ours none fp32", "ours rollout fp32", "ours rollout fp32 openvino", "optimum fp32", "floor fp32",
              "ours none fp32 1 thread"]
    pytest.importorskip("openvino")
    code = main(["scenario", "onnx-latency", "--preset", "demo", "--rounds", "1", "--iters", "2", "--repeat", "3",
                 "--work", str(tmp_path / "work"), "--results", str(tmp_path), "--graphs", *graphs])
    assert code == 0
    saved = json.loads((tmp_path / "onnx-latency-demo.json").read_text())  # one results file per preset
    rows = {r["graph"]: r for r in saved["rows"]}
    assert list(rows) == graphs and all(r["p50_ms"] > 0 for r in rows.values())
    one = rows.pop("ours none fp32 1 thread")  # timed on its own thread count: no ratios to the others
    assert one["threads"] == 1 and "x_floor" not in one and "x_optimum" not in one
    assert all("x_floor" in r for r in rows.values()) and rows["floor fp32"]["x_floor"] == 1
    assert rows["optimum fp32"]["x_optimum"] == 1
    assert "x_optimum" not in rows["ours rollout fp32 openvino"]  # no optimum row on OpenVINO was timed
    ratios = json.loads((tmp_path / "onnx-latency-demo-targets.json").read_text())  # the targets: their own file
    scaled = ratios["header"]["scaling_per_repeat"]
    assert len(scaled) == 3 and all(s > 0 for s in scaled)
    targets = {t["ratio"]: t for t in ratios["rows"]}
    assert set(targets) == {"rollout overhead fp32", "ours rollout fp32 / optimum fp32",
                            "ours none fp32 / gemm floor fp32"}
    for t in targets.values():  # the median of three repeats, inside their range, judged
        assert t["low"] <= t["value"] <= t["high"] and t["met_in"].endswith("/3") and len(t["per_repeat"]) == 3
        assert "usual_value" in t  # the split by scaling, given whenever both scaling rows were timed
        assert t["met"] == ("met" if t["value"] <= t["limit"] else "missed")
    assert_shape(saved)
    assert_shape(ratios)
    per_repeat = saved["header"]["latency_ms"]["ours none fp32"]["p50_per_repeat"]
    assert len(per_repeat) == 3 and rows["ours none fp32"]["p50_ms"] == pytest.approx(sorted(per_repeat)[1], abs=1e-3)
    assert (tmp_path / "work" / "demo" / "ours-none-fp32").is_dir()  # exports kept per preset
    assert saved["header"]["machine"]["cpu"] and saved["header"]["scenario"] == "onnx-latency"


def test_targets_are_also_judged_over_the_repeats_where_two_threads_scaled():
    from bench.scenarios.onnx_latency import SCALED_AT_MOST, scaling, target_ratios

    def repeat(overhead: float, two: float) -> dict:  # round p50s of one repeat, three rounds
        return {"ours rollout fp32": {"round_p50": [10 * overhead * two] * 3},
                "ours none fp32": {"round_p50": [10 * two] * 3}, "ours none fp32 1 thread": {"round_p50": [10] * 3}}

    repeats = [repeat(1.02, 0.6), repeat(1.06, 0.9), repeat(1.05, 0.88), repeat(1.025, 0.62)]
    scaled = scaling(repeats)
    assert scaled == [0.6, 0.9, 0.88, 0.62] and sum(s <= SCALED_AT_MOST for s in scaled) == 2
    (overhead,) = target_ratios(repeats, scaled)
    assert overhead["ratio"] == "rollout overhead fp32" and overhead["value"] == pytest.approx(1.0375, abs=1e-3)
    assert overhead["met"] == "missed" and overhead["met_in"] == "2/4"
    assert overhead["usual_value"] == pytest.approx(1.0225, abs=1e-3)
    assert overhead["usual_met"] == "met" and overhead["usual_met_in"] == "2/2"
    assert target_ratios(repeats[1:3], scaling(repeats[1:3]))[0]["usual_value"] is None  # no repeat scaled
    assert scaling([{k: v for k, v in r.items() if k != "ours none fp32 1 thread"} for r in repeats]) is None


def test_profile_counts_kernel_time_per_op_and_call_after_the_warm_up():
    from bench.scenarios.onnx_profile import op_times

    def node(op, ts, dur):
        return {"cat": "Node", "name": f"n_{op}_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}

    def run(ts):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": 90}

    events = [run(0), node("Gemm", 1, 9000), node("Gemm", 2, 9000),          # warm-up: left out
              run(100), node("Gemm", 101, 40), node("Gemm", 102, 60), node("Softmax", 103, 10),
              node("Gemm", 103, 0) | {"name": "n_Gemm_fence_before"},        # not a kernel time
              run(200), node("Gemm", 201, 50), node("Gemm", 202, 50), node("Softmax", 203, 30)]
    assert op_times(events, skip=1) == {"Gemm": {"ms": 0.1, "nodes": 2.0}, "Softmax": {"ms": 0.02, "nodes": 1.0}}
    with pytest.raises(ValueError, match="no model_run"):
        op_times(events, skip=3)


def test_profile_scenario_splits_products_from_the_rest(tmp_path):
    result = scenarios()["onnx-profile"].run(scenario_args("onnx-profile", [
        "--preset", "demo", "--calls", "3", "--graphs", "ours none fp32", "floor fp32", "--work", str(tmp_path)]))
    floor, ours = result["header"]["graphs"]["floor fp32"], result["header"]["graphs"]["ours none fp32"]
    assert floor["products_ms"] == pytest.approx(floor["kernel_ms"]) and floor["kernel_ms"] > 0, "only products"
    assert 0 < ours["products_ms"] < ours["kernel_ms"]
    ops = {r["op"]: r for r in result["rows"] + result["header"]["other_ops"]}
    assert ops["MatMul"]["floor fp32 nodes"] == 1 + 8 * PRESETS["demo"].num_hidden_layers
    assert ops["LayerNormalization"]["floor fp32"] is None and ops["LayerNormalization"]["ours none fp32"] > 0


def test_interleaved_rounds_take_the_runners_in_a_fresh_order():
    from bench.timing import interleaved_latency

    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in "abcde"}
    times = interleaved_latency(runners, rounds=6, iters=2, warmup=0, progress=False)
    rounds = [calls[i:i + 10:2] for i in range(0, len(calls), 10)]
    assert rounds[0] == list("abcde") and all(sorted(r) == list("abcde") for r in rounds)
    assert len({tuple(r) for r in rounds}) > 1, "every round in the same order"
    assert all(len(t["round_p50"]) == 6 and t["samples"] == 12 for t in times.values())
