"""The model-randomisation sanity check: Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018, https://arxiv.org/abs/1810.03292. An explanation that depends on what the model
learned changes when the weights are re-initialised; we report the mean Spearman rank
correlation between each image's map from the trained model and from the same architecture with
every weight randomised. Passing means a correlation below `PASS_BELOW`.
"""
from __future__ import annotations

import numpy as np

from . import Metric, register_metric

PASS_BELOW = 0.5


def rank_correlations(maps: np.ndarray, randomised: np.ndarray) -> np.ndarray:
    """Spearman correlation per image `(B,)`; 0 where either map is constant (no ranking)."""
    from scipy.stats import rankdata

    a = rankdata(maps.reshape(len(maps), -1), axis=1)
    b = rankdata(randomised.reshape(len(randomised), -1), axis=1)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    denominator = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(denominator > 0, (a * b).sum(1) / np.maximum(denominator, 1e-12), 0.0)


register_metric(Metric("sanity-rank-corr", "lower",
                       f"Spearman correlation with the randomised model's map (passes below {PASS_BELOW})",
                       "randomised"))
