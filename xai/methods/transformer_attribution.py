"""Transformer attribution: Chefer, Gur & Wolf, "Transformer Interpretability Beyond Attention
Visualization", CVPR 2021, https://arxiv.org/abs/2012.09838 (Sec. 3.3, Eq. 13-14).

Per layer l: A_bar_l = mean over heads of (dS/dA_l * R_l)^+, where R_l is the LRP relevance of
the attention probabilities (`xai.lrp`: z+ for linear layers, identity through LayerNorm, GELU
and softmax, both attention products split in halves, normalised residual additions) and S the
explained class's logit; C = prod_l (I + A_bar_l) from the first layer (their `start_layer` 0,
no row normalisation); the map is C's CLS row over the patches. The product is computed as a
row vector, last layer first, exactly as gradient rollout (which replaces R_l by A_l).

`transformer-attribution-from-1` is the same map as their evaluation computes it
(`generate_visualizations.py` calls `generate_LRP(..., start_layer=1)`): the product starts at
layer 1, leaving the first layer out, as `rollout-from-1` does for rollout.
"""
from __future__ import annotations

import numpy as np

from . import Method, patches_to_grid, register_method
from .grad_rollout import grad_rollout_row


def transformer_attribution_map(capture, grid: tuple[int, int], n_special: int, start_layer: int = 0) -> np.ndarray:
    """`Capture` with gradients and attention relevance -> `(B, gh, gw)`, max 1; the product runs over
    layers `start_layer`.. (Chefer et al.'s `start_layer`)."""
    row = grad_rollout_row(capture.attention_relevance[start_layer:], capture.attention_grads[start_layer:],
                           capture.readout)
    return patches_to_grid(row, grid, n_special)


register_method(Method(
    name="transformer-attribution",
    summary="LRP relevance of each attention map x its gradient (+), head mean, rollout",
    paper="https://arxiv.org/abs/2012.09838", gradients=True, fn=transformer_attribution_map, relevance=True))

register_method(Method(
    name="transformer-attribution-from-1",
    summary="transformer attribution, product over layers 1.. (Chefer et al.'s evaluation)",
    paper="https://arxiv.org/abs/2012.09838", gradients=True, relevance=True,
    fn=lambda cap, grid, n_special: transformer_attribution_map(cap, grid, n_special, start_layer=1)))
