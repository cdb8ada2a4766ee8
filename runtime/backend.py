"""The backend interface and its registry: a backend loads one artifact and maps a uint8
`(N, H, W, 3)` batch to the graph's named outputs as numpy arrays."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .manifest import Manifest


class BackendUnavailable(RuntimeError):
    """The backend cannot run on this machine (e.g. Core ML prediction off macOS)."""


class Backend:
    name = "base"
    formats: tuple[str, ...] = ()  # artifact formats this backend runs
    # Chunk size for dynamic-batch graphs, so predicting thousands of images keeps memory bounded
    # (attention maps grow with batch x heads x tokens^2); per-image speed is flat from 16 up on 2 cores.
    max_batch = 32

    def __init__(self, folder: Path, manifest: Manifest):
        self.folder, self.manifest = Path(folder), manifest

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:  # (N, H, W, 3) uint8 -> outputs
        raise NotImplementedError

    def run_batched(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """`run`, split into the graph's fixed batch (last chunk padded), or for a dynamic batch
        into chunks of at most `max_batch`."""
        fixed = self.manifest.input["shape"][0]
        chunk = fixed or self.max_batch
        if len(images) == chunk or (fixed is None and len(images) <= chunk):
            return self.run(images)
        pad = (-len(images)) % chunk if fixed else 0
        if pad:
            images = np.concatenate([images, np.repeat(images[-1:], pad, axis=0)])
        parts = [self.run(images[i:i + chunk]) for i in range(0, len(images), chunk)]
        return {k: np.concatenate([p[k] for p in parts])[:len(images) - pad] for k in parts[0]}


BACKENDS: dict[str, Callable[[Path, Manifest], Backend]] = {}


def register_backend(cls):
    BACKENDS[cls.name] = cls
    return cls
