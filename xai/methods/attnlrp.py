"""AttnLRP: Achtibat et al., "AttnLRP: Attention-Aware Layer-wise Relevance Propagation for
Transformers", ICML 2024, https://arxiv.org/abs/2402.05602, in the setting its authors' package
`lxt` 2.x gives vision transformers (`lxt.efficient.models.vit_torch.cp_LRP`): AttnLRP's rules
outside the attention and CP-LRP (Ali et al., "XAI for Transformers: Better Explanations through
Conservative Propagation", ICML 2022, https://arxiv.org/abs/2202.07304) inside it.

Each rule is a change to the gradient, so that input x gradient is the relevance (the Gradient x
Input form `lxt` computes them in: Arras et al. 2025, https://arxiv.org/abs/2502.15886):
- LayerNorm: the identity rule on the normalisation, i.e. its standard deviation held constant
  (relevance flows through the centring and the affine map only);
- GELU: the identity rule, relevance passes through unchanged (gradient GELU(x) / (x + 1e-10));
- attention: CP-LRP, the probabilities held constant (queries and keys take no gradient), so the
  relevance of the context reaches the values only, none goes through the softmax;
- everything else (patch embedding, Q/K/V/output/MLP linear layers, residual additions, the
  classifier heads): the plain gradient, i.e. LRP-0 with biases absorbing their share (no gamma);
- a distilled DeiT's logit is the mean of its CLS and distillation heads (`xai.vit.readout_heads`),
  so each head's token starts with its half.
Relevance starts at the explained logit and ends at the input pixels; a patch's relevance is the
sum over its pixels and channels. The rules are a `Layout` of the one ViT walker (`xai.vit`); the
pass runs in `xai.hooks.capture` (Capture.rule_relevance).
"""
from __future__ import annotations

import numpy as np

from ..vit import Layout
from . import Method, patches_to_grid, register_method

IDENTITY_EPS = 1e-10  # lxt's stabiliser of GELU(x) / x in the identity rule


class AttnLRPRules(Layout):
    """The walker's steps with AttnLRP's (and, inside the attention, CP-LRP's) gradients; the
    forward values are the model's."""

    def norm(self, layer, x):
        """LayerNorm with its standard deviation detached (the identity rule on the division)."""
        centred = x - x.mean(dim=-1, keepdim=True)
        std = ((centred * centred).mean(dim=-1, keepdim=True) + layer.eps).sqrt()
        return centred / std.detach() * layer.weight + layer.bias

    def act(self, fn, x):
        """fn(x) in value; its gradient replaced by fn(x) / x (relevance passes unchanged)."""
        y = fn(x)
        passed = x * (y / (x + IDENTITY_EPS)).detach()
        return y.detach() + (passed - passed.detach())  # value exactly y, gradient y / x

    def attend(self, q, k, v, rows):
        """The attention probabilities as constants: only the values carry relevance (CP-LRP)."""
        return super().attend(q.detach(), k.detach(), v, rows)


def patch_relevance(pixels: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Pixel relevance `(B, 3, H, W)` -> each patch's sum over its pixels and channels `(B, gh * gw)`."""
    b, _, h, w = pixels.shape
    cells = pixels.astype(np.float64).sum(axis=1).reshape(b, grid[0], h // grid[0], grid[1], w // grid[1])
    return cells.sum(axis=(2, 4)).reshape(b, -1)


def attnlrp_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """`Capture` (with gradients) -> relevance `(B, gh, gw)`, negatives clipped, max 1."""
    patches = patch_relevance(capture.rule_relevance(AttnLRPRules), grid)
    return patches_to_grid(np.concatenate([np.zeros((len(patches), n_special)), patches], axis=1), grid, n_special)


register_method(Method(
    name="attnlrp", summary="AttnLRP (CP-LRP in the attention, as lxt for ViTs): relevance of each patch's pixels",
    paper="https://arxiv.org/abs/2402.05602", gradients=True, fn=attnlrp_map))
