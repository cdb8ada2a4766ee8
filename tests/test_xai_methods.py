"""Explanation methods: every registered method on tiny ViT and DeiT models, and the gradient
methods against an independent computation (a hand-written ViT forward, explicit full products)."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xai.hooks import capture
from xai.methods import METHODS, UnknownMethodError, get_methods
from xai.methods.grad_rollout import grad_rollout_row

GRID = (4, 4)


def load(folder):
    from runtime.checkpoint import load_checkpoint

    return load_checkpoint(folder)


def pixels(batch=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(0, 1, (batch, 3, 32, 32))).float()


def reference_forward(model, x, probes, token_probe):
    """ViT/DeiT forward written out by hand (float64); probes are added to every attention map and
    to the last block's first LayerNorm output, so autograd w.r.t. them gives dS/dA and dS/dX."""
    base = getattr(model, model.base_model_prefix)
    cfg, emb = model.config, base.embeddings
    t = emb.patch_embeddings.projection(x).flatten(2).transpose(1, 2)
    special = [emb.cls_token] + ([emb.distillation_token] if hasattr(emb, "distillation_token") else [])
    t = torch.cat([s.expand(len(x), -1, -1) for s in special] + [t], dim=1) + emb.position_embeddings
    heads, eps = cfg.num_attention_heads, cfg.layer_norm_eps
    d = cfg.hidden_size // heads
    for i, layer in enumerate(base.encoder.layer):
        h = torch.nn.functional.layer_norm(t, (cfg.hidden_size,), layer.layernorm_before.weight,
                                           layer.layernorm_before.bias, eps)
        if i == len(base.encoder.layer) - 1:
            h = h + token_probe
        att = layer.attention.attention
        q, k, v = (m(h).view(len(x), -1, heads, d).transpose(1, 2) for m in (att.query, att.key, att.value))
        a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, dim=-1) + probes[i]
        t = t + layer.attention.output.dense((a @ v).transpose(1, 2).reshape(len(x), -1, cfg.hidden_size))
        h = torch.nn.functional.layer_norm(t, (cfg.hidden_size,), layer.layernorm_after.weight,
                                           layer.layernorm_after.bias, eps)
        t = t + layer.output.dense(torch.nn.functional.gelu(layer.intermediate.dense(h)))
    t = base.layernorm(t)
    if hasattr(model, "cls_classifier"):
        return (model.cls_classifier(t[:, 0]) + model.distillation_classifier(t[:, 1])) / 2
    return model.classifier(t[:, 0])


def reference_gradients(model, x, targets):
    """dS/dA per layer and dS/dX (last block's LayerNorm output) by autograd on the hand-written forward."""
    model = copy.deepcopy(model).double()
    x = x.double()
    n = model.config.num_hidden_layers
    tokens = (32 // model.config.patch_size) ** 2 + (2 if hasattr(model, "cls_classifier") or
                                                    model.config.model_type == "deit" else 1)
    probes = [torch.zeros(len(x), model.config.num_attention_heads, tokens, tokens, dtype=torch.float64,
                          requires_grad=True) for _ in range(n)]
    token_probe = torch.zeros(len(x), tokens, model.config.hidden_size, dtype=torch.float64, requires_grad=True)
    logits = reference_forward(model, x, probes, token_probe)
    grads = torch.autograd.grad(logits[torch.arange(len(x)), torch.as_tensor(targets)].sum(), probes + [token_probe])
    return logits.detach().numpy(), [g.numpy() for g in grads[:-1]], grads[-1].numpy()


def explicit_grad_rollout(attentions, grads, n_special):
    """R = I; R <- R + mean_h((grad * A)+) R per layer, first layer first; CLS row, patches, max 1."""
    n = attentions[0].shape[-1]
    result = []
    for b in range(attentions[0].shape[0]):
        r = np.eye(n)
        for a, g in zip(attentions, grads):
            r = r + np.clip(g[b] * a[b], 0, None).mean(0) @ r
        row = r[0, n_special:]
        result.append(row / row.max())
    return np.stack(result).reshape(-1, *GRID)


@pytest.fixture(params=["vit", "deit"])
def checkpoint(request, tiny_vit, tiny_deit):
    return load({"vit": tiny_vit, "deit": tiny_deit}[request.param])


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_gives_checked_maps(name, checkpoint):
    cap = capture(checkpoint.model, pixels(), gradients=METHODS[name].gradients)
    maps = METHODS[name](cap, checkpoint.patch_grid, checkpoint.n_special_tokens)
    assert maps.shape == (3, *checkpoint.patch_grid) and maps.dtype == np.float32
    assert (maps >= 0).all() and np.all(maps.max(axis=(1, 2)) <= 1 + 1e-6)
    assert np.isfinite(maps).all()


def test_captured_gradients_match_a_hand_written_forward(checkpoint):
    x, targets = pixels(), np.array([0, 1, 3])
    cap = capture(checkpoint.model, x, targets)
    logits, attention_grads, token_grads = reference_gradients(checkpoint.model, x, targets)
    np.testing.assert_allclose(cap.logits, logits, atol=1e-5)
    for ours, ref in zip(cap.attention_grads, attention_grads):
        np.testing.assert_allclose(ours, ref, atol=1e-5)
    np.testing.assert_allclose(cap.token_grads, token_grads, atol=1e-5)


def test_grad_rollout_equals_the_explicit_full_product(checkpoint):
    cap = capture(checkpoint.model, pixels(), np.array([2, 0, 1]))
    ns = checkpoint.n_special_tokens
    expected = explicit_grad_rollout(cap.attentions, cap.attention_grads, ns)
    np.testing.assert_allclose(METHODS["grad-rollout"](cap, GRID, ns), expected, rtol=1e-5, atol=1e-6)


def test_gradcam_equals_its_definition(checkpoint):
    cap = capture(checkpoint.model, pixels(), np.array([1, 1, 2]))
    ns = checkpoint.n_special_tokens
    x, g = cap.tokens[:, ns:].astype(np.float64), cap.token_grads[:, ns:].astype(np.float64)
    expected = np.maximum(np.einsum("bnd,bd->bn", x, g.mean(1)), 0).reshape(-1, *GRID)
    expected = expected / np.maximum(expected.max(axis=(1, 2), keepdims=True), 1e-12)
    np.testing.assert_allclose(METHODS["gradcam"](cap, GRID, ns), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if m.gradients])
def test_gradient_methods_are_class_specific(name, tiny_vit):
    ck = load(tiny_vit)
    x = pixels(batch=1)
    maps = [METHODS[name](capture(ck.model, x, np.array([c])), GRID, 1) for c in range(4)]
    assert any(not np.allclose(maps[0], m, atol=1e-4) for m in maps[1:])


def test_grad_rollout_row_refuses_mismatched_inputs():
    a = [np.ones((1, 1, 3, 3)) / 3] * 2
    with pytest.raises(ValueError, match="2 attention maps but 1 gradients"):
        grad_rollout_row(a, a[:1])


def test_unknown_method_lists_the_known_ones():
    with pytest.raises(UnknownMethodError, match="known: raw-attention"):
        get_methods(["rollout", "lrp"])


def test_capture_refuses_sdpa_attention(tiny_vit):
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(tiny_vit, attn_implementation="sdpa")
    with pytest.raises(ValueError, match="eager attention"):
        capture(model, pixels())
