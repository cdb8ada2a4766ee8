"""Deletion and insertion: Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for
Explanation of Black-box Models", BMVC 2018, https://arxiv.org/abs/1806.07421

Deletion: pixels removed (set to black) most relevant first; the explained class's probability
should fall fast (lower AUC is better). Insertion: from a blurred copy of the image, the original
pixels put back most relevant first; the probability should rise fast (higher is better). AUC:
trapezoid of the mean probability over the fraction of pixels changed, 0..1 in `N_STEPS` steps.
"""
from __future__ import annotations

import numpy as np

from . import Forward, Metric, pixel_order, register_metric, trapezoid

N_STEPS = 16
BLUR_SIGMA_AT_224 = 5.0  # RISE's insertion substrate: Gaussian blur, sigma 5 px on 224 px images


def blurred(images: np.ndarray) -> np.ndarray:
    """The insertion substrate, blur scaled to the image size (sigma 5 px at 224 px)."""
    from scipy.ndimage import gaussian_filter

    sigma = max(BLUR_SIGMA_AT_224 * images.shape[1] / 224, 1.0)
    return gaussian_filter(images.astype(np.float32), sigma=(0, sigma, sigma, 0)).round().astype(np.uint8)


def _curve(forward: Forward, start: np.ndarray, end: np.ndarray, order: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probability of `classes` `(N_STEPS + 1, B)` while pixels change from `start` to `end` in `order`."""
    b, h, w, c = start.shape
    rows = np.arange(b)
    current, source = start.reshape(b, h * w, c).copy(), end.reshape(b, h * w, c)
    bounds = np.linspace(0, h * w, N_STEPS + 1).round().astype(int)
    probs = [forward(start)[rows, classes]]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = order[:, lo:hi, None]
        np.put_along_axis(current, idx, np.take_along_axis(source, idx, axis=1), axis=1)
        probs.append(forward(current.reshape(b, h, w, c))[rows, classes])
    return np.stack(probs).astype(np.float64)


def deletion_curve(forward: Forward, images: np.ndarray, maps: np.ndarray, classes: np.ndarray) -> np.ndarray:
    order = pixel_order(maps, images.shape[1:3])
    return _curve(forward, images, np.zeros_like(images), order, classes)


def insertion_curve(forward: Forward, images: np.ndarray, maps: np.ndarray, classes: np.ndarray) -> np.ndarray:
    order = pixel_order(maps, images.shape[1:3])
    return _curve(forward, blurred(images), images, order, classes)


def curve_auc(curve: np.ndarray) -> float:
    return trapezoid(curve.mean(axis=1), np.linspace(0, 1, len(curve)))


register_metric(Metric("deletion", "lower", "class-probability AUC as relevant pixels are blacked out (RISE)"))
register_metric(Metric("insertion", "higher", "class-probability AUC as relevant pixels return to a blurred image (RISE)"))
