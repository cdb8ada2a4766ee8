"""PyTorch backend: a checkpoint folder run directly (eager attention), the reference every
exported artifact is compared with. Its rollout comes from the captured attention maps through
the same `xai` maths a Core ML or ONNX artifact with `--explain attentions` uses."""
from __future__ import annotations

import numpy as np
import torch

from xai.rollout import rollout_map

from .backend import Backend, register_backend
from .checkpoint import load_checkpoint
from .manifest import Manifest


def checkpoint_manifest(checkpoint) -> Manifest:
    """The facts of a checkpoint in manifest form, so every backend is driven the same way."""
    h, w = checkpoint.image_size
    config = checkpoint.model.config
    classes = len(checkpoint.labels)
    return Manifest(format="torch", model_file=".", precision="fp32", explain="rollout", labels=list(checkpoint.labels),
                    input={"name": "pixel_values", "dtype": "uint8", "layout": "NHWC", "color": "RGB",
                           "shape": [None, h, w, 3]},
                    preprocessing={"resize": [h, w], "resample": checkpoint.resample, "mean": list(checkpoint.mean),
                                   "std": list(checkpoint.std), "normalisation": "PyTorch"},
                    outputs={"logits": {"shape": [None, classes], "dtype": "float32"},
                             "probs": {"shape": [None, classes], "dtype": "float32"},
                             "rollout": {"shape": [None, *checkpoint.patch_grid], "dtype": "float32"}},
                    patch_grid=list(checkpoint.patch_grid), n_special_tokens=checkpoint.n_special_tokens,
                    num_layers=config.num_hidden_layers, num_heads=config.num_attention_heads,
                    source={"checkpoint": checkpoint.source, "sha256": checkpoint.sha256,
                            "model_type": config.model_type}, versions={"torch": torch.__version__})


def run_checkpoint(checkpoint, images: np.ndarray, explain: str = "rollout") -> dict[str, np.ndarray]:
    """uint8 `(N, H, W, 3)` -> logits, probs and (unless explain is "none") the rollout computed by
    `xai`'s full matrix product; with explain "attentions" also every layer's map. The plain
    PyTorch run every exported graph is compared with."""
    mean = torch.tensor(checkpoint.mean).view(1, 3, 1, 1)
    std = torch.tensor(checkpoint.std).view(1, 3, 1, 1)
    x = (torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        out = checkpoint.model(pixel_values=x, output_attentions=explain != "none")
    result = {"logits": out.logits.numpy(), "probs": out.logits.softmax(-1).numpy()}
    if explain != "none":
        attentions = [a.numpy() for a in out.attentions]
        result["rollout"] = rollout_map(attentions, checkpoint.patch_grid, checkpoint.n_special_tokens)
        if explain == "attentions":
            result.update({f"attention_{i}": a for i, a in enumerate(attentions)})
    return result


@register_backend
class TorchBackend(Backend):
    """PyTorch on a checkpoint folder with eager attention: the reference for every export."""

    name = "torch"
    formats = ("torch",)

    def __init__(self, folder, manifest: Manifest | None = None):
        self.checkpoint = load_checkpoint(folder)
        super().__init__(folder, manifest or checkpoint_manifest(self.checkpoint))

    def run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return run_checkpoint(self.checkpoint, images, "rollout")
