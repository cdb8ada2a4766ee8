"""The random baseline: uniform noise over the patches, the row every metric is read against
(an explanation no better than this carries no information about the model)."""
from __future__ import annotations

import zlib

import numpy as np

from . import Method, register_method


def uniform_maps(scores: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Uniform `(B, gh, gw)` for a batch with model outputs `scores` `(B, C)`, seeded by them, so a
    rerun gives the same maps and another model (e.g. a randomised one) gets fresh noise."""
    seed = zlib.crc32(np.ascontiguousarray(scores, dtype=np.float32).tobytes())
    return np.random.default_rng(seed).random((len(scores), *grid)).astype(np.float32)


def random_maps(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    return uniform_maps(capture.logits, grid)


register_method(Method(name="random", summary="uniform noise (baseline)", paper="", gradients=False,
                       fn=random_maps, baseline=True))
