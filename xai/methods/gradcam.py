"""Grad-CAM for ViT: Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017, https://arxiv.org/abs/1610.02391, applied to a
transformer as pytorch-grad-cam does: the target layer is the last block's first LayerNorm,
its patch tokens reshaped to the patch grid act as the feature map (special tokens dropped).

Per channel c: w_c = mean over patches of dS/dX[:, c]; map = ReLU(sum_c w_c X[:, c]).

`gradcam-attn` is the Grad-CAM baseline of Chefer, Gur & Wolf (CVPR 2021,
https://arxiv.org/abs/2012.09838) as their code computes it: the last layer's attention map is
the feature map, each head's CLS row over the patches weighted by the mean of its gradient there;
map = ReLU(mean over heads of w_h A_h[CLS, patches]).
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


def gradcam_attention(attention: np.ndarray, grad: np.ndarray, n_special: int, readout=(0,)) -> np.ndarray:
    """Last layer's `(B, heads, N, N)` attention and gradient -> relevance `(B, N)` of the
    `readout` rows (CLS; and distillation for a distilled DeiT, averaged)."""
    rows = list(readout)
    a, g = attention[:, :, rows, n_special:].astype(np.float64), grad[:, :, rows, n_special:].astype(np.float64)
    cam = np.clip((a * g.mean(axis=3, keepdims=True)).mean(axis=(1, 2)), 0, None)  # (B, N - n_special)
    return np.concatenate([np.zeros((len(cam), n_special)), cam], axis=1)


register_method(Method(
    name="gradcam-attn", summary="Grad-CAM on the last attention map's CLS row (Chefer et al.'s baseline)",
    paper="https://arxiv.org/abs/2012.09838", gradients=True,
    fn=lambda cap, grid, n_special: patches_to_grid(
        gradcam_attention(cap.attentions[-1], cap.attention_grads[-1], n_special, cap.readout), grid, n_special)))
