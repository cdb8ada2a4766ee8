"""The one ViT walker (`xai.vit`): the same logits and attention as transformers' own forward in
every layout, and the only place that walks a block or reads the classifier heads."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import save_tiny_checkpoint

from export._forward import TokenMajor
from runtime.checkpoint import load_checkpoint
from xai.vit import CLS, CLS_AND_DISTILLATION, Layout, readout_heads, readout_rows, walk

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ("_infra", "xai", "runtime", "export", "finetune", "bench")
HOME = ROOT / "xai" / "vit.py"
ATOL = 1e-5  # float32, the same maths in another order
MODELS = {"vit": dict(kind="vit", seed=1), "deit": dict(kind="deit", seed=2),
          "deit-distilled": dict(kind="deit", distilled=True, seed=3)}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request, tmp_path_factory):
    folder = save_tiny_checkpoint(tmp_path_factory.mktemp(request.param), **MODELS[request.param])
    return load_checkpoint(folder).model


def pixels(batch: int = 3) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal(0, 1, (batch, 3, 32, 32))).float()


def hf(model, x):
    with torch.no_grad():
        return model(pixel_values=x, output_attentions=True)


def test_the_walk_is_the_models_forward(model):
    x = pixels()
    ours, theirs = walk(model, Layout(model), x), hf(model, x)
    np.testing.assert_allclose(ours.logits.detach(), theirs.logits, atol=ATOL)
    assert len(ours.blocks) == len(theirs.attentions)
    for block, attention in zip(ours.blocks, theirs.attentions):
        np.testing.assert_allclose(block.probs.detach(), attention, atol=ATOL)


def test_the_token_major_walk_with_a_cut_last_layer_gives_the_same_logits_and_rows(model):
    """The exported forward's layout: the last block computed for the read-out tokens only."""
    x, rows = pixels(), readout_rows(model)
    tokens = walk(model, Layout(model), x).blocks[0].x.shape[1]
    packed, full = walk(model, TokenMajor(model, tokens), x, len(rows)), hf(model, x)
    np.testing.assert_allclose(packed.logits.detach(), full.logits, atol=ATOL)
    np.testing.assert_allclose(packed.blocks[-1].probs.detach(), full.attentions[-1][:, :, :len(rows)], atol=ATOL)
    np.testing.assert_allclose(packed.blocks[0].probs.detach(), full.attentions[0], atol=ATOL)


def test_a_distilled_deit_reads_the_mean_of_its_two_heads(model):
    x = pixels()
    out = walk(model, Layout(model), x)
    heads = readout_heads(model)
    if hasattr(model, "distillation_classifier"):
        assert readout_rows(model) == CLS_AND_DISTILLATION and [h.token for h in heads] == [0, 1]
        halves = [model.cls_classifier(out.final[:, 0]), model.distillation_classifier(out.final[:, 1])]
        np.testing.assert_allclose(out.logits.detach(), ((halves[0] + halves[1]) / 2).detach(), atol=ATOL)
    else:
        assert readout_rows(model) == CLS and heads[0].classifier is model.classifier


def library_sources():
    return [p for package in LIBRARY for p in (ROOT / package).rglob("*.py") if p != HOME]


@pytest.mark.parametrize("pattern, what", [
    (r"distillation_classifier|cls_classifier", "reads a distilled DeiT's heads (use xai.vit.readout_heads)"),
    (r"\.layernorm_(before|after)\b(?!\.(weight|bias|eps|register_forward_hook)\b)|intermediate_act_fn",
     "walks a ViT block (use xai.vit.walk)"),
])
def test_only_the_walker_walks_a_block_or_reads_the_heads(pattern, what):
    found = [f"{p.relative_to(ROOT)}:{i}" for p in library_sources()
             for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(pattern, line)]
    assert not found, f"{', '.join(found)} {what}"
    assert re.search(pattern, HOME.read_text())  # the pattern still names what the walker does
