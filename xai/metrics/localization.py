"""Localization against known object boxes: the pointing game (Zhang et al., "Top-down Neural
Attention by Excitation Backprop", ECCV 2016, https://arxiv.org/abs/1608.00507) and energy-in-box
(the energy-based pointing game of Wang et al., "Score-CAM", CVPR-W 2020,
https://arxiv.org/abs/1910.01279). Boxes are `(x0, y0, x1, y1)` pixels, x1/y1 exclusive, in the
model-sized image; `xai.localization` generates a set where they are known exactly.
"""
from __future__ import annotations

import numpy as np

from . import Metric, register_metric, upsample


def box_masks(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(B, 4)` boxes -> boolean masks `(B, H, W)`."""
    h, w = size
    ys, xs = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    x0, y0, x1, y1 = (boxes[:, i, None, None] for i in range(4))
    return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)


def pointing_hits(maps: np.ndarray, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per image: does the upsampled map's maximum fall inside the box? `(B,)` bool."""
    up = upsample(maps, size).reshape(len(maps), -1)
    return box_masks(boxes, size).reshape(len(maps), -1)[np.arange(len(maps)), up.argmax(1)]


def energy_in_box(maps: np.ndarray, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per image: share of the (non-negative) upsampled map's mass inside the box `(B,)`."""
    up = np.clip(upsample(maps, size), 0, None)
    inside = (up * box_masks(boxes, size)).sum(axis=(1, 2))
    return inside / np.maximum(up.sum(axis=(1, 2)), 1e-12)


register_metric(Metric("pointing-game", "higher", "share of maps whose maximum lies in the object's box", "boxes"))
register_metric(Metric("energy-in-box", "higher", "share of the map's mass inside the object's box", "boxes"))
