"""`--compile`: one graph per phase, counted from torch's own counters and written to run.json.

The runs compile with torch's `aot_eager` backend (dynamo + AOTAutograd, no code generation): the
same graphs, guards and recompiles as inductor, in seconds on a CPU.
"""
from __future__ import annotations

import json

import pytest
import torch

from finetune import FinetuneConfig, finetune
from finetune.compilation import AUTO, CompileLog, choose_compile, pad_batch
from finetune.config import COMPILE

# 90 training images in batches of 16 (a last batch of 10) and 40 test images in batches of 32
# (a last batch of 8): every phase meets a second shape, and two epochs evaluate three times.
SHAPES = dict(batch_size=16, limit_train=90, eval_batch_size=32, limit_test=40, epochs=2)
FAST = dict(model="demo", data="digits", lr=2e-3, flip=False, progress=False, logging_steps=5, **SHAPES)


@pytest.fixture(scope="module")
def cheap_backend():
    torch.compiler.set_default_backend("aot_eager")
    try:
        yield
    finally:
        torch.compiler.set_default_backend(None)


def run(tmp_path, name: str, **kw):
    return finetune(FinetuneConfig(out=str(tmp_path / name), **{**FAST, **kw}))


@pytest.fixture(scope="module")
def compiled_runs(tmp_path_factory, cheap_backend) -> dict:
    """The same run with evaluation eager ('train') and compiled ('all')."""
    folder = tmp_path_factory.mktemp("compiled")
    return {mode: run(folder, mode, compile=mode) for mode in ("train", "all")}


def phases(result) -> dict:
    return json.loads((result.out / "run.json").read_text())["setup"]["compile"]["phases"]


def test_training_compiles_once_and_evaluation_stays_eager(compiled_runs):
    result = compiled_runs["train"]
    train, evaluation = phases(result)["train"], phases(result)["eval"]
    # one graph for every training step of both epochs: the last partial batch is dropped and the
    # first loss call no longer changes an attribute dynamo guards on
    assert (train["graphs"], train["recompiles"], train["recompile_reasons"]) == (1, 0, [])
    assert train["frames"] == 1 and train["graph_breaks"] == 0 and train["compile_s"] > 0
    # three evaluations (after each epoch, then the test predictions) run eager
    assert (evaluation["graphs"], evaluation["recompiles"]) == (0, 0)
    assert result.metrics["n_test"] == 40 and sum(map(sum, result.metrics["confusion_matrix"])) == 40


def test_compiled_evaluation_compiles_once_and_predicts_what_eager_does(compiled_runs):
    eager_eval, compiled = compiled_runs["train"], compiled_runs["all"]
    train, evaluation = phases(compiled)["train"], phases(compiled)["eval"]
    assert (train["graphs"], train["recompiles"]) == (1, 0)
    # the evaluation graph is the one expected recompile (no gradients); the last batch of 8 is
    # padded to 32, so neither the second evaluation nor the last batch compiles again
    assert evaluation["graphs"] == 1 and evaluation["recompiles"] == 1
    assert "grad_mode" in evaluation["recompile_reasons"][0]
    assert sum(map(sum, compiled.metrics["confusion_matrix"])) == 40  # the padding's outputs are discarded
    np_eager, np_compiled = eager_eval.logits, compiled.logits
    assert np_compiled.shape == np_eager.shape == (40, 10)
    assert abs(compiled.test_loss - eager_eval.test_loss) < 1e-4  # padded labels (-100) are ignored by the loss
    assert float(abs(np_compiled - np_eager).max()) < 1e-4


def test_auto_says_what_it_picked_and_why(tmp_path):
    result = run(tmp_path, "auto", max_steps=2)
    recorded = json.loads((result.out / "run.json").read_text())["setup"]["compile"]
    assert recorded["asked"] == "auto" and recorded["chosen"] == AUTO["cpu"][0] and recorded["why"] == AUTO["cpu"][1]
    assert recorded["phases"]["train"]["graphs"] == 0


def test_choices_resolve_and_unknown_ones_are_listed(tmp_path):
    assert set(COMPILE) == {"auto", "off", "train", "all"}
    assert choose_compile("all", "cpu").evaluation and not choose_compile("train", "cuda").evaluation
    assert not choose_compile("auto", "xpu").training  # a device never measured stays eager
    assert "--compile must be one of auto, off, train, all" in FinetuneConfig(
        model="demo", out=str(tmp_path), compile="max").problems()


def test_padding_keeps_the_batch_and_marks_labels_ignored():
    inputs = {"pixel_values": torch.ones(3, 3, 4, 4, dtype=torch.uint8), "labels": torch.tensor([1, 2, 3])}
    padded, n = pad_batch(inputs, 5)
    assert n == 3 and padded["pixel_values"].shape == (5, 3, 4, 4) and padded["pixel_values"].dtype == torch.uint8
    assert padded["labels"].tolist() == [1, 2, 3, -100, -100] and int(padded["pixel_values"][3:].sum()) == 0
    assert pad_batch(inputs, 3)[0] is inputs


class Affine(torch.nn.Module):
    """A module of this file: dynamo does not trace into torch.nn's own modules' calls."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 2))

    def forward(self, x):  # (B, 4) -> (B, 2)
        return x @ self.weight + 1


def test_the_log_counts_a_recompile_and_its_reason_in_the_phase_that_caused_it(cheap_backend):
    torch._dynamo.reset()
    layer = Affine()
    layer.compile(dynamic=False)
    log = CompileLog()
    with log.phase("train"):
        layer(torch.randn(8, 4))
        with log.phase("eval"):
            layer(torch.randn(8, 4))  # same shape: nothing compiles
        layer(torch.randn(8, 4))
        layer(torch.randn(5, 4))  # another batch size: a recompile
    assert log.phases["train"]["graphs"] == 2 and log.phases["train"]["recompiles"] == 1
    assert "size mismatch" in log.phases["train"]["recompile_reasons"][0]
    assert log.phases["eval"]["graphs"] == 0
