"""Weight initialisations for presets trained from scratch, one function each, by name.

`hf` leaves transformers' own initialisation (truncated normal, std 0.02, everywhere).
`sincos` starts the model where the "plain ViT" baselines start it (position embeddings as fixed 2D
sine-cosine tables, MAE, He et al. 2022; Beyer et al. 2022, "Better plain ViT baselines for
ImageNet-1k"): the position embeddings begin as a 2D sin-cos table (still trained), the patch
projection Xavier-uniform like a linear layer (so patch content and position start at a similar
scale), the classifier head at zero. The architecture is unchanged, so export and explanation do
not know the difference.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def sincos_2d(grid_h: int, grid_w: int, dim: int, temperature: float = 10000.0) -> np.ndarray:
    """`(grid_h * grid_w, dim)` table, row-major over the patch grid: the first half of the
    channels encodes the row, the second half the column, each as sin then cos of
    `pos / temperature ** (k / (dim / 4))`, k < dim / 4."""
    if dim % 4:
        raise ValueError(f"sin-cos position table needs a width divisible by 4, got {dim}")
    omega = 1.0 / temperature ** (np.arange(dim // 4, dtype=np.float64) / (dim // 4))
    rows, cols = np.meshgrid(np.arange(grid_h, dtype=np.float64), np.arange(grid_w, dtype=np.float64), indexing="ij")
    parts = []
    for pos in (rows.reshape(-1), cols.reshape(-1)):
        angle = pos[:, None] * omega[None, :]
        parts += [np.sin(angle), np.cos(angle)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def init_sincos(model) -> None:
    """Sin-cos position table (special tokens at zero), Xavier patch projection, zero head."""
    import torch

    embeddings, config = model.vit.embeddings, model.config
    grid = config.image_size // config.patch_size
    table = torch.from_numpy(sincos_2d(grid, grid, config.hidden_size))
    position = embeddings.position_embeddings  # (1, special + grid^2, D)
    conv = embeddings.patch_embeddings.projection
    with torch.no_grad():
        position.zero_()
        position[0, position.shape[1] - len(table):] = table
        torch.nn.init.xavier_uniform_(conv.weight.view(conv.weight.shape[0], -1))
        conv.bias.zero_()
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()


INITS: dict[str, Callable | None] = {"hf": None, "sincos": init_sincos}
