"""Deletion and insertion: Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for
Explanation of Black-box Models", BMVC 2018, https://arxiv.org/abs/1806.07421, as their code
(eclique/RISE, `evaluation.py`) runs them.

Deletion: pixels set to the mean colour (zero after normalisation), most relevant first; the
explained class's probability should fall fast (lower AUC is better). Insertion: from a blurred
copy of the image, the original pixels put back most relevant first; the probability should rise
fast (higher is better). The blur is RISE's own: `gkern(11, 5)`, a unit impulse in an 11 x 11
window smoothed by `scipy.ndimage.gaussian_filter(sigma=5)` (whose default border mode reflects
the Gaussian's tails back into the window), applied by a convolution with zero padding on the
normalised image, i.e. padded with the mean colour. Its size is fixed in pixels as in their code,
so it blurs a 32 px image far more, relative to its size, than a 224 px one. Step: one image
row's worth of pixels (224 at 224 px), so `H` steps. AUC: trapezoid of the mean probability over
the fraction changed; per image, the same trapezoid of its own curve (their mean is the AUC).
"""
from __future__ import annotations

import numpy as np

from . import Forward, Metric, curve_scorer, pixel_order, register_metric, trapezoid

BLUR_SIZE = 11  # RISE's insertion substrate (eclique/RISE, evaluation.py): klen = 11 ...
BLUR_SIGMA = 5.0  # ... ksig = 5, in pixels at any image size


def n_steps(size: tuple[int, int]) -> int:
    """RISE's step is one row's worth of pixels (224 of 224 x 224): `H` steps over the image."""
    return size[0]


def blur_kernel(size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """RISE's `gkern` as its 1-D factor `(size,)`: a unit impulse at the centre of `size` taps
    smoothed by scipy's Gaussian filter (tails reflected back at the window's ends; sum 1). Their
    2-D kernel, `gaussian_filter` of a centred 2-D impulse, is the outer product of this with itself."""
    from scipy.ndimage import gaussian_filter1d

    impulse = np.zeros(size)
    impulse[size // 2] = 1.0
    return gaussian_filter1d(impulse, sigma)


def blurred(images: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """The insertion substrate: uint8 `(B, H, W, 3)` blurred by RISE's separable kernel, the
    border padded with `fill` (the mean colour: RISE zero-pads the normalised image)."""
    from scipy.ndimage import correlate1d

    taps = blur_kernel()
    centred = images.astype(np.float64) - fill
    for axis in (1, 2):
        centred = correlate1d(centred, taps, axis=axis, mode="constant", cval=0.0)
    return (centred + fill).round().clip(0, 255).astype(np.uint8)


MIN_BATCH = 64  # images per forward call: small batches stack several steps into one call


def _curve(forward: Forward, start: np.ndarray, end: np.ndarray, order: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probability of `classes` `(steps + 1, B)` while pixels change from `start` to `end` in `order`.
    Steps are forwarded together in groups of about `MIN_BATCH` images (one step per call for large B)."""
    b, h, w, c = start.shape
    current, source = start.reshape(b, h * w, c).copy(), end.reshape(b, h * w, c)
    bounds = np.linspace(0, h * w, n_steps((h, w)) + 1).round().astype(int)
    frames, probs, per_call = [start], [], max(1, MIN_BATCH // b)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = order[:, lo:hi, None]
        np.put_along_axis(current, idx, np.take_along_axis(source, idx, axis=1), axis=1)
        frames.append(current.reshape(b, h, w, c).copy())
        if len(frames) >= per_call:
            probs += _class_probs(forward, frames, classes)
            frames = []
    return np.stack(probs + (_class_probs(forward, frames, classes) if frames else [])).astype(np.float64)


def _class_probs(forward: Forward, frames: list[np.ndarray], classes: np.ndarray) -> list[np.ndarray]:
    """One forward of the stacked frames (each `(B, H, W, 3)`) -> each frame's `classes` probability `(B,)`."""
    probs = forward(np.concatenate(frames)).reshape(len(frames), len(classes), -1)
    return list(probs[:, np.arange(len(classes)), classes])


def deletion_curve(forward: Forward, images: np.ndarray, maps: np.ndarray, classes: np.ndarray,
                   fill: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """`(steps + 1, B)`: relevant pixels set to `fill` `(3,)` uint8, the model's mean colour.
    `order`: the maps' `pixel_order` when already made."""
    order = pixel_order(maps, images.shape[1:3]) if order is None else order
    return _curve(forward, images, np.broadcast_to(np.asarray(fill, np.uint8), images.shape), order, classes)


def insertion_curve(forward: Forward, images: np.ndarray, maps: np.ndarray, classes: np.ndarray,
                    fill: np.ndarray, order: np.ndarray | None = None, start: np.ndarray | None = None) -> np.ndarray:
    """`(steps + 1, B)`: relevant pixels restored into the blurred image (padded with `fill`).
    `order`, `start`: the maps' `pixel_order` and `blurred(images, fill)` when already made."""
    order = pixel_order(maps, images.shape[1:3]) if order is None else order
    start = blurred(images, np.asarray(fill, np.float64)) if start is None else start
    return _curve(forward, start, images, order, classes)


def mean_colour(mean) -> np.ndarray:
    """The normalisation mean (0..1 per channel) as the uint8 colour that normalises to ~zero."""
    return np.round(np.asarray(mean, np.float64) * 255).astype(np.uint8)


def curve_auc(curve: np.ndarray) -> float:
    """AUC of the mean curve `(steps + 1, B)` over the fraction changed 0..1."""
    return trapezoid(curve.mean(axis=1), np.linspace(0, 1, len(curve)))


def curve_aucs(curve: np.ndarray) -> np.ndarray:
    """Each image's AUC `(B,)` of `curve` `(steps + 1, B)`; their mean is `curve_auc`."""
    return np.array([curve_auc(curve[:, i:i + 1]) for i in range(curve.shape[1])])


score_deletion = curve_scorer(lambda s: deletion_curve(s.forward, s.images, s.maps, s.predicted, s.fill,
                                                       order=s.most_relevant_first), curve_aucs)
score_insertion = curve_scorer(lambda s: insertion_curve(
    s.forward, s.images, s.maps, s.predicted, s.fill, order=s.most_relevant_first,
    start=s.once("insertion-start", lambda: blurred(s.images, np.asarray(s.fill, np.float64)))), curve_aucs)


register_metric(Metric("deletion", "lower", "class-probability AUC as relevant pixels turn to the mean colour (RISE)",
                       score=score_deletion))
register_metric(Metric("insertion", "higher", "class-probability AUC as relevant pixels return to a blurred image (RISE)",
                       score=score_insertion))
