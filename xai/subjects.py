"""What `xai eval` explains: a PyTorch checkpoint (every registered method) or an exported graph
(its own in-graph map), behind one small interface of numpy in, numpy out."""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable, Iterator

import numpy as np
import torch

from .hooks import capture, encoder_layers, pixel_values
from .methods import Method


def randomisation_stages(model) -> list[tuple[str, list[str]]]:
    """Parameter names by stage for cascading randomisation (Adebayo et al., Sec. 3.1), top first:
    the classifier head(s) with the final LayerNorm, each encoder block from the last, the
    embeddings. Every parameter falls in exactly one stage."""
    prefix = model.base_model_prefix
    names = [n for n, _ in model.named_parameters()]
    blocks = [(f"block {i}", f"{prefix}.encoder.layer.{i}.") for i in reversed(range(len(encoder_layers(model))))]
    staged = {start for _, start in blocks} | {f"{prefix}.embeddings."}
    stages = [("head", [n for n in names if not any(n.startswith(s) for s in staged)])]
    stages += [(label, [n for n in names if n.startswith(start)]) for label, start in blocks]
    stages.append(("embeddings", [n for n in names if n.startswith(f"{prefix}.embeddings.")]))
    assert sorted(n for _, group in stages for n in group) == sorted(names), "a parameter in no stage or in two"
    return stages


def randomise_weights(model, seed: int = 0, names: list[str] | None = None):
    """Draw fresh values for the named parameters (all when None) in place, seeded; eval mode.

    Unlike HF's `_init_weights`, which zeroes the CLS/distillation tokens and position
    embeddings and sets LayerNorms to 1/0, every tensor gets new random values: truncated normal
    (std `initializer_range`, cut at 2 std) for weights, biases, tokens and embeddings;
    1 + that noise for LayerNorm scales, so the randomised model stays normalised.
    """
    std = getattr(model.config, "initializer_range", 0.02)
    norm_scales = {f"{m}.weight" for m, module in model.named_modules() if isinstance(module, torch.nn.LayerNorm)}
    chosen = None if names is None else set(names)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if chosen is not None and name not in chosen:
                continue
            # drawn on the CPU (the generator's device), so a model on any device gets the same values
            fresh = torch.nn.init.trunc_normal_(torch.empty(param.shape, dtype=param.dtype), 0.0, std, -2 * std,
                                                2 * std, generator=generator)
            param.copy_(fresh + 1 if name in norm_scales else fresh)
    return model.eval()


@dataclass(frozen=True)
class ModelSubject:
    """A HF ViT/DeiT classifier in eval mode with eager attention, and its preprocessing. It runs
    on `device` (where the model is), `batch` images per forward and per explained chunk; the
    maps of the random baseline are seeded per chunk, so they depend on `batch`."""

    model: object
    grid: tuple[int, int]
    n_special: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str = "pytorch"
    batch: int = 64
    device: str = "cpu"
    progress: bool = False  # a progress bar over the explained chunks

    def pixels(self, images: np.ndarray) -> torch.Tensor:
        """uint8 `(B, H, W, 3)` -> normalised float `(B, 3, H, W)` on the subject's device."""
        return pixel_values(images, self.mean, self.std).to(self.device)

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities `(B, C)`."""
        with torch.no_grad():
            parts = [self.model(pixel_values=self.pixels(images[i:i + self.batch])).logits.softmax(-1).cpu()
                     for i in range(0, len(images), self.batch)]
        return torch.cat(parts).numpy()

    def explain(self, images: np.ndarray, methods: list[Method], targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Each method's maps `(B, gh, gw)` for `targets` (None: the predicted classes)."""
        from tqdm.auto import tqdm

        gradients, relevance = any(m.gradients for m in methods), any(m.relevance for m in methods)
        out = {m.name: [] for m in methods}
        chunks = range(0, len(images), self.batch)
        for i in tqdm(chunks, desc=f"explaining ({self.device})", unit="batch", disable=not self.progress):
            chunk = None if targets is None else targets[i:i + self.batch]
            cap = capture(self.model, self.pixels(images[i:i + self.batch]), chunk, gradients, relevance)
            for m in methods:
                out[m.name].append(m(cap, self.grid, self.n_special))
        return {name: np.concatenate(maps) for name, maps in out.items()}

    def randomised(self, seed: int = 0) -> "ModelSubject":
        """The same architecture with every weight drawn afresh (Adebayo et al.'s full randomisation)."""
        model = randomise_weights(copy.deepcopy(self.model), seed)
        return replace(self, model=model, name=f"{self.name} (randomised)")

    def cascade(self, seed: int = 0) -> Iterator[tuple[str, "ModelSubject"]]:
        """Cascading randomisation: (stage, subject) with the stages from the top down to this one
        randomised; the last one has every weight drawn afresh (the full randomisation). One model
        is randomised further at each step: use each subject before taking the next."""
        model = copy.deepcopy(self.model)
        for i, (stage, names) in enumerate(randomisation_stages(model)):
            randomise_weights(model, seed + i, names)
            yield stage, replace(self, model=model, name=f"{self.name} (randomised down to {stage})")


@dataclass(frozen=True)
class GraphSubject:
    """An exported graph run by a `runtime` backend: `run` maps uint8 images to its outputs and
    `heatmap` reads its explanation from them; its one method is the in-graph map."""

    run: Callable[[np.ndarray, np.ndarray | None], dict[str, np.ndarray]]  # (images, targets) -> outputs
    heatmap: Callable[[dict[str, np.ndarray]], np.ndarray]
    method_name: str  # e.g. "onnx-fp32:rollout"
    grid: tuple[int, int]
    n_special: int
    name: str
    randomised_factory: Callable[[], "GraphSubject"] | None = None
    class_input: bool = False  # the graph explains a class it is given (gradrollout); else one map for all
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)  # its normalisation mean (the deletion colour)

    def forward(self, images: np.ndarray) -> np.ndarray:
        return self.run(images, None)["probs"]

    def explain(self, images: np.ndarray, methods: list[Method] | None = None, targets=None) -> dict[str, np.ndarray]:
        """The in-graph map for `targets` (a class-blind graph's map serves every class)."""
        return {self.method_name: self.heatmap(self.run(images, targets if self.class_input else None))}

    def randomised(self, seed: int = 0) -> "GraphSubject | None":
        return self.randomised_factory() if self.randomised_factory else None
