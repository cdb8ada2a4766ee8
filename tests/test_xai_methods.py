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
from xai.subjects import randomise_weights

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


def explicit_grad_rollout(attentions, grads, n_special, rows=(0,)):
    """R = I; R <- R + mean_h((grad * A)+) R per layer, first layer first; the mean of the `rows`
    (the CLS row), patches, max 1."""
    n = attentions[0].shape[-1]
    result = []
    for b in range(attentions[0].shape[0]):
        r = np.eye(n)
        for a, g in zip(attentions, grads):
            r = r + np.clip(g[b] * a[b], 0, None).mean(0) @ r
        row = r[list(rows)].mean(0)[n_special:]
        result.append(row / row.max())
    return np.stack(result).reshape(-1, *GRID)


@pytest.fixture(params=["vit", "deit"])
def checkpoint(request, tiny_vit, tiny_deit):
    return load({"vit": tiny_vit, "deit": tiny_deit}[request.param])


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_gives_checked_maps(name, checkpoint):
    cap = capture(checkpoint.model, pixels(), gradients=METHODS[name].gradients, relevance=METHODS[name].relevance)
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
    maps = [METHODS[name](capture(ck.model, x, np.array([c]), relevance=METHODS[name].relevance), GRID, 1)
            for c in range(4)]
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


# ---------------------------------------------------------------- transformer attribution (LRP)
LRP_RTOL = 1e-7  # float64: the closed-form rules against the autograd formulation
CONSERVATION_ATOL = 1e-6  # float64: total relevance at every block's input against the logit's 1


def safe_div(a, b):
    """Chefer et al.'s safe_divide, written as their code writes it."""
    den = b.clamp(min=1e-9) + b.clamp(max=1e-9)
    den = den + den.eq(0).type(den.type()) * 1e-9
    return a / den * b.ne(0).type(b.type())


def gradient_times_input(fn, inputs, r):
    """Their generic rule: x * d(fn)/dx evaluated at r / fn(x), one per input."""
    xs = [x.detach().requires_grad_(True) for x in inputs]
    with torch.enable_grad():
        z = fn(*xs)
        cs = torch.autograd.grad(z, xs, safe_div(r, z.detach()))
    return [x.detach() * c for x, c in zip(xs, cs)]


def z_plus(x, w, r):
    """Alpha 1, beta 0 by autograd over the positive and negative parts."""
    xp, xn = x.clamp(min=0).requires_grad_(True), x.clamp(max=0).requires_grad_(True)
    with torch.enable_grad():
        z1, z2 = torch.nn.functional.linear(xp, w.clamp(min=0)), torch.nn.functional.linear(xn, w.clamp(max=0))
        s = safe_div(r, (z1 + z2).detach())
        c1, c2 = torch.autograd.grad(z1, xp, s)[0], torch.autograd.grad(z2, xn, s)[0]
    return xp.detach() * c1 + xn.detach() * c2


def residual(x, y, r):
    a, b = gradient_times_input(torch.add, [x, y], r)
    dims = tuple(range(1, r.ndim))
    sa, sb, total = a.sum(dims, keepdim=True), b.sum(dims, keepdim=True), r.sum(dims, keepdim=True)
    return (a * safe_div(safe_div(sa.abs(), sa.abs() + sb.abs()) * total, sa),
            b * safe_div(safe_div(sb.abs(), sa.abs() + sb.abs()) * total, sb))


