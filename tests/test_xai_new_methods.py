"""Integrated gradients and SmoothGrad on the patch tokens, against independent computations: the
gradient oracle against a forward written from the HF submodules, integrated gradients against
pixel-space integrated gradients (the patch embedding is linear, so the two agree per patch) and
against completeness, SmoothGrad against explicit per-sample gradients. Shapes, ranges and class
specificity come from the registry-wide tests in test_xai_methods.py."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xai.hooks import capture
from xai import patch_probe
from xai.methods import METHODS, integrated_gradients as ig, smoothgrad as sg
from xai.subjects import randomise_weights

GRAD_ATOL = 1e-5  # float32 gradients, two routes through the same weights
COMPLETENESS_RTOL = 0.01  # |sum of attributions - (S(x) - S(x'))| against |S(x) - S(x')| at 4 x ig.STEPS
DEFAULT_STEPS_RTOL = 0.05  # the same at ig.STEPS, against the batch's largest |S(x) - S(x')|


def load(folder):
    from runtime.checkpoint import load_checkpoint

    return load_checkpoint(folder)


@pytest.fixture(params=["vit", "deit"], scope="module")
def model(request, tmp_path_factory):
    """A tiny classifier with every weight (biases, tokens, positions too) drawn at std 0.1."""
    from conftest import save_tiny_checkpoint

    folder = save_tiny_checkpoint(tmp_path_factory.mktemp(request.param), request.param, initializer_range=0.1)
    return randomise_weights(load(folder).model, seed=2)


def pixels(batch=3, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(0, 1, (batch, 3, 32, 32))).float()


def logits_from_tokens(model, tokens: torch.Tensor) -> torch.Tensor:
    """The classifier's logits from patch tokens `(B, P, D)`, written from its submodules (no hooks)."""
    base = getattr(model, model.base_model_prefix)
    emb = base.embeddings
    special = [emb.cls_token] + ([emb.distillation_token] if hasattr(emb, "distillation_token") else [])
    t = torch.cat([s.expand(len(tokens), -1, -1) for s in special] + [tokens], dim=1) + emb.position_embeddings
    t = base.layernorm(base.encoder(t).last_hidden_state)
    if hasattr(model, "cls_classifier"):
        return (model.cls_classifier(t[:, 0]) + model.distillation_classifier(t[:, 1])) / 2
    return model.classifier(t[:, 0])


