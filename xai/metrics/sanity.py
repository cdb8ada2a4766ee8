"""The model-randomisation sanity check: Adebayo et al., "Sanity Checks for Saliency Maps",
NeurIPS 2018, https://arxiv.org/abs/1810.03292. An explanation that depends on what the model
learned changes when the weights are re-initialised. As they do, we compare each image's map from
the trained model with the map from the same architecture with its weights drawn afresh by the
absolute Spearman rank correlation (a map that turns into its inverse has not lost its
structure: the sign does not count) and by SSIM (Wang et al. 2004) of the two maps upsampled to
the image and scaled to 0..1. Each image's score is the mean over `SEEDS` randomisations.

Pass rule: a method passes when the upper end of the 95% bootstrap interval of the mean over
images is below `PASS_BELOW` for both similarities.
"""
from __future__ import annotations

import numpy as np

from . import Metric, Scored, Scoring, register_metric, upsample

PASS_BELOW = 0.5
SEEDS = (0, 1, 2)  # randomisations of a checkpoint (an artifact is re-exported once: seed 0)
SSIM_WINDOW = 7  # px, uniform window (scikit-image's default)
SSIM_K1, SSIM_K2 = 0.01, 0.03  # Wang et al.'s constants, for maps scaled to 0..1 (data range 1)


def rank_correlations(maps: np.ndarray, randomised: np.ndarray) -> np.ndarray:
    """Spearman correlation per image `(B,)`; 0 where either map is constant (no ranking)."""
    from scipy.stats import rankdata

    a = rankdata(maps.reshape(len(maps), -1), axis=1)
    b = rankdata(randomised.reshape(len(randomised), -1), axis=1)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    denominator = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(denominator > 0, (a * b).sum(1) / np.maximum(denominator, 1e-12), 0.0)


def unit_range(x: np.ndarray) -> np.ndarray:
    """Each image `(B, H, W)` scaled to 0..1 (a constant image to 0)."""
    low = x.min(axis=(1, 2), keepdims=True)
    span = x.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (x - low) / np.where(span > 0, span, 1), 0.0)


def _window_means(x: np.ndarray, w: int) -> np.ndarray:
    """Mean over every `w x w` window that fits `(B, H - w + 1, W - w + 1)` (summed-area table)."""
    s = np.pad(x.cumsum(1).cumsum(2), ((0, 0), (1, 0), (1, 0)))
    return (s[:, w:, w:] - s[:, :-w, w:] - s[:, w:, :-w] + s[:, :-w, :-w]) / (w * w)


def ssim(a: np.ndarray, b: np.ndarray, window: int = SSIM_WINDOW) -> np.ndarray:
    """Mean SSIM per image `(B,)` of images `(B, H, W)` in 0..1: Wang et al.'s luminance, contrast
    and structure terms over every `window`-px square (sample covariances, as scikit-image
    computes them by default), averaged over the windows."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    window = min(window, *a.shape[1:])
    window -= 1 - window % 2  # odd, and no larger than the image
    n = window * window
    mu_a, mu_b = _window_means(a, window), _window_means(b, window)
    unbiased = n / (n - 1)
    var_a = (_window_means(a * a, window) - mu_a ** 2) * unbiased
    var_b = (_window_means(b * b, window) - mu_b ** 2) * unbiased
    cov = (_window_means(a * b, window) - mu_a * mu_b) * unbiased
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean(axis=(1, 2))


def map_ssim(maps: np.ndarray, randomised: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """SSIM per image `(B,)` of two patch maps `(B, gh, gw)` upsampled to `size` and scaled to 0..1."""
    return ssim(unit_range(upsample(maps, size)), unit_range(upsample(randomised, size)))


def score_rank(s: Scoring) -> Scored:
    """Per image, the absolute rank correlation with each randomised map, averaged over the randomisations."""
    return np.mean([np.abs(rank_correlations(s.maps, r)) for r in s.randomised], axis=0), None


def score_ssim(s: Scoring) -> Scored:
    """Per image, the SSIM with each randomised map, averaged over the randomisations."""
    return np.mean([map_ssim(s.maps, r, s.size) for r in s.randomised], axis=0), None


register_metric(Metric("sanity-abs-rank-corr", "lower",
                       f"absolute Spearman correlation with the randomised model's map, mean of {len(SEEDS)} "
                       f"randomisations (passes below {PASS_BELOW})", "randomised", score=score_rank))
register_metric(Metric("sanity-ssim", "lower",
                       f"SSIM with the randomised model's map, mean of {len(SEEDS)} randomisations "
                       f"(passes below {PASS_BELOW})", "randomised", score=score_ssim))
