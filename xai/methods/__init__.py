"""Explanation methods, a registry: one file per method, each a pure function of a `Capture`.

Every method maps a captured batch to relevance maps `(B, grid_h, grid_w)` over the patches,
non-negative, scaled to max 1. `METHODS` drives the `xai eval` CLI choices, the tests and the
README table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from _infra.errors import ToolkitError
from _infra.registry import add_unique

if TYPE_CHECKING:  # the registry (and `xai eval --help`) loads without torch; methods get a Capture at run time
    from ..hooks import Capture


class UnknownMethodError(ToolkitError):
    """A method name that is not in the registry."""


@dataclass(frozen=True)
class Method:
    name: str
    summary: str
    paper: str  # link to the paper the method comes from
    gradients: bool  # needs a backward pass (class-specific; PyTorch checkpoint only)
    fn: Callable[[Capture, tuple[int, int], int], np.ndarray]  # (capture, grid, n_special) -> (B, gh, gw)
    baseline: bool = False  # a reference row (random), not an explanation
    relevance: bool = False  # needs LRP relevance of the attention maps (`xai.lrp`)

    def __call__(self, capture: Capture, grid: tuple[int, int], n_special: int) -> np.ndarray:
        return self.fn(capture, grid, n_special)


METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    return add_unique(METHODS, method.name, method, "method")


def get_methods(names: list[str] | None = None) -> list[Method]:
    """The named methods (all when None); unknown names are listed with the known ones."""
    if names is None:
        return list(METHODS.values())
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise UnknownMethodError(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    return [METHODS[n] for n in names]


def patches_to_grid(row: np.ndarray, grid: tuple[int, int], n_special: int) -> np.ndarray:
    """Token relevance `(B, N)` -> patch map `(B, gh, gw)`, negatives clipped, scaled to max 1."""
    patches = np.clip(row[:, n_special:], 0, None).reshape(row.shape[0], *grid)
    return (patches / np.maximum(patches.max(axis=(1, 2), keepdims=True), 1e-12)).astype(np.float32)


# registration order = table order
from . import raw_attention, rollout, grad_rollout, gradcam, transformer_attribution, attnlrp  # noqa: E402,F401
from . import integrated_gradients, smoothgrad  # noqa: E402,F401
from . import random_map, centre, edges  # noqa: E402,F401
