"""Capture what the explanation methods need from a HF ViT/DeiT classifier in one forward (and,
when asked, one backward) pass: logits, every layer's attention probabilities, and the last
block's first LayerNorm output (Grad-CAM's target layer), each with its gradient with respect
to the explained class's logit. Torch lives here; the methods themselves are numpy maths."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import torch

from .patch_probe import PatchProbe, patch_probe
from .vit import gradient_x_input, readout_rows


@dataclass(frozen=True)
class Capture:
    """One batch's captured tensors as numpy arrays (float32)."""

    logits: np.ndarray  # (B, C)
    targets: np.ndarray  # (B,) the class each explanation is for
    attentions: list[np.ndarray]  # per layer (B, heads, N, N), first layer first
    attention_grads: list[np.ndarray] | None  # d logit[target] / d attention, same shapes
    tokens: np.ndarray | None  # (B, N, D) last block's layernorm_before output
    token_grads: np.ndarray | None  # d logit[target] / d tokens
    pixels: np.ndarray | None = None  # (B, 3, H, W) the normalised input
    attention_relevance: list[np.ndarray] | None = None  # per layer (B, heads, N, N), LRP (`xai.lrp`)
    readout: tuple[int, ...] = (0,)  # token rows the logit reads (CLS; and distillation, distilled DeiT)
    # a `xai.vit.Layout` class of LRP rules -> pixel relevance (B, 3, H, W) for the explained logit,
    # computed when called (one more forward and backward: AttnLRP, `xai.methods.attnlrp`)
    rule_relevance: Callable[[type], np.ndarray] | None = None
    patch_probe: PatchProbe | None = None  # patch tokens and the logit's gradient anywhere (path methods)


def pixel_values(images: np.ndarray, mean, std) -> torch.Tensor:
    """uint8 `(B, H, W, 3)` -> `(B, 3, H, W)` float, normalised as the checkpoint's processor says."""
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    return (torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255 - m) / s


def host(t: torch.Tensor) -> np.ndarray:
    """A tensor on any device -> float32 numpy on the host, out of the autograd graph."""
    return t.detach().cpu().numpy().astype(np.float32)


def encoder_layers(model) -> list:
    """The transformer blocks of a ViT/DeiT classifier (`model.vit` or `model.deit`)."""
    return list(getattr(model, model.base_model_prefix).encoder.layer)


def capture(model, pixel_values: torch.Tensor, targets: np.ndarray | None = None,
            gradients: bool = True, relevance: bool = False) -> Capture:
    """Run `model` (eager attention, eval mode) on normalised `(B, 3, H, W)` pixels.

    targets: `(B,)` class indices to explain, -1 (or None for all) for the predicted class. With eager
    attention and dropout off, the returned attention probabilities are the tensors the model
    multiplies with the values, so autograd gives their gradients directly. relevance: also
    propagate LRP relevance from the explained logit (`xai.lrp`), checked against the capture.
    """
    if getattr(model.config, "_attn_implementation", "eager") != "eager":
        raise ValueError("attention capture needs eager attention (load with attn_implementation='eager')")
    stored = {}
    hook = encoder_layers(model)[-1].layernorm_before.register_forward_hook(
        lambda module, args, output: stored.__setitem__("tokens", output))
    try:
        with torch.set_grad_enabled(gradients):
            out = model(pixel_values=pixel_values, output_attentions=True)
    finally:
        hook.remove()
    logits = out.logits.detach()
    chosen = logits.argmax(-1)
    if targets is not None:  # negative entries: the predicted class
        given = torch.as_tensor(np.asarray(targets), dtype=torch.long, device=logits.device)
        chosen = torch.where(given >= 0, given, chosen)
    attention_grads = token_grads = None
    if gradients:
        score = out.logits.gather(1, chosen[:, None]).sum()  # samples are independent: one backward
        grads = torch.autograd.grad(score, [*out.attentions, stored["tokens"]])
        attention_grads = [host(g) for g in grads[:-1]]
        token_grads = host(grads[-1])
    relevances = lrp_attention_relevance(model, pixel_values, chosen, out.attentions) if relevance else None
    return Capture(logits=logits.cpu().numpy(), targets=chosen.cpu().numpy(), attention_relevance=relevances,
                   readout=readout_rows(model),
                   attentions=[host(a) for a in out.attentions], attention_grads=attention_grads,
                   tokens=host(stored["tokens"]), token_grads=token_grads, pixels=host(pixel_values),
                   rule_relevance=partial(rule_relevance, model, pixel_values.detach(), chosen) if gradients else None,
                   patch_probe=patch_probe(model, pixel_values.detach(), chosen) if gradients else None)


def rule_relevance(model, pixel_values: torch.Tensor, targets: torch.Tensor, rules: type) -> np.ndarray:
    """Pixel relevance `(B, 3, H, W)` of each image's `targets` logit under the LRP rules of `rules`
    (a `xai.vit.Layout` class), as Gradient x Input through `xai.vit.walk`."""
    return host(gradient_x_input(model, rules(model), pixel_values, targets))


LRP_MATCH_ATOL = 1e-4  # the LRP pass's own forward against the model's attention probabilities


def lrp_attention_relevance(model, pixel_values: torch.Tensor, targets: torch.Tensor, attentions) -> list[np.ndarray]:
    """Per layer `(B, heads, N, N)` LRP relevance of the attention probabilities for `targets`,
    after checking that the LRP pass recomputed the attention the model used."""
    from .lrp import propagate

    rel = propagate(model, pixel_values, targets)
    worst = max(float((a.detach() - b).abs().max()) for a, b in zip(attentions, rel.attentions))
    if len(rel.attentions) != len(attentions) or worst > LRP_MATCH_ATOL:
        raise ValueError(f"the LRP forward differs from the model's (attention off by {worst:.2e}); "
                         "is this a ViT/DeiT block as transformers writes it?")
    return [host(a) for a in rel.attention]
