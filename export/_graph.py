"""The module that gets exported: a ViT/DeiT classifier wrapped so that one call of the graph
returns the prediction and its explanation.

Input: what a device has. ONNX: `uint8` RGB `(N, H, W, 3)`; Core ML: the image as its
`ImageType` delivers it, `pixel / 255 - mean` per channel (ImageType has one scale for all
channels, so the per-channel 1/std is folded into the patch-embedding weights, which is exact
because ViT's patch convolution has no padding).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from runtime.contract import EXPLAIN, output_names
from xai.rollout import rollout_cls_torch, rollout_start
from xai.vit import readout_rows

from ._backward import RelevanceViT
from ._forward import PackedViT

FP16_SAFE_LAYERNORM_EPS = 1e-5  # ViT's 1e-12 underflows to 0 in fp16 (smallest subnormal ~6e-8)


def fold_std_into_patch_embedding(model: nn.Module, std) -> None:
    """Divide the patch convolution's input-channel weights by `std` (in place)."""
    conv = model.base_model.embeddings.patch_embeddings.projection
    with torch.no_grad():
        conv.weight.div_(torch.tensor(std, dtype=conv.weight.dtype).view(1, -1, 1, 1))


def make_layernorm_fp16_safe(model: nn.Module, eps: float = FP16_SAFE_LAYERNORM_EPS) -> int:
    """Raise every LayerNorm epsilon to at least `eps`; returns how many were changed."""
    changed = 0
    for module in model.modules():
        if isinstance(module, nn.LayerNorm) and module.eps < eps:
            module.eps, changed = eps, changed + 1
    return changed


class ExplainedViT(nn.Module):
    """image -> (logits, probs[, rollout[, attention_0 .. attention_{L-1}]]);
    with explain "gradrollout": (image, target) -> (logits, probs, relevance)."""

    def __init__(self, checkpoint, explain: str, input_kind: str = "uint8_nhwc", fp16_safe: bool = False):
        super().__init__()
        self.model = copy.deepcopy(checkpoint.model).eval()
        fold_std_into_patch_embedding(self.model, checkpoint.std)
        if fp16_safe:
            make_layernorm_fp16_safe(self.model)
        self.register_buffer("mean", torch.tensor(checkpoint.mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.explain, self.kind, self.input_kind = explain, EXPLAIN[explain], input_kind
        self.grid, self.n_special = tuple(checkpoint.patch_grid), checkpoint.n_special_tokens
        self.register_buffer("rollout_start", rollout_start(self.grid[0] * self.grid[1] + self.n_special,
                                                            readout=readout_rows(self.model)))
        self.relevance = RelevanceViT(self.model, self.n_special, self.grid) if self.kind.class_input else None
        n_tokens = self.grid[0] * self.grid[1] + self.n_special
        onnx_forward = input_kind == "uint8_nhwc" and not self.kind.class_input
        readout = len(readout_rows(self.model)) if not self.kind.attention_outputs else None  # no full maps out
        self.packed = PackedViT(self.model, n_tokens, readout) if onnx_forward else None
        heads = self.model.config.num_attention_heads  # ONNX rollout: head means taken as the maps are made
        mean_first = onnx_forward and self.kind.uses_attentions and not self.kind.attention_outputs
        self.register_buffer("head_weights", torch.full((1, heads), 1.0 / heads) if mean_first else None)

    def output_names(self) -> list[str]:
        return output_names(self.explain, self.model.config.num_hidden_layers)

    def forward(self, image: torch.Tensor, target: torch.Tensor | None = None):
        if self.input_kind == "uint8_nhwc":
            x = image.permute(0, 3, 1, 2).to(torch.float32) * (1.0 / 255.0) - self.mean
        else:  # "centred_nchw": Core ML's ImageType already applied scale 1/255 and bias -mean
            x = image
        if self.relevance is not None:
            logits, relevance = self.relevance(x, target)
            return logits, logits.softmax(dim=-1), relevance
        if self.packed is not None:
            logits, attentions = self.packed(x)
        else:
            out = self.model(pixel_values=x, output_attentions=self.kind.uses_attentions)
            logits, attentions = out.logits, out.attentions
        outputs = [logits, logits.softmax(dim=-1)]
        if self.kind.uses_attentions:
            outputs.append(rollout_cls_torch(attentions, self.n_special, self.grid, self.rollout_start,
                                             self.head_weights))
        if self.kind.attention_outputs:
            outputs += list(attentions)
        return tuple(outputs)
