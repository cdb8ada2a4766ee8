"""The backend interface and its registry: a backend loads one artifact and maps a uint8
`(N, H, W, 3)` batch to the graph's named outputs as numpy arrays."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from _infra.errors import ToolkitError
from _infra.registry import add_unique

from .manifest import Manifest


class BackendUnavailable(ToolkitError):
    """The backend cannot run on this machine (e.g. Core ML prediction off macOS)."""


class ClassIndexError(ToolkitError):
    """A class to explain that the model does not have; never a silent all-zero map."""


def check_class_indices(targets: np.ndarray, n_classes: int) -> None:
    """Refuse class indices outside 0..n_classes-1 (-1 means the predicted class)."""
    bad = sorted({int(t) for t in np.asarray(targets).reshape(-1) if not -1 <= int(t) < n_classes})
    if bad:
        raise ClassIndexError(f"class index {', '.join(map(str, bad))} out of range 0..{n_classes - 1} "
                              "(-1: the predicted class)")


class Backend:
    name = "base"
    formats: tuple[str, ...] = ()  # artifact formats this backend runs
    # Chunk size for dynamic-batch graphs, so predicting thousands of images keeps memory bounded
    # (attention maps grow with batch x heads x tokens^2); per-image speed is flat from 16 up on 2 cores.
    max_batch = 32

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder, self.manifest = Path(folder), manifest

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """uint8 `(N, H, W, 3)` -> the graph's outputs; `targets` `(N,)` feeds a gradrollout
        graph's class input (-1: the predicted class; None: all predicted)."""
        raise NotImplementedError

    def class_targets(self, n: int, targets: np.ndarray | None) -> np.ndarray | None:
        """The class input to feed, or None for graphs without one (which then refuse targets)."""
        spec = self.manifest.class_input
        if not spec:
            if targets is not None:
                raise ClassIndexError(f"this {self.manifest.explain} artifact explains the predicted class only; "
                                      "export with --explain gradrollout to name a class")
            return None
        targets = np.full(n, spec.get("predicted", -1)) if targets is None else np.asarray(targets).reshape(-1)
        if len(targets) != n:
            raise ClassIndexError(f"{len(targets)} targets for {n} images")
        check_class_indices(targets, len(self.manifest.labels))
        return targets.astype(np.int64 if spec["dtype"] == "int64" else np.int32)

    def describe_outputs(self) -> dict[str, dict] | None:
        """What the loaded model itself declares: output name -> {"shape", "dtype"} (None where a
        dimension is dynamic); None for backends without a separate model file (PyTorch)."""
        return None

    def input_size(self) -> tuple[int, int] | None:
        """The image size `(H, W)` the loaded model itself takes; None without a separate model file."""
        return None

    def describe_inputs(self) -> dict[str, dict] | None:
        """What the loaded model declares of its inputs: name -> {"shape", "dtype"} (None: no model file)."""
        return None

    def stamped(self) -> dict | None:
        """The manifest fields export wrote into the model file itself (precision, explain, labels, ...),
        to check the sidecar manifest against; None where the model carries none."""
        return None

    def run_batched(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """`run`, split into the graph's fixed batch (last chunk padded), or for a dynamic batch
        into chunks of at most `max_batch`."""
        fixed = self.manifest.input["shape"][0]
        chunk = fixed or self.max_batch
        if len(images) == chunk or (fixed is None and len(images) <= chunk):
            return self.run(images, targets)
        pad = (-len(images)) % chunk if fixed else 0
        if pad:
            images = np.concatenate([images, np.repeat(images[-1:], pad, axis=0)])
            if targets is not None:
                targets = np.concatenate([targets, np.repeat(targets[-1:], pad)])
        parts = [self.run(images[i:i + chunk], None if targets is None else targets[i:i + chunk])
                 for i in range(0, len(images), chunk)]
        return {k: np.concatenate([p[k] for p in parts])[:len(images) - pad] for k in parts[0]}


BACKENDS: dict[str, Callable[[Path, Manifest], Backend]] = {}


def register_backend(cls):
    return add_unique(BACKENDS, cls.name, cls, "backend")
