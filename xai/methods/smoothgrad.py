"""SmoothGrad: Smilkov, Thorat, Kim, Viegas & Wattenberg, "SmoothGrad: removing noise by adding
noise", 2017, https://arxiv.org/abs/1706.03825, on the patch tokens (the patch-embedding output).

M(x) = 1/n sum_i dS/dx (x + e_i), e_i ~ N(0, sigma^2), sigma = `NOISE_LEVEL` x (max - min) of the
image's tokens (the paper's 10-20% of the input range), n = `SAMPLES`. Map: each patch's L2 norm
of M over the hidden dim (the gradient's magnitude; its sign says nothing of relevance), max 1.
The noise is seeded by the tokens themselves, so a rerun gives the same map.
"""
from __future__ import annotations

import zlib
from typing import Callable

import numpy as np

from . import Method, patches_to_grid, register_method
from ..patch_probe import mean_gradient

SAMPLES = 16  # noisy copies per image
NOISE_LEVEL = 0.15  # sigma / (max - min) of the image's tokens

NoiseDraws = Callable[[int, int], np.ndarray]  # (lo, hi) -> noise of copies lo..hi-1 `(hi - lo, B, P, D)`


def noise_draws(x: np.ndarray, level: float, seed: int) -> NoiseDraws:
    """Gaussian noise for the copies of `x` `(B, P, D)`, each image's sigma `level` x the range of its
    tokens, drawn a chunk at a time in order (the same values as one draw of them all)."""
    sigma = level * (x.max(axis=(1, 2)) - x.min(axis=(1, 2)))  # (B,)
    rng = np.random.default_rng(seed)
    return lambda lo, hi: rng.standard_normal((hi - lo, *x.shape)) * sigma[None, :, None, None]


def smoothgrad(gradient: Callable, x: np.ndarray, noise: NoiseDraws, samples: int) -> np.ndarray:
    """Mean gradient `(B, P, D)` float64 over `samples` noisy copies x + noise, the noise drawn a
    chunk at a time (`noise_draws`: a batch of ViT-B tokens' 16 copies would be 1.2 GB at once).
    `gradient` maps k stacked copies `(k*B, P, D)` to (score, grad), as `xai.patch_probe`."""
    return mean_gradient(gradient, x.shape, samples, lambda lo, hi: x[None] + noise(lo, hi))


def smoothgrad_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """`Capture` with its patch probe -> `(B, gh, gw)`, max 1: the mean gradient's norm per patch."""
    probe = capture.patch_probe
    seed = zlib.crc32(np.ascontiguousarray(probe.tokens, dtype=np.float32).tobytes())
    mean_grad = smoothgrad(probe.gradient, probe.tokens, noise_draws(probe.tokens, NOISE_LEVEL, seed), SAMPLES)
    return patches_to_grid(np.linalg.norm(mean_grad, axis=-1), grid, 0)  # the probe's tokens are the patches only


register_method(Method(
    name="smoothgrad", summary=f"SmoothGrad on the patch tokens: norm of the mean gradient over {SAMPLES} noisy copies",
    paper="https://arxiv.org/abs/1706.03825", gradients=True, fn=smoothgrad_map))
