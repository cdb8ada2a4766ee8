"""Integrated gradients: Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML 2017,
https://arxiv.org/abs/1703.01365, on the patch tokens (the patch-embedding output).

attr = (x - x') * integral_0^1 dS/dx (x' + a (x - x')) da, the integral by the midpoint rule over
`STEPS` points. x: the patch tokens; x': those of the all-zero normalised image (the mean colour:
the reference the deletion metric fills with). The patch embedding is linear, so a patch's
attribution summed over the hidden dim equals pixel-space integrated gradients summed over the
patch's pixels, and the patches' sum is S(x) - S(x') (completeness) up to the quadrature error.
Map: the per-patch sum, negatives clipped, max 1 (as the other methods).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import Method, patches_to_grid, register_method
from ..patch_probe import mean_gradient

STEPS = 32  # midpoint-rule points on the straight path (Sundararajan et al.: 20 to 300 suffice)


def path_gradients(gradient: Callable, x: np.ndarray, reference: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """Mean of `gradient` at x' + a (x - x') over `alphas`: `(B, P, D)` float64. `gradient` maps k
    stacked copies `(k*B, P, D)` to (score, grad), as `xai.patch_probe.PatchProbe.gradient`."""
    return mean_gradient(gradient, x.shape, len(alphas),
                         lambda lo, hi: reference[None] + alphas[lo:hi, None, None, None] * (x - reference)[None])


def integrated_gradients(gradient: Callable, x: np.ndarray, reference: np.ndarray, steps: int = STEPS) -> np.ndarray:
    """Attributions `(B, P, D)` float64 of `x` against `reference` (both `(B, P, D)`)."""
    alphas = (np.arange(steps) + 0.5) / steps
    return (x - reference).astype(np.float64) * path_gradients(gradient, x, reference, alphas)


def integrated_gradients_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """`Capture` with its patch probe -> `(B, gh, gw)`, max 1: attributions summed over the hidden dim."""
    probe = capture.patch_probe
    attr = integrated_gradients(probe.gradient, probe.tokens, probe.reference)
    return patches_to_grid(attr.sum(-1), grid, 0)  # the probe's tokens are the patches only


register_method(Method(
    name="integrated-gradients", summary=f"integrated gradients on the patch tokens from the mean-colour image ({STEPS} steps)",
    paper="https://arxiv.org/abs/1703.01365", gradients=True, fn=integrated_gradients_map))
