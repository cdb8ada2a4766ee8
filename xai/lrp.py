"""Layer-wise relevance propagation through a HF ViT/DeiT classifier, with the rules of Chefer, Gur
& Wolf, "Transformer Interpretability Beyond Attention Visualization", CVPR 2021,
https://arxiv.org/abs/2012.09838 (Sec. 3.1-3.2), as their code defines them:

- linear layers (Q, K, V, attention output, MLP, classifier): the LRP-alpha-beta rule with
  alpha = 1, beta = 0, i.e. z+ on positive and negative inputs alike,
  R_i = x+_i sum_j w+_ij R_j / z_j + x-_i sum_j w-_ij R_j / z_j, z_j = sum_i x+_i w+_ij + x-_i w-_ij
  (biases take no relevance);
- LayerNorm, GELU, softmax: relevance passes through unchanged;
- both attention products (Q K^T and A V): each operand gets x * d(z)/d(x) R / z, then halved
  (Eq. 6-7 of the paper: relevance is split between the two operands);
- residual additions: each summand gets x R / (x + y), rescaled so each part's total is its share
  |sum| / (|sum_x| + |sum_y|) of the incoming total (their Eq. 8-9, conserving relevance); a
  token used twice (residual and branch) gets the sum of both relevances.

Every division is "safe" as in their code: by (z + 1e-9), and 0 where z = 0. Their sums for the
residual rescaling run over the whole tensor with a batch of one; here they run per image.
The output is the relevance of every layer's attention probabilities (what transformer
attribution weights by gradients) and of every block's input tokens (where conservation is
checked). The forward is `xai.vit.walk`, which keeps every operand the rules need. Written
directly from the rules in closed form (no autograd), so it runs in the model's dtype; `tests/test_xai_methods.py` checks it against an autograd formulation in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .hooks import encoder_layers
from .vit import BlockPass, Layout, readout_heads, walk

EPS = 1e-9  # the rules' stabiliser, as in Chefer et al.'s code


@dataclass(frozen=True)
class Relevance:
    logits: torch.Tensor  # (B, C) the forward recomputed here
    attentions: list[torch.Tensor]  # per layer (B, heads, N, N) attention probabilities
    attention: list[torch.Tensor]  # per layer (B, heads, N, N) their relevance, first layer first
    tokens: list[torch.Tensor]  # per layer (B, N, D) relevance of each block's input, then the last output


def safe_divide(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a / (b + EPS), and 0 where b is exactly 0."""
    den = b + EPS
    den = den + (den == 0) * EPS
    return a / den * (b != 0)


def linear_relevance(x: torch.Tensor, weight: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """z+ rule (alpha 1, beta 0): `x (..., I)`, `weight (O, I)`, `r (..., O)` -> `(..., I)`."""
    wp, wn = weight.clamp(min=0), weight.clamp(max=0)
    xp, xn = x.clamp(min=0), x.clamp(max=0)
    s = safe_divide(r, xp @ wp.T + xn @ wn.T)
    return xp * (s @ wp) + xn * (s @ wn)


def matmul_relevance(a: torch.Tensor, b: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both operands of `a @ b` (`(..., n, k)`, `(..., k, m)`), x * dz/dx * r / z each, halved."""
    s = safe_divide(r, a @ b)
    return a * (s @ b.transpose(-1, -2)) / 2, b * (a.transpose(-1, -2) @ s) / 2


def add_relevance(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both summands of `x + y` (`(B, ...)`), rescaled per image to shares of r's total by |sum|."""
    s = safe_divide(r, x + y)
    a, b = x * s, y * s
    dims = tuple(range(1, r.ndim))
    sa, sb, total = a.sum(dims, keepdim=True), b.sum(dims, keepdim=True), r.sum(dims, keepdim=True)
    fa = safe_divide(sa.abs(), sa.abs() + sb.abs()) * total
    fb = safe_divide(sb.abs(), sa.abs() + sb.abs()) * total
    return a * safe_divide(fa, sa), b * safe_divide(fb, sb)


def block_relevance(layout: Layout, layer, f: BlockPass, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relevance `r (B, N, D)` of a block's output -> (its input's, its attention probabilities')."""
    att = layer.attention.attention
    r_x2, r_m = add_relevance(f.x2, f.m, r)
    r_g = linear_relevance(f.g, layer.output.dense.weight, r_m)  # GELU: passes through
    r_x2 = r_x2 + linear_relevance(f.h2, layer.intermediate.dense.weight, r_g)  # LayerNorm: passes
    r_x, r_o = add_relevance(f.x, f.o, r_x2)
    r_ctx = layout.split(linear_relevance(f.ctx, layer.attention.output.dense.weight, r_o))
    r_probs, r_v = matmul_relevance(f.probs, f.v, r_ctx)
    r_q, r_kt = matmul_relevance(f.q, f.k.transpose(-1, -2), r_probs)  # softmax: passes through
    r_h1 = sum(linear_relevance(f.h1, m.weight, layout.merge(rel)) for m, rel in
               ((att.query, r_q), (att.key, r_kt.transpose(-1, -2)), (att.value, r_v)))
    return r_x + r_h1, r_probs


def head_relevance(model, t: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, relevance of the final LayerNorm's tokens) from a one-hot relevance on `targets`.
    A distilled DeiT averages two heads (`xai.vit.readout_heads`): the logit's relevance is split
    between them by the residual rule, then each head's linear rule reads its own token."""
    r = torch.zeros(len(t), model.config.num_labels, dtype=t.dtype, device=t.device)
    r[torch.arange(len(t), device=t.device), targets] = 1
    r_tokens = torch.zeros_like(t)
    heads = readout_heads(model)
    if len(heads) == 1:
        shares, logits = [r], heads[0].classifier(t[:, heads[0].token])
    else:  # the mean of two heads: each summand is one head's logits halved
        parts = [head.classifier(t[:, head.token]) / 2 for head in heads]
        shares, logits = add_relevance(*parts, r), parts[0] + parts[1]
    for head, share in zip(heads, shares):
        r_tokens[:, head.token] = linear_relevance(t[:, head.token], head.classifier.weight, share)
    return logits, r_tokens


@torch.no_grad()
def propagate(model, pixel_values: torch.Tensor, targets: torch.Tensor) -> Relevance:
    """Forward `(B, 3, H, W)` pixels (in the model's dtype) with `xai.vit.walk`, then relevance from
    each image's `targets` logit down through every block."""
    layout = Layout(model)
    out = walk(model, layout, pixel_values.to(next(model.parameters()).dtype))
    logits, r = head_relevance(model, out.final, targets)  # final LayerNorm: passes through
    tokens, attention = [r], []
    for layer, f in zip(reversed(encoder_layers(model)), reversed(out.blocks)):
        r, r_probs = block_relevance(layout, layer, f, r)
        tokens.insert(0, r)
        attention.insert(0, r_probs)
    return Relevance(logits=logits, attentions=[f.probs for f in out.blocks], attention=attention, tokens=tokens)
