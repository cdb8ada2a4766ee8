"""PyTorch backend: a checkpoint folder run directly (eager attention), the reference every
exported artifact is compared with. Its rollout comes from the captured attention maps through
the same `xai` maths a Core ML or ONNX artifact with `--explain attentions` uses.

torch and transformers are imported when this backend is used, never by `import runtime`: serving an
ONNX or Core ML artifact needs neither."""
from __future__ import annotations

import numpy as np

from _infra.errors import ToolkitError
from xai.rollout import rollout_map
from xai.vit import readout_rows

from .backend import Backend, register_backend
from .checkpoint import load_checkpoint
from .contract import EXPLAIN, EXPLAIN_KINDS, class_input_spec, output_specs
from .manifest import Manifest, build_manifest


TORCH_EXPLAIN = tuple(EXPLAIN_KINDS)  # every kind: the reference computes each of them


def checkpoint_manifest(checkpoint, explain: str = "rollout") -> Manifest:
    """The facts of a checkpoint in manifest form, so every backend is driven the same way."""
    import torch

    h, w = checkpoint.image_size
    facts = {"model_file": ".", "normalisation": "PyTorch", "outputs": output_specs(explain, checkpoint, None),
             "input": {"name": "pixel_values", "dtype": "uint8", "layout": "NHWC", "color": "RGB",
                       "shape": [None, h, w, 3]},
             "class_input": class_input_spec(explain, "int64", None)}
    return build_manifest(checkpoint, "torch", "fp32", explain, facts, {"torch": torch.__version__})


def run_checkpoint(checkpoint, images: np.ndarray, explain: str = "rollout",
                   targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """uint8 `(N, H, W, 3)` -> logits, probs and (unless explain is "none") the rollout computed by
    `xai`'s full matrix product; with explain "attentions" also every layer's map; with
    "gradrollout" the `relevance` of `xai`'s gradient-weighted rollout by autograd, for `targets`
    (-1 or None: the predicted class). The plain PyTorch run every exported graph is compared with."""
    import torch

    from xai.hooks import capture, pixel_values
    from xai.methods.grad_rollout import grad_rollout_map

    x, kind = pixel_values(images, checkpoint.mean, checkpoint.std), EXPLAIN[explain]
    if kind.class_input:
        cap = capture(checkpoint.model, x, targets)
        logits = torch.from_numpy(cap.logits)
        return {"logits": cap.logits, "probs": logits.softmax(-1).numpy(),
                "relevance": grad_rollout_map(cap, checkpoint.patch_grid, checkpoint.n_special_tokens)}
    with torch.no_grad():
        out = checkpoint.model(pixel_values=x, output_attentions=kind.uses_attentions)
    result = {"logits": out.logits.numpy(), "probs": out.logits.softmax(-1).numpy()}
    if kind.uses_attentions:
        attentions = [a.numpy() for a in out.attentions]
        result["rollout"] = rollout_map(attentions, checkpoint.patch_grid, checkpoint.n_special_tokens,
                                        readout=readout_rows(checkpoint.model))
        if kind.attention_outputs:
            result.update({f"attention_{i}": a for i, a in enumerate(attentions)})
    return result


@register_backend
class TorchBackend(Backend):
    """PyTorch on a checkpoint folder with eager attention: the reference for every export."""

    name = "torch"
    formats = ("torch",)

    def __init__(self, folder, manifest: Manifest | None = None, explain: str = "rollout"):
        if explain not in TORCH_EXPLAIN:
            raise ToolkitError(f"unknown explanation '{explain}' for the torch backend; known: {', '.join(TORCH_EXPLAIN)}")
        self.checkpoint = load_checkpoint(folder)
        super().__init__(folder, manifest or checkpoint_manifest(self.checkpoint, explain))

    def run(self, images: np.ndarray, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return run_checkpoint(self.checkpoint, images, self.manifest.explain, self.class_targets(len(images), targets))
