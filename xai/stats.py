"""Uncertainty of a mean over images: the percentile bootstrap (Efron & Tibshirani, "An
Introduction to the Bootstrap", 1993, ch. 13). The images are resampled with replacement, the
mean recomputed on each resample, and the 2.5th and 97.5th percentiles of those means bound the
95% interval. Two methods scored on the same images are compared on their per-image differences
(a paired bootstrap), which removes what the images share (some are hard for every map).

Pure numpy; seeded, so a rerun gives the same interval. Every method and metric of one evaluation
uses the same resamples (`resample_indices`), so the intervals of two rows come from one draw.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap interval."""

    mean: float
    low: float
    high: float

    def excludes(self, value: float = 0.0) -> bool:
        """Does the interval leave `value` out (on either side)?"""
        return value < self.low or value > self.high


def resample_indices(n: int, n_resamples: int = N_RESAMPLES, seed: int = SEED) -> np.ndarray:
    """`(n_resamples, n)` indices, each row `n` draws with replacement from `range(n)`."""
    return np.random.default_rng(seed).integers(0, n, (n_resamples, n))


def bootstrap_interval(scores: np.ndarray, indices: np.ndarray | None = None, level: float = LEVEL) -> Interval:
    """Mean of `scores` `(N,)` with its percentile-bootstrap interval at `level`; `indices`
    `(R, N)` from `resample_indices` (drawn here with the default seed when None)."""
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty (N,) array, got shape {scores.shape}")
    indices = resample_indices(len(scores)) if indices is None else indices
    if indices.shape[1] != len(scores):
        raise ValueError(f"resamples of {indices.shape[1]} images for {len(scores)} scores")
    means = scores[indices].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(scores.mean()), float(low), float(high))


def paired_difference(a: np.ndarray, b: np.ndarray, indices: np.ndarray | None = None,
                      level: float = LEVEL) -> Interval:
    """Mean of `a - b` over the same images `(N,)`, with its paired bootstrap interval."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have one shape, got {a.shape} and {b.shape}")
    return bootstrap_interval(a - b, indices, level)


def verdict(difference: Interval, better: str) -> str:
    """How `a` stands against `b` given the interval of `a - b` and the metric's better direction
    ("higher" or "lower"): "better", "worse", or "not separated" (the interval holds 0)."""
    if not difference.excludes(0.0):
        return "not separated"
    a_higher = difference.low > 0
    return "better" if a_higher == (better == "higher") else "worse"
