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

SAMPLES = 16  # noisy copies per image
NOISE_LEVEL = 0.15  # sigma / (max - min) of the image's tokens
ROWS_PER_CALL = 64  # noisy copies x images per gradient call


def token_noise(x: np.ndarray, samples: int, level: float, seed: int) -> np.ndarray:
    """`(samples, B, P, D)` Gaussian noise, each image's sigma `level` x the range of its tokens."""
    sigma = level * (x.max(axis=(1, 2)) - x.min(axis=(1, 2)))  # (B,)
    noise = np.random.default_rng(seed).standard_normal((samples, *x.shape))
    return noise * sigma[None, :, None, None]


def smoothgrad(gradient: Callable, x: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Mean gradient `(B, P, D)` float64 over the noisy copies x + noise[i] (`noise`: `(n, B, P, D)`).
    `gradient` maps k stacked copies `(k*B, P, D)` to (score, grad), as `xai.patch_probe`."""
    per_call = max(1, ROWS_PER_CALL // len(x))
    total = np.zeros(x.shape, np.float64)
    for lo in range(0, len(noise), per_call):
        points = (x[None] + noise[lo:lo + per_call]).reshape(-1, *x.shape[1:])
        _, grads = gradient(points.astype(np.float32))
        total += grads.reshape(-1, *x.shape).sum(axis=0)
    return total / len(noise)


def smoothgrad_map(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """`Capture` with its patch probe -> `(B, gh, gw)`, max 1: the mean gradient's norm per patch."""
    probe = capture.patch_probe
    seed = zlib.crc32(np.ascontiguousarray(probe.tokens, dtype=np.float32).tobytes())
    mean_grad = smoothgrad(probe.gradient, probe.tokens, token_noise(probe.tokens, SAMPLES, NOISE_LEVEL, seed))
    return patches_to_grid(np.linalg.norm(mean_grad, axis=-1), grid, 0)  # the probe's tokens are the patches only


register_method(Method(
    name="smoothgrad", summary=f"SmoothGrad on the patch tokens: norm of the mean gradient over {SAMPLES} noisy copies",
    paper="https://arxiv.org/abs/1706.03825", gradients=True, fn=smoothgrad_map))
