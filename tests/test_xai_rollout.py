"""Rollout maths: the in-graph CLS-row form equals the full product; checks catch bad captures."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from xai.rollout import (AttentionCheckError, check_attentions, raw_attention_map, rollout, rollout_cls_torch,
                         rollout_map)


def random_attentions(layers=4, batch=3, heads=2, tokens=17, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (layers, batch, heads, tokens, tokens))
    a = np.exp(logits)
    return list(a / a.sum(-1, keepdims=True))


def explicit_rollout(attentions):
    """Abnar & Zuidema written out with explicit identities and a left-to-right product."""
    n = attentions[0].shape[-1]
    result = np.stack([np.eye(n)] * attentions[0].shape[0])
    for a in attentions:
        a = a.mean(1) + np.eye(n)
        a = a / a.sum(-1, keepdims=True)
        result = np.einsum("bij,bjk->bik", a, result)
    return result


@pytest.mark.parametrize("n_special", [1, 2])
def test_cls_row_vector_form_equals_full_product(n_special):
    atts = random_attentions(tokens=16 + n_special)
    full = explicit_rollout(atts)[:, 0, n_special:].reshape(3, 4, 4)
    full = full / full.max(axis=(1, 2), keepdims=True)
    fast = rollout_cls_torch([torch.from_numpy(a) for a in atts], n_special, (4, 4)).numpy()
    np.testing.assert_allclose(fast, full, atol=1e-10)
    np.testing.assert_allclose(rollout_map(atts, (4, 4), n_special), full, atol=1e-6)


@pytest.mark.parametrize("readout", [(0,), (0, 1)])
def test_last_layer_readout_rows_give_the_same_rollout(readout):
    """The exported none/rollout graphs compute the last layer for the readout tokens only; the
    rollout from those rows of the last map equals the rollout from the whole map."""
    from xai.rollout import rollout_start

    atts = [torch.from_numpy(a) for a in random_attentions(tokens=18)]
    start = rollout_start(18, torch.float64, readout=readout)
    whole = rollout_cls_torch(atts, 2, (4, 4), start)
    cut = rollout_cls_torch(atts[:-1] + [atts[-1][:, :, :len(readout)]], 2, (4, 4), start)
    torch.testing.assert_close(cut, whole, rtol=0, atol=1e-12)


def test_rollout_rows_stay_stochastic_and_fusions_differ():
    atts = random_attentions()
    np.testing.assert_allclose(rollout(atts).sum(-1), 1.0, atol=1e-12)
    maps = {f: rollout_map(atts, (4, 4), head_fusion=f) for f in ("mean", "max", "min")}
    assert not np.allclose(maps["mean"], maps["max"]) and not np.allclose(maps["mean"], maps["min"])
    assert all(np.isclose(m.max(axis=(1, 2)), 1).all() for m in maps.values())


def test_discard_ratio_changes_the_map_but_keeps_the_cls_column():
    atts = random_attentions()
    kept = rollout(atts, discard_ratio=0.9)
    assert not np.allclose(kept, rollout(atts))
    np.testing.assert_allclose(kept.sum(-1), 1.0, atol=1e-12)


def test_raw_attention_is_last_layer_cls_row():
    atts = random_attentions()
    expected = atts[-1].mean(1)[:, 0, 1:].reshape(3, 4, 4)
    np.testing.assert_allclose(raw_attention_map(atts, (4, 4)),
                               expected / expected.max(axis=(1, 2), keepdims=True), rtol=1e-6)


def test_checks_list_every_problem():
    atts = random_attentions(layers=2)
    atts[0] = atts[0] * 2  # rows sum to 2: pre-softmax scores, say
    with pytest.raises(AttentionCheckError) as e:
        check_attentions(atts + [np.ones((3, 2, 5))], num_layers=2)
    message = str(e.value)
    assert "3 attention maps for 2 layers" in message and "layer 0: rows" in message and "layer 2: shape" in message
    with pytest.raises(ValueError, match="known: mean, max, min"):
        rollout_map(random_attentions(), (4, 4), head_fusion="median")


def test_unnormalised_in_graph_rollout_stays_finite_in_fp16_for_deep_models():
    atts = random_attentions(layers=32, batch=2, tokens=17)
    reference = explicit_rollout(atts)[:, 0, 1:].reshape(2, 4, 4)
    reference = reference / reference.max(axis=(1, 2), keepdims=True)
    half = rollout_cls_torch([torch.from_numpy(a).half() for a in atts], 1, (4, 4)).float().numpy()
    assert np.isfinite(half).all()
    np.testing.assert_allclose(half, reference, atol=2e-2)
