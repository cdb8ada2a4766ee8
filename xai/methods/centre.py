"""The centre baseline: one Gaussian blob in the middle of the patch grid, the same for every
image. A map that knows nothing of the image or the model, the centre prior of saliency
benchmarks (Judd et al., "Learning to Predict Where Humans Look", ICCV 2009,
https://people.csail.mit.edu/tjudd/WherePeopleLook/): a localization set where objects cluster in
the middle rewards it, so every table reports it beside `random`."""
from __future__ import annotations

import numpy as np

from . import Method, register_method

SIGMA = 0.25  # the Gaussian's standard deviation, as a share of the grid's side


def centre_maps(n: int, grid: tuple[int, int]) -> np.ndarray:
    """`(n, gh, gw)`: a Gaussian centred on the grid (its four middle cells tie on an even grid), max 1."""
    gh, gw = grid
    y = (np.arange(gh) - (gh - 1) / 2) / (SIGMA * gh)
    x = (np.arange(gw) - (gw - 1) / 2) / (SIGMA * gw)
    blob = np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / 2)
    return np.broadcast_to(blob / blob.max(), (n, gh, gw)).astype(np.float32)


def centre_method(capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
    return centre_maps(len(capture.logits), grid)


register_method(Method(name="centre", summary="a centred Gaussian, the same for every image (baseline)",
                       paper="https://people.csail.mit.edu/tjudd/WherePeopleLook/", gradients=False,
                       fn=centre_method, baseline=True))