def reference_block(layer, x, r_out):
    """One block forward with einsum products (keys untransposed, as their code), then relprop."""
    att, heads = layer.attention.attention, layer.attention.attention.num_attention_heads
    b, n, d = x.shape
    h1 = layer.layernorm_before(x)
    qkv = [m(h1).reshape(b, n, heads, d // heads).permute(0, 2, 1, 3) for m in (att.query, att.key, att.value)]
    probs = torch.softmax(torch.einsum("bhid,bhjd->bhij", qkv[0], qkv[1]) * att.scaling, -1)
    ctx = torch.einsum("bhij,bhjd->bhid", probs, qkv[2]).permute(0, 2, 1, 3).reshape(b, n, d)
    o = layer.attention.output.dense(ctx)
    h2 = layer.layernorm_after(x + o)
    g = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(h2))
    m = layer.output.dense(g)
    r_x2, r_m = residual(x + o, m, r_out)
    r_x2 = r_x2 + z_plus(h2, layer.intermediate.dense.weight, z_plus(g, layer.output.dense.weight, r_m))
    r_x, r_o = residual(x, o, r_x2)
    r_ctx = z_plus(ctx, layer.attention.output.dense.weight, r_o).reshape(b, n, heads, -1).permute(0, 2, 1, 3)
    r_probs, r_v = (t / 2 for t in gradient_times_input(lambda a, v: torch.einsum("bhij,bhjd->bhid", a, v),
                                                         [probs, qkv[2]], r_ctx))
    r_q, r_k = (t / 2 for t in gradient_times_input(lambda q, k: torch.einsum("bhid,bhjd->bhij", q, k),
                                                     qkv[:2], r_probs))
    qkv_weight = torch.cat([att.query.weight, att.key.weight, att.value.weight])
    r_qkv = torch.cat([t.permute(0, 2, 1, 3).reshape(b, n, d) for t in (r_q, r_k, r_v)], dim=-1)
    return r_x + z_plus(h1, qkv_weight, r_qkv), r_probs, x + o + m


def reference_relevance(model, x, targets):
    """Their relprop order, float64: head, final norm (identity), blocks last first."""
    base = getattr(model, model.base_model_prefix)
    inputs = [base.embeddings(x)]
    for layer in base.encoder.layer:
        inputs.append(reference_block(layer, inputs[-1], torch.zeros_like(inputs[-1]))[2])
    t = base.layernorm(inputs[-1])
    one_hot = torch.nn.functional.one_hot(torch.as_tensor(targets), model.config.num_labels).double()
    r = torch.zeros_like(t)
    if hasattr(model, "cls_classifier"):
        rc, rd = residual(model.cls_classifier(t[:, 0]) / 2, model.distillation_classifier(t[:, 1]) / 2, one_hot)
        r[:, 0] = z_plus(t[:, 0], model.cls_classifier.weight, rc)
        r[:, 1] = z_plus(t[:, 1], model.distillation_classifier.weight, rd)
    else:
        r[:, 0] = z_plus(t[:, 0], model.classifier.weight, one_hot)
    attention = []
    for layer, inp in zip(reversed(base.encoder.layer), reversed(inputs[:-1])):
        r, r_probs, _ = reference_block(layer, inp, r)
        attention.insert(0, r_probs)
    return attention, r


@pytest.fixture(params=["vit", "deit", "deit-distilled"])
def lrp_model(request, tiny_vit, tiny_deit, tmp_path_factory):
    from conftest import save_tiny_checkpoint

    if request.param == "deit-distilled":
        folder = save_tiny_checkpoint(tmp_path_factory.mktemp("distilled"), "deit", distilled=True, seed=3)
    else:
        folder = {"vit": tiny_vit, "deit": tiny_deit}[request.param]
    # drawn afresh: HF's DeiT starts with all-zero CLS/distillation tokens and position embeddings,
    # and a token that is exactly zero takes no relevance (the rules' z = 0 case), so nothing to conserve
    return randomise_weights(copy.deepcopy(load(folder).model), seed=5).double()


def test_lrp_rules_match_an_autograd_formulation_in_float64(lrp_model):
    from xai.lrp import propagate

    x, targets = pixels().double(), np.array([1, 0, 3])
    ours = propagate(lrp_model, x, torch.as_tensor(targets))
    attention, r_input = reference_relevance(lrp_model, x, targets)
    for a, b in zip(ours.attention, attention):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=LRP_RTOL, atol=1e-12)
    np.testing.assert_allclose(ours.tokens[0].numpy(), r_input.numpy(), rtol=LRP_RTOL, atol=1e-12)


def test_lrp_conserves_relevance_through_every_block(lrp_model):
    from xai.lrp import propagate

    rel = propagate(lrp_model, pixels().double(), torch.as_tensor([2, 1, 0]))
    for layer, r in enumerate(rel.tokens):
        np.testing.assert_allclose(r.sum(dim=(1, 2)).numpy(), 1.0, atol=CONSERVATION_ATOL, err_msg=f"input of {layer}")
    for r in rel.attention:  # the two attention products hand on half of the attention branch each
        assert (r.sum(dim=(1, 2, 3)).abs() < 1).all()


def test_transformer_attribution_is_the_gradient_weighted_relevance_product(checkpoint):
    cap = capture(checkpoint.model, pixels(), np.array([2, 0, 1]), relevance=True)
    ns = checkpoint.n_special_tokens
    expected = explicit_grad_rollout(cap.attention_relevance, cap.attention_grads, ns)
    np.testing.assert_allclose(METHODS["transformer-attribution"](cap, GRID, ns), expected, rtol=1e-5, atol=1e-6)


def test_chefer_baselines_follow_their_code(checkpoint):
    from xai.rollout import rollout

    cap = capture(checkpoint.model, pixels(), np.array([1, 2, 3]))
    ns = checkpoint.n_special_tokens
    a, g = cap.attentions[-1][:, :, 0, ns:], cap.attention_grads[-1][:, :, 0, ns:]
    cam = np.maximum((a * g.mean(-1, keepdims=True)).mean(1), 0).reshape(-1, *GRID)
    np.testing.assert_allclose(METHODS["gradcam-attn"](cap, GRID, ns),
                               cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12),
                               rtol=1e-5, atol=1e-6)
    row = rollout(cap.attentions[1:])[:, 0, ns:].reshape(-1, *GRID)
    np.testing.assert_allclose(METHODS["rollout-from-1"](cap, GRID, ns), row / row.max(axis=(1, 2), keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_a_distilled_deit_is_explained_by_both_tokens_its_logit_reads(tmp_path):
    """Its logit is the mean of the CLS and distillation heads: the maps read both rows, averaged."""
    from conftest import save_tiny_checkpoint
    from xai.rollout import rollout

    ck = load(save_tiny_checkpoint(tmp_path, "deit", distilled=True, seed=2))
    cap = capture(ck.model, pixels(), np.array([0, 1, 2]), relevance=True)
    assert cap.readout == (0, 1)
    rows = rollout(cap.attentions)[:, :2, 2:].mean(1).reshape(-1, *GRID)
    np.testing.assert_allclose(METHODS["rollout"](cap, GRID, 2), rows / rows.max(axis=(1, 2), keepdims=True),
                               rtol=1e-5, atol=1e-6)
    for name, attentions in (("grad-rollout", cap.attentions), ("transformer-attribution", cap.attention_relevance)):
        expected = explicit_grad_rollout(attentions, cap.attention_grads, 2, rows=(0, 1))
        np.testing.assert_allclose(METHODS[name](cap, GRID, 2), expected, rtol=1e-5, atol=1e-6)
