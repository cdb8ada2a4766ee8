"""ROAD, RemOve And Debias: Rong, Leemann, Borisov, Kasneci & Kasneci, "A Consistent and Efficient
Evaluation Strategy for Attribution Methods", ICML 2022, https://arxiv.org/abs/2202.00449, without
retraining, as their code (tleemann/road_evaluation) and Quantus's `ROAD` run it.

Removed pixels are not blacked out (which tells the model where the mask is, out of distribution)
but filled by noisy linear imputation: each removed pixel equals the weighted mean of its eight
neighbours (1/6 the four direct, 1/12 the four diagonal, the weights of neighbours outside the
image dropped), one sparse linear system per image and channel, then Gaussian noise (std
`NOISE` of the pixel range) is added to the imputed values. At each percentage p of `PERCENTAGES`
the p% most relevant pixels (MoRF: accuracy should collapse, lower is better) or the p% least
relevant (LeRF: accuracy should hold, higher is better) are removed and the model's accuracy
against the labels is measured. Score: the accuracy x 100, mean over the percentages (and images).
"""
from __future__ import annotations

import numpy as np

from . import Forward, Metric, curve_scorer, pixel_order, register_metric

PERCENTAGES = tuple(range(10, 100, 10))  # % of pixels removed at each step
NOISE = 0.01  # std of the noise on imputed values, in units of the pixel range (Rong et al.'s default)
NEIGHBOURS = (((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12),
              ((0, -1), 1 / 6), ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6))  # (dy, dx), weight
MAX_UNKNOWNS = 1 << 18  # removed pixels per sparse solve (images are solved together up to this)


def imputation_system(removed: np.ndarray, values: np.ndarray):
    """Removed pixels `(B, H, W)` bool and `(B, H, W, C)` float values -> (A, rhs, unknown): the
    sparse system A v = rhs `(n, C)` for the n removed pixels (flat indices `unknown`), each equal
    to the weighted mean of its in-image neighbours (A symmetric positive definite)."""
    from scipy.sparse import coo_matrix

    b, h, w = removed.shape
    flat, known = values.reshape(b * h * w, -1), ~removed.ravel()
    unknown = np.flatnonzero(removed)
    var = np.zeros(b * h * w, np.int64)
    var[unknown] = np.arange(len(unknown))
    y, x = (unknown // w) % h, unknown % w
    diag, rhs = np.zeros(len(unknown)), np.zeros((len(unknown), flat.shape[1]))
    ids = np.arange(len(unknown))
    entries = []  # (rows, cols, values) off the diagonal: minus the weight of each removed neighbour
    for (dy, dx), weight in NEIGHBOURS:
        at = np.flatnonzero((y + dy >= 0) & (y + dy < h) & (x + dx >= 0) & (x + dx < w))
        neighbour = unknown[at] + dy * w + dx
        diag[at] += weight  # the weights of neighbours outside the image are dropped
        given = known[neighbour]
        rhs[at[given]] += weight * flat[neighbour[given]]
        entries.append((at[~given], var[neighbour[~given]], np.full((~given).sum(), -weight)))
    rows, cols, vals = (np.concatenate([first, *(e[i] for e in entries)]) for i, first in enumerate((ids, ids, diag)))
    return coo_matrix((vals, (rows, cols)), shape=(len(unknown),) * 2).tocsc(), rhs, unknown


def noisy_linear_imputation(images: np.ndarray, removed: np.ndarray, noise: float = NOISE,
                            rng: np.random.Generator | None = None) -> np.ndarray:
    """Float images `(B, H, W, C)` in [0, 1] with the `removed` `(B, H, W)` pixels imputed, plus
    N(0, noise^2) on those; images are solved together, up to `MAX_UNKNOWNS` removed pixels at once."""
    out = np.array(images, np.float64)
    counts = removed.reshape(len(removed), -1).sum(1)
    start = 0
    while start < len(images):
        stop = start + max(1, int(np.searchsorted(np.cumsum(counts[start:]), MAX_UNKNOWNS, side="right")))
        out[start:stop] = _impute(out[start:stop], removed[start:stop], noise, rng)
        start = stop
    return out


def _impute(values: np.ndarray, removed: np.ndarray, noise: float, rng) -> np.ndarray:
    from scipy.sparse.linalg import spsolve

    if not removed.any():
        return values
    a, rhs, unknown = imputation_system(removed, values)
    solved = spsolve(a, rhs).reshape(len(unknown), -1)
    if noise:
        solved = solved + noise * (rng or np.random.default_rng()).standard_normal(solved.shape)
    flat = values.reshape(-1, values.shape[-1]).copy()
    flat[unknown] = solved
    return flat.reshape(values.shape)


def removal_masks(order: np.ndarray, size: tuple[int, int], percentage: int) -> np.ndarray:
    """`(B, H, W)` bool: the first `percentage`% of each image's pixel `order` `(B, H*W)`."""
    k = size[0] * size[1] * percentage // 100
    removed = np.zeros(order.shape, bool)
    np.put_along_axis(removed, order[:, :k], True, axis=1)
    return removed.reshape(len(order), *size)


def road_curve(forward: Forward, images: np.ndarray, maps: np.ndarray, labels: np.ndarray, morf: bool,
               percentages=PERCENTAGES, noise: float = NOISE, seed: int = 0, order: np.ndarray | None = None) -> np.ndarray:
    """Per-image correctness `(len(percentages), B)` with the most (`morf`) or least relevant
    pixels of uint8 `images` `(B, H, W, 3)` imputed; `maps` `(B, gh, gw)` are upsampled first.
    `order`: their `pixel_order` (as `morf` says) when already made."""
    size = images.shape[1:3]
    order = pixel_order(maps if morf else -maps, size) if order is None else order
    rng, scaled = np.random.default_rng(seed), images.astype(np.float64) / 255
    hits = []
    for p in percentages:
        imputed = noisy_linear_imputation(scaled, removal_masks(order, size, p), noise, rng)
        hits.append(forward((imputed * 255).round().clip(0, 255).astype(np.uint8)).argmax(-1) == labels)
    return np.stack(hits).astype(np.float64)


def road_scores(curve: np.ndarray) -> np.ndarray:
    """Per-image score `(B,)`: correctness x 100, mean over the percentages of a `road_curve`."""
    return 100 * curve.mean(axis=0)


def scorer(morf: bool):
    return curve_scorer(lambda s: road_curve(s.forward, s.images, s.maps, s.labels, morf=morf,
                                             order=s.relevance_order(morf)), road_scores)


# Not scored by default: each percentage solves a sparse system per image (about 1.9 s per image
# for the nine percentages at 224 px); `xai eval --metrics road-morf,road-lerf` asks for them.
register_metric(Metric("road-morf", "lower", "accuracy (%), mean over 10..90% most relevant pixels imputed (ROAD, Rong 2022)",
                       score=scorer(morf=True), default=False))
register_metric(Metric("road-lerf", "higher", "accuracy (%), mean over 10..90% least relevant pixels imputed (ROAD, Rong 2022)",
                       score=scorer(morf=False), default=False))
