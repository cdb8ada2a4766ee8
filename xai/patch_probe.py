"""The patch-embedding output of a HF ViT/DeiT classifier as an input of its own: the model's patch
tokens, those of a reference image, and the explained logit's gradient at any other value of them.
Path methods (integrated gradients, SmoothGrad) evaluate that gradient at many points; this is
the only place that runs the model for them, so their files stay numpy maths."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    import torch

TokenGradient = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # (k*B, P, D) -> logit (k*B,), grad (k*B, P, D)
ROWS_PER_CALL = 64  # points x images per gradient call (a method's points are stacked up to this)


@dataclass(frozen=True)
class PatchProbe:
    """One batch's patch tokens and a gradient oracle over them (float32 numpy in and out)."""

    tokens: np.ndarray  # (B, P, D) patch-embedding output for the input
    reference: np.ndarray  # (B, P, D) the same for the all-zero normalised input (the mean colour)
    gradient: TokenGradient  # k stacked copies of the batch -> explained logit and d logit / d tokens


def mean_gradient(gradient: TokenGradient, shape: tuple, count: int,
                  points: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Mean `(B, P, D)` float64 of `gradient` at `count` points of the batch's tokens (`shape`:
    `(B, P, D)`); `points(lo, hi)` makes points lo..hi-1 `(hi - lo, B, P, D)`, asked for in order,
    as many per call as `ROWS_PER_CALL` rows hold (the path methods' one loop)."""
    per_call = max(1, ROWS_PER_CALL // shape[0])
    total = np.zeros(shape, np.float64)
    for lo in range(0, count, per_call):
        chunk = points(lo, min(lo + per_call, count))
        _, grads = gradient(chunk.reshape(-1, *shape[1:]).astype(np.float32))
        total += grads.reshape(chunk.shape).sum(axis=0)
    return total / count


def patch_embeddings(model):
    """The patch-embedding module (a strided convolution) of a ViT/DeiT classifier."""
    return getattr(model, model.base_model_prefix).embeddings.patch_embeddings


def patch_probe(model, pixel_values: torch.Tensor, targets: torch.Tensor) -> PatchProbe:
    """Probe `model` (eval mode) at normalised `(B, 3, H, W)` pixels for the classes `targets` `(B,)`."""
    import torch  # here: the path methods import `mean_gradient` from this module, and need no torch

    module = patch_embeddings(model)
    with torch.no_grad():
        tokens = module(pixel_values)
        reference = module(torch.zeros_like(pixel_values))

    def gradient(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = len(values) // len(pixel_values)
        if k * len(pixel_values) != len(values) or values.shape[1:] != tuple(tokens.shape[1:]):
            raise ValueError(f"tokens {values.shape} are not copies of the batch's {tuple(tokens.shape)}")
        fed = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32)).to(pixel_values.device).requires_grad_()
        hook = module.register_forward_hook(lambda mod, args, output: fed)  # the tokens replace the output
        try:
            with torch.enable_grad():
                logits = model(pixel_values=pixel_values.repeat(k, 1, 1, 1)).logits
        finally:
            hook.remove()
        score = logits.gather(1, targets.repeat(k)[:, None])[:, 0]
        (grad,) = torch.autograd.grad(score.sum(), fed)  # rows are independent: one backward
        return score.detach().cpu().numpy(), grad.cpu().numpy()

    return PatchProbe(tokens=tokens.cpu().numpy(), reference=reference.cpu().numpy(), gradient=gradient)
