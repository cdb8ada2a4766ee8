"""Input edges: the Sobel gradient magnitude of the input, averaged per patch. A map that does not
depend on the model's weights at all, the reference that the model-randomisation sanity check of
Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018, https://arxiv.org/abs/1810.03292
must fail (their Fig. 2 shows an edge detector next to the saliency methods)."""
from __future__ import annotations

import numpy as np

from . import Method, register_method


def sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    """`(B, H, W)` -> gradient magnitude `(B, H, W)` (edges replicated at the border)."""
    from scipy.ndimage import sobel

    gx, gy = sobel(gray, axis=2, mode="nearest"), sobel(gray, axis=1, mode="nearest")
    return np.hypot(gx, gy)


def edge_maps(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """Mean Sobel magnitude of the channel-mean input per patch `(B, gh, gw)`, max 1."""
    gray = capture.pixels.astype(np.float64).mean(axis=1)  # (B, H, W)
    b, h, w = gray.shape
    cells = sobel_magnitude(gray).reshape(b, grid[0], h // grid[0], grid[1], w // grid[1]).mean(axis=(2, 4))
    return (cells / np.maximum(cells.max(axis=(1, 2), keepdims=True), 1e-12)).astype(np.float32)


register_method(Method(name="edges", summary="Sobel edges of the input per patch (weight-independent baseline)",
                       paper="https://arxiv.org/abs/1810.03292", gradients=False, fn=edge_maps, baseline=True))
