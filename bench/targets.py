"""Every acceptance limit a measured figure is held to, in one place.

A `Target` judges one value (`key`) of the result rows it selects (`rows`: fields a judged row
has) against a limit. Bench judges a row where it writes it (`judge`): the verdict, "met" or
"missed", goes into the row under `verdict`, and the results header lists the targets
(`header`), so the documents show both without knowing any limit.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

from _infra.registry import add_unique

MET, MISSED = "met", "missed"
OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """`row[key] OP limit` for every row of `scenario`'s results that has the fields in `rows`."""

    name: str  # unique; also the verdict's row key unless `verdict` says otherwise
    scenario: str  # whose rows it judges: a scenario's NAME, or "bench" for `python -m bench`
    what: str  # the figure, in words: "ONNX int8 top-1 agreement with PyTorch"
    key: str  # the row value judged
    op: str  # one of OPS
    limit: float
    rows: tuple[tuple[str, object], ...] = ()  # (field, value) pairs a judged row has; () = every row
    verdict: str | None = None  # the row key the verdict goes to (default: name)

    @property
    def verdict_key(self) -> str:
        return self.verdict or self.name

    @property
    def label(self) -> str:
        """'agreement >= 0.98'"""
        return f"{self.what} {self.op} {self.limit:g}"

    def selects(self, row: dict) -> bool:
        return all(row.get(field) == value for field, value in self.rows) and row.get(self.key) is not None

    def judge(self, value: float) -> str:
        return MET if OPS[self.op](value, self.limit) else MISSED

    def header(self) -> dict:
        """What a results header says of it (JSON)."""
        return {"name": self.name, "what": self.what, "key": self.key, "op": self.op, "limit": self.limit,
                "rows": dict(self.rows), "verdict": self.verdict_key}


TARGETS: dict[str, Target] = {}


def target(*args, **kwargs) -> Target:
    t = Target(*args, **kwargs)
    assert t.op in OPS, t.op
    return add_unique(TARGETS, t.name, t, "target")


def of(scenario: str) -> list[Target]:
    """The targets judging `scenario`'s rows, in the order they are declared."""
    return [t for t in TARGETS.values() if t.scenario == scenario]


def judge(rows: list[dict], targets: list[Target]) -> list[dict]:
    """Every row a target selects gets its verdict (in place); returns `rows`."""
    for row in rows:
        for t in targets:
            if t.selects(row):
                row[t.verdict_key] = t.judge(row[t.key])
    return rows


def header(targets: list[Target]) -> list[dict]:
    return [t.header() for t in targets]


def from_header(entry: dict) -> Target:
    """A results header's target (`Target.header`) back as a Target."""
    return Target(entry["name"], "", entry["what"], entry["key"], entry["op"], entry["limit"],
                  tuple(entry["rows"].items()), entry["verdict"])


def disagreements(results: dict) -> list[str]:
    """Rows of a results file whose verdict is missing or not what its header's targets say (a
    figure edited without judging it again)."""
    out = []
    for t in map(from_header, results["header"].get("targets", [])):
        out += [f"row {i}: {t.verdict_key} '{row.get(t.verdict_key)}' but {row[t.key]} {t.op} {t.limit:g} is "
                f"{t.judge(row[t.key])}" for i, row in enumerate(results["rows"])
                if t.selects(row) and row.get(t.verdict_key) != t.judge(row[t.key])]
    return out


# python -m bench: the quantized and half-precision exports against fp32 and PyTorch
target("int8_accuracy_gap", "bench", "ONNX int8 accuracy, distance to fp32's", "accuracy_gap", "<=", 0.01,
       (("target", "onnx int8"),))
target("int8_agreement", "bench", "ONNX int8 top-1 agreement with PyTorch", "agreement", ">=", 0.98,
       (("target", "onnx int8"),))
target("fp16_agreement", "bench", "Core ML fp16 top-1 agreement with PyTorch", "agreement", ">=", 0.995,
       (("target", "coreml fp16"),))
target("fp32_heatmap_corr", "bench", "ONNX fp32 heatmap correlation with PyTorch's (mean)", "heatmap_corr", ">=",
       0.99, (("target", "onnx fp32"),))
target("int8_heatmap_corr", "bench", "ONNX int8 heatmap correlation with PyTorch's (mean)", "heatmap_corr", ">=",
       0.95, (("target", "onnx int8"),))

# onnx-latency: ratios of two graphs' latency, paired within a repeat (one row per ratio)
for _label, _limit in (("rollout overhead fp32", 1.03), ("rollout overhead int8", 1.03),
                       ("ours rollout fp32 / optimum fp32", 1.00), ("ours rollout fp32 / optimum O2 fp32", 1.00),
                       ("ours rollout fp32 / optimum O3 fp32", 1.00), ("ours rollout int8 / optimum int8", 0.75),
                       ("ours none fp32 / gemm floor fp32", 1.20)):
    target(_label, "onnx-latency", _label, "value", "<=", _limit, (("ratio", _label),), verdict="met")

target("gradrollout_overhead", "gradrollout-latency", "gradrollout / none", "ratio_to_none", "<=", 3.0,
       (("graph", "gradrollout"),), verdict="met")
target("batching_speedup", "runtime-batching", "speedup", "speedup", ">=", 1.5, verdict="met")
target("verify_share", "load-verify", "share of the load", "verify_share", "<", 0.2, verdict="met")
target("training_path_ratio", "finetune-throughput", "training path / ceiling", "ratio", ">=", 0.80, verdict="met")
# issue 27: a 12 MP photo to its overlay, per Swift build (explainable-vit-bench --postprocess)
for _build, _ms in (("release", 50), ("debug", 1500)):
    target(f"swift_overlay_{_build}", "swift-postprocess", f"{_build} p50 ms", "postprocess_ms_p50", "<=", _ms,
           (("target", "swift postprocess display-size"), ("build", _build)), verdict="met")
