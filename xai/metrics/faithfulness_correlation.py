"""Faithfulness correlation: Bhatt, Weller & Moura, "Evaluating and Aggregating Feature-based Model
Explanations", IJCAI 2020, https://arxiv.org/abs/2005.00631, as Quantus's `FaithfulnessCorrelation`
computes it, with pixels as the features.

For each of `RUNS` random subsets S of `SUBSET_FRACTION` of the pixels: the sum of the (upsampled)
map over S, and the drop of the explained class's probability when S is set to the fill colour.
Per image: the Pearson correlation of the two over the runs (higher is better: the map predicts
what removing a region costs); an image where either side is constant (a constant map) scores 0.
Score: the mean over the images.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from . import Forward, Metric, register_metric, upsample

RUNS = 100  # random subsets per image (Quantus's default)
SUBSET_FRACTION = 0.05  # of the pixels in each subset


def random_subsets(n_images: int, n_pixels: int, size: int, runs: int = RUNS, seed: int = 0) -> Iterator[np.ndarray]:
    """`runs` arrays `(B, size)` of pixel indices, drawn without replacement within each subset
    (one run at a time: all of them at once would be runs x B x size indices)."""
    rng = np.random.default_rng(seed)
    for _ in range(runs):
        yield np.argpartition(rng.random((n_images, n_pixels)), size - 1, axis=1)[:, :size]


def subset_effects(forward: Forward, images: np.ndarray, flat_maps: np.ndarray, subsets: Iterable[np.ndarray],
                   classes: np.ndarray, fill: np.ndarray, clean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sums, drops), each `(runs, B)`: the sum of `flat_maps` `(B, H*W)` over each run's pixel
    `subsets` `(B, k)`, and the probability of `classes` on uint8 `images` `(B, H, W, 3)` minus
    that with those pixels set to `fill` `(3,)`. `clean`: `forward(images)` `(B, C)` when already made."""
    b, h, w, c = images.shape
    rows = np.arange(b)
    before = (forward(images) if clean is None else clean)[rows, classes]
    sums, drops = [], []
    for subset in subsets:
        out = images.reshape(b, h * w, c).copy()
        out[rows[:, None], subset] = np.asarray(fill, np.uint8)
        sums.append(flat_maps[rows[:, None], subset].sum(-1))
        drops.append(before - forward(out.reshape(b, h, w, c))[rows, classes])
    return np.stack(sums), np.stack(drops).astype(np.float64)


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of `a` and `b` `(runs, B)` along the runs `(B,)`; 0 where either is
    constant (up to rounding: a constant map's subset sums differ only in the last bits)."""
    (a, flat_a), (b, flat_b) = _centred(a), _centred(b)
    flat = flat_a | flat_b
    denom = np.sqrt((a ** 2).sum(0) * (b ** 2).sum(0))
    return np.where(flat, 0.0, (a * b).sum(0) / np.where(flat, 1.0, denom))


def _centred(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`x - mean` along axis 0, and whether each column is constant to 1e-9 of its magnitude."""
    centred = x - x.mean(0)
    return centred, np.sqrt((centred ** 2).mean(0)) <= 1e-9 * np.abs(x).max(0)


def faithfulness_correlation(forward: Forward, images: np.ndarray, maps: np.ndarray, classes: np.ndarray,
                             fill: np.ndarray, subsets: Iterable[np.ndarray] | None = None, runs: int = RUNS,
                             seed: int = 0, clean: np.ndarray | None = None) -> np.ndarray:
    """Per-image correlation `(B,)` between the map's sum over random pixel subsets and the drop in
    the probability of `classes` when they are filled; `maps` `(B, gh, gw)` are upsampled first.
    `subsets`: per run, pixel indices `(B, k)` (None: `runs` subsets from `random_subsets`);
    `clean`: `forward(images)` `(B, C)` when already made."""
    b, h, w = images.shape[:3]
    if subsets is None:
        subsets = random_subsets(b, h * w, max(1, round(SUBSET_FRACTION * h * w)), runs, seed)
    flat = upsample(maps, (h, w)).reshape(b, -1).astype(np.float64)
    return pearson_rows(*subset_effects(forward, images, flat, subsets, classes, fill, clean))


# Not scored by default: RUNS forwards of the whole batch per method; asked for by name (`--metrics`).
register_metric(Metric("faithfulness-correlation", "higher",
                       "Pearson r of the map's sum over random pixel subsets and the probability drop "
                       "when they are filled (Bhatt 2020)",
                       score=lambda s: (faithfulness_correlation(s.forward, s.images, s.maps, s.predicted, s.fill,
                                                                  clean=s.clean), None),
                       default=False))
