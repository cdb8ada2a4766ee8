"""Transformer attribution: Chefer, Gur & Wolf, "Transformer Interpretability Beyond Attention
Visualization", CVPR 2021, https://arxiv.org/abs/2012.09838 (Sec. 3.3, Eq. 13-14).

Per layer l: A_bar_l = mean over heads of (dS/dA_l * R_l)^+, where R_l is the LRP relevance of
the attention probabilities (`xai.lrp`: z+ for linear layers, identity through LayerNorm, GELU
and softmax, both attention products split in halves, normalised residual additions) and S the
explained class's logit; C = prod_l (I + A_bar_l) from the first layer (their `start_layer` 0,
no row normalisation); the map is C's CLS row over the patches. The product is computed as a
row vector, last layer first, exactly as gradient rollout (which replaces R_l by A_l).
"""
from __future__ import annotations

import numpy as np

from . import Method, patches_to_grid, register_method
from .grad_rollout import grad_rollout_row


def transformer_attribution_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """`Capture` with gradients and attention relevance -> `(B, gh, gw)`, max 1."""
    row = grad_rollout_row(capture.attention_relevance, capture.attention_grads, capture.readout)
    return patches_to_grid(row, grid, n_special)


register_method(Method(
    name="transformer-attribution",
    summary="LRP relevance of each attention map x its gradient (+), head mean, rollout",
    paper="https://arxiv.org/abs/2012.09838", gradients=True, fn=transformer_attribution_map, relevance=True))
