"""Faithfulness and localization metrics, a registry that holds each metric's scoring function:
the evaluation loop (`xai.evaluate`) calls what the registry names. Each needs only forward passes
of the model (a `forward(images uint8 (B, H, W, 3)) -> probs (B, C)` callable), so it runs on any
backend; a new metric is one file that registers a `Metric` with its `score`.

Heatmaps `(B, gh, gw)` are upsampled bilinearly to the image size first (as Chefer et al. do), except
for the pointing game, which reads the maximum on the patch grid (see `localization`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Optional

import numpy as np

from _infra.registry import add_unique

Forward = Callable[[np.ndarray], np.ndarray]  # uint8 (B, H, W, 3) -> probs (B, C)


@dataclass(frozen=True)
class Scoring:
    """What a metric reads to score one method's maps of one batch."""
    forward: Forward
    images: np.ndarray  # uint8 (N, H, W, 3), at the model's size
    maps: np.ndarray  # (N, gh, gw), the method's maps of the predicted classes
    labels: np.ndarray  # (N,) true classes
    predicted: np.ndarray  # (N,) the model's classes
    fill: np.ndarray  # uint8 (3,): the model's mean colour (what "removed" pixels become)
    boxes: Optional[np.ndarray] = None  # (N, 4) object boxes (localization sets only)
    randomised: tuple = ()  # the method's maps `(N, gh, gw)` under each randomised model (sanity)
    shared: dict = field(default_factory=dict, compare=False, repr=False)  # one dict for every method of the batch

    @property
    def size(self) -> tuple[int, int]:
        return self.images.shape[1:3]

    @cached_property
    def most_relevant_first(self) -> np.ndarray:
        """`pixel_order` of the maps `(N, H*W)`, made once for the metrics that read it."""
        return pixel_order(self.maps, self.size)

    @cached_property
    def least_relevant_first(self) -> np.ndarray:
        """`pixel_order` of the negated maps `(N, H*W)` (ties still in raster order), made once."""
        return pixel_order(-self.maps, self.size)

    def relevance_order(self, most_relevant_first: bool) -> np.ndarray:
        """The maps' pixel order `(N, H*W)`, most or least relevant first."""
        return self.most_relevant_first if most_relevant_first else self.least_relevant_first

    @property
    def clean(self) -> np.ndarray:
        """Class probabilities `(N, C)` of the unperturbed images: one forward for every method."""
        return self.once("clean", lambda: self.forward(self.images))

    def once(self, key: str, make: Callable[[], Any]) -> Any:
        """`make()` the first time any method of the batch asks for `key` (what depends on the images
        only, not on the maps), the stored value after."""
        if key not in self.shared:
            self.shared[key] = make()
        return self.shared[key]


Scored = tuple  # (per-image scores (N,) float64, mean curve as a list or None)


@dataclass(frozen=True)
class Metric:
    name: str
    better: str  # "higher" or "lower"
    summary: str
    needs: str = ""  # "boxes" (localization set) or "randomised" (a randomised model's maps)
    score: Optional[Callable[[Scoring], Scored]] = field(default=None, compare=False, repr=False)
    default: bool = True  # scored unless `--metrics` names others (False: costly, asked for by name)

    def applies(self, scoring: Scoring) -> bool:
        """Whether this batch has what the metric needs (boxes, randomised maps)."""
        return {"boxes": scoring.boxes is not None, "randomised": bool(scoring.randomised)}.get(self.needs, True)


METRICS: dict[str, Metric] = {}


def curve_scorer(curve: Callable[[Scoring], np.ndarray], per_image: Callable[[np.ndarray], np.ndarray]):
    """A `Metric.score` from a metric's curve `(steps, N)`: each image's score (`per_image` of the
    curve) and the mean curve over the images."""
    def score(s: Scoring) -> Scored:
        values = curve(s)
        return per_image(values), values.mean(1).tolist()
    return score


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
