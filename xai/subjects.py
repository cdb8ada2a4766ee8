"""What `xai eval` explains: a PyTorch checkpoint (every registered method) or an exported graph
(its own in-graph map), behind one small interface of numpy in, numpy out."""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from .hooks import capture, pixel_values
from .methods import Method


def randomise_weights(model, seed: int = 0):
    """Re-initialise every weight of a HF model in place, as at construction (seeded); eval mode."""
    torch.manual_seed(seed)
    model.apply(model._init_weights)
    return model.eval()


@dataclass(frozen=True)
class ModelSubject:
    """A HF ViT/DeiT classifier in eval mode with eager attention, and its preprocessing."""

    model: object
    grid: tuple[int, int]
    n_special: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str = "pytorch"
    batch: int = 64

    def pixels(self, images: np.ndarray) -> torch.Tensor:
        """uint8 `(B, H, W, 3)` -> normalised float `(B, 3, H, W)`."""
        return pixel_values(images, self.mean, self.std)

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities `(B, C)`."""
        with torch.no_grad():
            parts = [self.model(pixel_values=self.pixels(images[i:i + self.batch])).logits.softmax(-1)
                     for i in range(0, len(images), self.batch)]
        return torch.cat(parts).numpy()

    def explain(self, images: np.ndarray, methods: list[Method], targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each method's maps `(B, gh, gw)` for `targets` (None: the predicted classes)."""
        gradients = any(m.gradients for m in methods)
        out = {m.name: [] for m in methods}
        for i in range(0, len(images), self.batch):
            chunk = None if targets is None else targets[i:i + self.batch]
            cap = capture(self.model, self.pixels(images[i:i + self.batch]), chunk, gradients)
            for m in methods:
                out[m.name].append(m(cap, self.grid, self.n_special))
        return {name: np.concatenate(maps) for name, maps in out.items()}

    def randomised(self, seed: int = 0) -> "ModelSubject":
        """The same architecture with every weight re-initialised (Adebayo et al.'s full randomisation)."""
        model = randomise_weights(copy.deepcopy(self.model), seed)
        return replace(self, model=model, name=f"{self.name} (randomised)")


@dataclass(frozen=True)
class GraphSubject:
    """An exported graph run by a `runtime` backend: `run` maps uint8 images to its outputs and
    `heatmap` reads its explanation from them; its one method is the in-graph map."""

    run: Callable[[np.ndarray], dict[str, np.ndarray]]
    heatmap: Callable[[dict[str, np.ndarray]], np.ndarray]
    method_name: str  # e.g. "onnx-fp32:rollout"
    grid: tuple[int, int]
    n_special: int
    name: str
    randomised_factory: Callable[[], "GraphSubject"] | None = None

    def forward(self, images: np.ndarray) -> np.ndarray:
        return self.run(images)["probs"]

    def explain(self, images: np.ndarray, methods: list[Method] | None = None, targets=None) -> dict[str, np.ndarray]:
        if targets is not None:
            raise ValueError(f"{self.name} explains the predicted class only")
        return {self.method_name: self.heatmap(self.run(images))}

    def randomised(self, seed: int = 0) -> "GraphSubject | None":
        return self.randomised_factory() if self.randomised_factory else None
