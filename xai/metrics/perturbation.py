"""The perturbation test of Chefer, Gur & Wolf, "Transformer Interpretability Beyond Attention
Visualization", CVPR 2021, https://arxiv.org/abs/2012.09838, run as their code does: the heatmap
upsampled to the image, the top 10%, 20%, ..., 90% of pixels set to black (0 before
normalisation), the model's accuracy against the true labels measured at each step.
Positive: most relevant pixels first (a faithful map makes accuracy collapse: lower AUC is
better). Negative: least relevant first (higher is better). AUC: trapezoid over the removed
fraction 0, 0.1, ..., 0.9 of the accuracy curve, times 100 (their tables' scale).
"""
from __future__ import annotations

import numpy as np

from . import Forward, Metric, curve_scorer, pixel_order, register_metric, trapezoid

STEPS = tuple(round(0.1 * i, 1) for i in range(1, 10))


def remove_pixels(images: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Black out the first `k` pixels of each image's `order` `(B, H*W)`."""
    b, h, w, c = images.shape
    out = images.reshape(b, h * w, c).copy()
    np.put_along_axis(out, order[:, :k, None], 0, axis=1)
    return out.reshape(b, h, w, c)


def perturbation_curve(forward: Forward, images: np.ndarray, maps: np.ndarray, labels: np.ndarray,
                       positive: bool, order: np.ndarray | None = None, clean: np.ndarray | None = None) -> np.ndarray:
    """Per-image correctness `(1 + len(STEPS), B)`: unperturbed, then each removal step. `order`:
    the maps' `pixel_order` (most or least relevant first, as `positive` says) when already made;
    `clean`: `forward(images)` `(B, C)` when already made."""
    h, w = images.shape[1:3]
    order = pixel_order(maps if positive else -maps, (h, w)) if order is None else order
    hits = [(forward(images) if clean is None else clean).argmax(-1) == labels]
    for step in STEPS:
        hits.append(forward(remove_pixels(images, order, int(h * w * step))).argmax(-1) == labels)
    return np.stack(hits).astype(np.float64)


def perturbation_auc(curve: np.ndarray) -> float:
    """AUC x 100 of the mean accuracy curve over removed fraction 0..0.9."""
    return 100 * trapezoid(curve.mean(axis=1), np.array((0.0, *STEPS)))


def per_image_auc(curve: np.ndarray) -> np.ndarray:
    """Each image's perturbation AUC `(B,)` from a curve `(steps + 1, B)` (their mean is the AUC)."""
    return np.array([perturbation_auc(curve[:, i:i + 1]) for i in range(curve.shape[1])])


def scorer(positive: bool):
    return curve_scorer(lambda s: perturbation_curve(s.forward, s.images, s.maps, s.labels, positive=positive,
                                                     order=s.relevance_order(positive), clean=s.clean),
                        per_image_auc)


register_metric(Metric("perturbation-pos", "lower", "accuracy AUC, most relevant pixels removed first (Chefer 2021)",
                       score=scorer(positive=True)))
register_metric(Metric("perturbation-neg", "higher", "accuracy AUC, least relevant pixels removed first (Chefer 2021)",
                       score=scorer(positive=False)))
