"""Faithfulness and localization metrics, a registry. Each needs only forward passes of the model
(a `forward(images uint8 (B, H, W, 3)) -> probs (B, C)` callable), so it runs on any backend.

Heatmaps `(B, gh, gw)` are upsampled bilinearly to the image size first (as Chefer et al. do), except
for the pointing game, which reads the maximum on the patch grid (see `localization`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from _infra.registry import add_unique

Forward = Callable[[np.ndarray], np.ndarray]  # uint8 (B, H, W, 3) -> probs (B, C)


@dataclass(frozen=True)
class Metric:
    name: str
    better: str  # "higher" or "lower"
    summary: str
    needs: str = ""  # "boxes" (localization set) or "randomised" (a randomised model's maps)


METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    return add_unique(METRICS, metric.name, metric, "metric")


def upsample(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`(B, gh, gw)` -> `(B, H, W)` bilinear (align_corners=False), as torch's interpolate."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    return torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)[:, 0].numpy()


def pixel_order(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pixel indices `(B, H*W)`, most relevant first (stable, so ties keep raster order)."""
    flat = upsample(maps, size).reshape(len(maps), -1)
    return np.argsort(-flat, axis=1, kind="stable")


def trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2)


from . import perturbation, deletion_insertion, localization, sanity  # noqa: E402,F401
from . import road, faithfulness_correlation  # noqa: E402,F401
