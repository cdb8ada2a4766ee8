"""Localization against known object boxes: the pointing game (Zhang et al., "Top-down Neural
Attention by Excitation Backprop", ECCV 2016, https://arxiv.org/abs/1608.00507) and energy-in-box
(the energy-based pointing game of Wang et al., "Score-CAM", CVPR-W 2020,
https://arxiv.org/abs/1910.01279). Boxes are `(x0, y0, x1, y1)` pixels, x1/y1 exclusive, in the
model-sized image; `finetune.localization` generates a set where they are known exactly.

The pointing game takes the maximum on the map's own grid (one cell per patch) and scores the
cell's centre: a bilinearly upsampled map (align_corners=False) copies edge cells to the border
unblended while interior peaks are blended down, which draws the argmax of a noise map to the
border. On the grid, a map that carries no information hits the box as often as the box covers
the image (`chance_level`), and every pointing-game figure is reported beside that share. A tie
for the maximum is scored as the share of the tied cells in the box (a constant map: chance).
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


def cell_centres(grid: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (x, y) of each grid cell's centre, each `(gh, gw)`, for an image of `size` (H, W)."""
    gh, gw = grid
    ys, xs = np.meshgrid((np.arange(gh) + 0.5) * size[0] / gh, (np.arange(gw) + 0.5) * size[1] / gw, indexing="ij")
    return xs, ys


def pointing_hits(maps: np.ndarray, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per image: does the centre of the map's maximal cell fall inside the box? `(B,)` in 0..1.
    Where several cells share the maximum, the share of them that do: the expected hit of breaking
    the tie at random, so a constant map scores the share of cells in the box (chance), never
    whatever cell comes first."""
    xs, ys = cell_centres(maps.shape[1:], size)
    top = maps == maps.max(axis=(1, 2), keepdims=True)  # (B, gh, gw)
    x0, y0, x1, y1 = (boxes[:, i, None, None] for i in range(4))
    inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    return (top & inside).sum(axis=(1, 2)) / top.sum(axis=(1, 2))


def chance_level(boxes: np.ndarray, size: tuple[int, int]) -> float:
    """The pointing game's score for maps that carry no information: the mean share of the
    image the box covers."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return float(np.mean(area / (size[0] * size[1])))


def energy_in_box(maps: np.ndarray, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per image: share of the (non-negative) upsampled map's mass inside the box `(B,)`."""
    up = np.clip(upsample(maps, size), 0, None)
    inside = (up * box_masks(boxes, size)).sum(axis=(1, 2))
    return inside / np.maximum(up.sum(axis=(1, 2)), 1e-12)


register_metric(Metric("pointing-game", "higher",
                       "share of maps whose maximal patch's centre lies in the object's box (chance: its area share)",
                       "boxes", score=lambda s: (pointing_hits(s.maps, s.boxes, s.size).astype(np.float64), None)))
register_metric(Metric("energy-in-box", "higher", "share of the map's mass inside the object's box", "boxes",
                       score=lambda s: (energy_in_box(s.maps, s.boxes, s.size).astype(np.float64), None)))