def reference_gradient(model, tokens: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = torch.from_numpy(tokens).double().requires_grad_(True)
    score = logits_from_tokens(copy.deepcopy(model).double(), t)[torch.arange(len(t)), torch.as_tensor(targets)]
    (grad,) = torch.autograd.grad(score.sum(), t)
    return score.detach().numpy(), grad.numpy()


def test_probe_gradient_matches_a_forward_from_the_tokens(model):
    targets = np.array([0, 3, 1])
    probe = capture(model, pixels(), targets).patch_probe
    elsewhere = (probe.tokens + np.random.default_rng(1).normal(0, 0.5, probe.tokens.shape)).astype(np.float32)
    for values in (probe.tokens, elsewhere, np.concatenate([elsewhere, probe.tokens])):  # one copy, two stacked
        score, grad = probe.gradient(values)
        ref_score, ref_grad = reference_gradient(model, values, np.tile(targets, len(values) // 3))
        np.testing.assert_allclose(score, ref_score, atol=GRAD_ATOL)
        np.testing.assert_allclose(grad, ref_grad, atol=GRAD_ATOL)


def test_probe_refuses_tokens_of_another_shape(model):
    probe = capture(model, pixels()).patch_probe
    with pytest.raises(ValueError, match="not copies of the batch"):
        probe.gradient(probe.tokens[:2])


def pixel_integrated_gradients(model, x: torch.Tensor, targets: np.ndarray, steps: int) -> np.ndarray:
    """Integrated gradients on the normalised pixels from the all-zero input, same midpoint rule,
    summed over the channels and each patch's pixels: `(B, gh, gw)`."""
    total = torch.zeros_like(x)
    for a in (np.arange(steps) + 0.5) / steps:
        point = (a * x).requires_grad_(True)
        score = model(pixel_values=point).logits[torch.arange(len(x)), torch.as_tensor(targets)]
        total += torch.autograd.grad(score.sum(), point)[0]
    attr = (x * total / steps).sum(1)  # (B, H, W)
    p = model.config.patch_size
    return attr.reshape(len(x), 32 // p, p, 32 // p, p).sum((2, 4)).numpy()


def test_integrated_gradients_equal_pixel_space_ones_per_patch(model):
    x, targets = pixels(), np.array([2, 0, 1])
    probe = capture(model, x, targets).patch_probe
    ours = ig.integrated_gradients(probe.gradient, probe.tokens, probe.reference, steps=8).sum(-1)
    expected = pixel_integrated_gradients(model, x, targets, steps=8)
    np.testing.assert_allclose(ours.reshape(expected.shape), expected, atol=1e-4, rtol=1e-3)


def test_integrated_gradients_are_complete(model):
    """Attributions sum to S(x) - S(x'); the midpoint rule's error falls as 1/steps^2."""
    probe = capture(model, pixels(), np.array([1, 2, 3])).patch_probe
    (s_x, _), (s_ref, _) = probe.gradient(probe.tokens), probe.gradient(probe.reference)
    gaps = [np.abs(ig.integrated_gradients(probe.gradient, probe.tokens, probe.reference, steps).sum((1, 2))
                   - (s_x - s_ref)) for steps in (ig.STEPS, 4 * ig.STEPS)]
    assert (gaps[1] <= COMPLETENESS_RTOL * np.abs(s_x - s_ref)).all(), (gaps, s_x - s_ref)
    assert (gaps[1] < gaps[0] / 8).all() and (gaps[0] <= DEFAULT_STEPS_RTOL * np.abs(s_x - s_ref).max()).all()


def test_midpoint_rule_is_exact_on_a_quadratic():
    """S = sum c x^2: the integrand is linear along the path, so one midpoint is exact: c (x^2 - x'^2)."""
    rng = np.random.default_rng(0)
    c, x, ref = rng.normal(size=(3, 2, 5, 4))
    oracle = lambda v: ((c * v ** 2).sum((1, 2)), 2 * c * v)  # noqa: E731  (one copy of the batch)
    np.testing.assert_allclose(ig.integrated_gradients(oracle, x, ref, steps=1), c * (x ** 2 - ref ** 2), atol=1e-6)


def test_stacking_copies_does_not_change_the_results(model, monkeypatch):
    probe = capture(model, pixels(), np.array([3, 1, 0])).patch_probe
    noise = sg.noise_draws(probe.tokens, sg.NOISE_LEVEL, seed=1)(0, 4)
    drawn = lambda lo, hi: noise[lo:hi]  # noqa: E731  (the same noise on both runs)
    stacked = [ig.integrated_gradients(probe.gradient, probe.tokens, probe.reference, steps=4),
               sg.smoothgrad(probe.gradient, probe.tokens, drawn, 4)]
    monkeypatch.setattr(patch_probe, "ROWS_PER_CALL", 1)  # one copy of the batch per gradient call
    single = [ig.integrated_gradients(probe.gradient, probe.tokens, probe.reference, steps=4),
              sg.smoothgrad(probe.gradient, probe.tokens, drawn, 4)]
    for a, b in zip(single, stacked):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_smoothgrad_is_the_mean_of_explicit_noisy_gradients(model):
    targets = np.array([0, 2, 1])
    probe = capture(model, pixels(), targets).patch_probe
    noise = sg.noise_draws(probe.tokens, sg.NOISE_LEVEL, seed=5)(0, 4)
    expected = np.mean([reference_gradient(model, (probe.tokens + e).astype(np.float32), targets)[1] for e in noise], 0)
    np.testing.assert_allclose(sg.smoothgrad(probe.gradient, probe.tokens, lambda lo, hi: noise[lo:hi], 4), expected,
                               atol=GRAD_ATOL)


def test_smoothgrad_noise_scales_with_each_image_range():
    x = np.stack([np.linspace(0, 1, 4000), np.linspace(-10, 10, 4000)]).reshape(2, 100, 40)
    noise = sg.noise_draws(x, 0.15, seed=0)(0, 8)
    np.testing.assert_allclose(noise.std(axis=(0, 2, 3)), [0.15, 3.0], rtol=0.02)


def test_smoothgrad_noise_drawn_in_chunks_is_the_noise_drawn_at_once():
    x = np.random.default_rng(3).normal(size=(2, 5, 4))
    draw = sg.noise_draws(x, 0.15, seed=7)
    chunks = np.concatenate([draw(0, 3), draw(3, 4), draw(4, 8)])
    np.testing.assert_array_equal(chunks, sg.noise_draws(x, 0.15, seed=7)(0, 8))


def test_smoothgrad_map_is_seeded_by_its_input(model):
    cap = capture(model, pixels(), np.array([1, 1, 1]))
    again = METHODS["smoothgrad"](cap, (4, 4), 0)
    np.testing.assert_array_equal(METHODS["smoothgrad"](cap, (4, 4), 0), again)
    no_noise = np.linalg.norm(cap.patch_probe.gradient(cap.patch_probe.tokens)[1], axis=-1).reshape(3, 4, 4)
    assert not np.allclose(again, no_noise / no_noise.max(axis=(1, 2), keepdims=True), atol=1e-3)  # the noise acts
