"""Grad-CAM for ViT: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017, https://arxiv.org/abs/1610.02391, applied to a
transformer as pytorch-grad-cam does: the target layer is the last block's first LayerNorm,
its patch tokens reshaped to the patch grid act as the feature map (special tokens dropped).

Per channel c: w_c = mean over patches of dS/dX[:, c]; map = ReLU(sum_c w_c X[:, c]).
"""
from __future__ import annotations

import numpy as np

from . import Method, patches_to_grid, register_method


def gradcam_tokens(tokens: np.ndarray, grads: np.ndarray, n_special: int) -> np.ndarray:
    """`(B, N, D)` activations and gradients -> token relevance `(B, N)` (special tokens zero)."""
    x, g = tokens[:, n_special:].astype(np.float64), grads[:, n_special:].astype(np.float64)
    weights = g.mean(axis=1, keepdims=True)  # (B, 1, D): global-average-pooled gradients
    cam = np.clip((weights * x).sum(-1), 0, None)  # (B, N - n_special)
    return np.concatenate([np.zeros((len(cam), n_special)), cam], axis=1)


def gradcam_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    return patches_to_grid(gradcam_tokens(capture.tokens, capture.token_grads, n_special), grid, n_special)


register_method(Method(
    name="gradcam", summary="Grad-CAM on the last block's first LayerNorm tokens",
    paper="https://arxiv.org/abs/1610.02391", gradients=True, fn=gradcam_map))
