"""Gradient-weighted attention rollout: Chefer, Gur & Wolf, "Generic Attention-model Explainability
for Interpreting Bi-Modal and Encoder-Decoder Transformers", ICCV 2021, https://arxiv.org/abs/2103.15679

Per layer l: A_bar_l = mean over heads of (dS/dA_l * A_l)^+ (S: the explained class's logit);
R <- R + A_bar_l R from R = I, first layer first; the explanation is R's CLS row over the
patches. Only that row is needed, so it is computed as a vector, last layer first:
v <- v + v A_bar_l from v = e_0, O(L N^2) instead of the O(L N^3) product. Class-specific:
explain any class by taking the gradient of its logit.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import Method, patches_to_grid, register_method


def weighted_attention(attention: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """`(B, heads, N, N)` twice -> head mean of the positive part of grad * attention `(B, N, N)`."""
    return np.clip(grad * attention, 0, None).mean(axis=1)


def grad_rollout_row(attentions: Sequence[np.ndarray], grads: Sequence[np.ndarray],
                     readout: Sequence[int] = (0,)) -> np.ndarray:
    """Mean of the `readout` rows (CLS; and distillation for a distilled DeiT) of prod_l (I + A_bar_l)
    (last layer leftmost) as `(B, N)`, float64."""
    if len(attentions) != len(grads):
        raise ValueError(f"{len(attentions)} attention maps but {len(grads)} gradients")
    b, _, n, _ = attentions[0].shape
    v = np.zeros((b, 1, n))
    v[:, 0, list(readout)] = 1 / len(readout)
    for attention, grad in zip(reversed(attentions), reversed(grads)):
        v = v + v @ weighted_attention(np.asarray(attention, np.float64), np.asarray(grad, np.float64))
    return v[:, 0]


def grad_rollout_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """`Capture` (with gradients) -> relevance `(B, gh, gw)`, max 1."""
    return patches_to_grid(grad_rollout_row(capture.attentions, capture.attention_grads, capture.readout), grid, n_special)


register_method(Method(
    name="grad-rollout", summary="head mean of (grad x attention)+, R <- R + A R, CLS row",
    paper="https://arxiv.org/abs/2103.15679", gradients=True, fn=grad_rollout_map))


def grad_rollout_step_torch(v, attention, grad, grad_scale: float = 1.0):
    """One layer of the in-graph form (torch): `v (B, 1, N)` <- v + v mean_h((grad * A)+), then
    rescaled to max 1 (the map is linear in v and normalised at the end; rescaling keeps fp16
    in range over many layers). attention, grad: `(B, heads, N, N)`; `grad` may come scaled by
    `grad_scale` (kept out of fp16's subnormal range), which is divided out here."""
    import torch

    weighted = torch.relu(grad * attention).mean(dim=1)  # (B, N, N)
    v = v + v.matmul(weighted) * (1.0 / grad_scale)
    return v / v.amax(dim=-1, keepdim=True).clamp_min(1e-12)
