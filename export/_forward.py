"""The ViT/DeiT forward that ONNX graphs are traced from, written for CPU kernels: the same maths
as transformers' eager forward (same weights, same attention probabilities), laid out so the
exported graph has fewer and larger operations.

- Tokens travel as one `(B*N, D)` matrix, so every weight product is a 2-D MatMul followed by its
  bias Add, which ONNX Runtime fuses into one Gemm at load (a 3-D MatMul keeps the Add apart),
  while dynamic int8 quantization still sees a MatMul (it does not quantize Gemm).
- Q, K and V are one product with the three weights stacked, `(B*N, D) @ (D, 3D)`, split after
  one reshape and one transpose.
- With `readout=R` (graphs that output no per-layer attention maps), the last layer is computed
  for the first R tokens only (CLS, and a distilled DeiT's distillation token): the logits read
  nothing else, and the rollout reads only those rows of the last attention map. Keys and values
  still come from every token, so the result is the same; the last layer's query, output and
  MLP products shrink from N rows to R, about 7% of DeiT-tiny's products.
The attention probabilities are computed explicitly, as the rollout reads them.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x `(M, K)` @ weight^T + bias as MatMul + Add (not Gemm: int8 quantization needs the MatMul)."""
    return torch.matmul(x, weight.t()) + bias


class PackedViT(nn.Module):
    """pixels `(B, 3, H, W)` -> logits `(B, C)` and, when asked, per layer attention `(B, heads, N, N)`."""

    def __init__(self, model: nn.Module, n_tokens: int, readout: int | None = None):
        super().__init__()
        self.readout = readout  # tokens the last layer is computed for (None: all of them)
        base = getattr(model, model.base_model_prefix)
        self.model, self.embeddings, self.final_norm = model, base.embeddings, base.layernorm
        self.blocks = base.encoder.layer
        cfg = model.config
        self.heads, self.tokens = cfg.num_attention_heads, n_tokens
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.width = cfg.hidden_size  # a constant, so the traced reshapes need no shape arithmetic
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.distilled = hasattr(model, "distillation_classifier")  # DeiT with teacher: mean of two heads
        for i, block in enumerate(self.blocks):
            att = block.attention.attention
            self.register_buffer(f"qkv_weight_{i}", torch.cat([att.query.weight, att.key.weight, att.value.weight]))
            self.register_buffer(f"qkv_bias_{i}", torch.cat([att.query.bias, att.key.bias, att.value.bias]))

    def _attention(self, i: int, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B*N, D)` -> context `(B*N, D)` and the attention probabilities `(B, heads, N, N)`."""
        qkv = _linear(h, getattr(self, f"qkv_weight_{i}"), getattr(self, f"qkv_bias_{i}"))
        q, k, v = qkv.reshape(-1, self.tokens, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return self._attend(q, k, v)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q `(B, heads, R, d)`, k and v `(B, heads, N, d)` -> context `(B*R, D)`, probabilities `(B, heads, R, N)`."""
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        return torch.matmul(a, v).transpose(1, 2).reshape(-1, self.width), a

    def _readout_attention(self, i: int, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`(B*N, D)` -> context `(B*R, D)` of the first R tokens, probabilities `(B, heads, R, N)`."""
        d, r = self.width, self.readout
        weight, bias = getattr(self, f"qkv_weight_{i}"), getattr(self, f"qkv_bias_{i}")
        kv = _linear(h, weight[d:], bias[d:]).reshape(-1, self.tokens, 2, self.heads, self.head_dim)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, heads, N, d) each
        rows = h.reshape(-1, self.tokens, d)[:, :r].reshape(-1, d)
        q = _linear(rows, weight[:d], bias[:d]).reshape(-1, r, self.heads, self.head_dim).transpose(1, 2)
        return self._attend(q, k, v)

    def _block(self, i: int, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.blocks[i]
        if self.readout is not None and i == len(self.blocks) - 1:
            context, a = self._readout_attention(i, block.layernorm_before(t))
            t = t.reshape(-1, self.tokens, self.width)[:, :self.readout].reshape(-1, self.width)
        else:
            context, a = self._attention(i, block.layernorm_before(t))
        out = block.attention.output.dense
        t = t + _linear(context, out.weight, out.bias)
        fc1, fc2 = block.intermediate.dense, block.output.dense
        hidden = nn.functional.gelu(_linear(block.layernorm_after(t), fc1.weight, fc1.bias))
        return t + _linear(hidden, fc2.weight, fc2.bias), a

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        t = self.embeddings(pixel_values).reshape(-1, self.width)
        attentions = []
        for i in range(len(self.blocks)):
            t, a = self._block(i, t)
            attentions.append(a)
        z = self.final_norm(t).reshape(-1, self.readout or self.tokens, self.width)
        if self.distilled:
            logits = (self.model.cls_classifier(z[:, 0]) + self.model.distillation_classifier(z[:, 1])) / 2
        else:
            logits = self.model.classifier(z[:, 0])
        return logits, attentions
