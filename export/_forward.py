"""The ViT/DeiT forward that ONNX graphs are traced from, written for CPU kernels: the same maths
as transformers' eager forward (same weights, same attention probabilities), laid out so the
exported graph moves as little data as it can outside the matrix products.

- Tokens travel as one `(N*B, D)` matrix, token-major (row `n*B + b` is token n of image b), so
  every weight product is a 2-D MatMul followed by its bias Add, which ONNX Runtime fuses into
  one Gemm at load (a 3-D MatMul keeps the Add apart), while dynamic int8 quantization still sees
  a MatMul (it does not quantize Gemm). Per-token work (LayerNorm, GELU, residuals) does not care
  about row order.
- Token-major, Q, K and V reshape for free to `(N, B*heads, d)`: the images' heads are the middle
  axis. The attention's two products read them through a Transpose that only moves that axis to
  the front (and, for K, d before N), which ONNX Runtime folds into its MatMul kernel's strides
  (`transBatch`/`transB`) instead of copying; one Transpose per layer is left, the context's back
  to token-major. (Image-major rows need four copying Transposes per layer, a quarter of the
  non-product time.)
- With `readout=R` (graphs that output no per-layer attention maps), the last layer is computed
  for the first R tokens only (CLS, and a distilled DeiT's distillation token), which token-major
  are the first R*B rows: the logits read nothing else, and the rollout reads only those rows of
  the last attention map. Keys and values still come from every token, so the result is the same;
  the last layer's query, output and MLP products shrink from N rows to R, about 7% of DeiT-tiny's
  products.
The attention probabilities are computed explicitly, as the rollout reads them.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """x `(M, K)` @ weight^T + bias as MatMul + Add (not Gemm: int8 quantization needs the MatMul)."""
    return torch.matmul(x, layer.weight.t()) + layer.bias


class PackedViT(nn.Module):
    """pixels `(B, 3, H, W)` -> logits `(B, C)` and per layer attention `(B, heads, N, N)`
    (the last layer's `(B, heads, R, N)` with `readout=R`)."""

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

    def _first(self, t: torch.Tensor, r: int) -> torch.Tensor:
        """The first r tokens of every image: `(N*B, D)` -> `(r*B, D)` (token-major: the first r*B rows)."""
        return t.reshape(self.tokens, -1, self.width)[:r].reshape(-1, self.width)

    def _heads(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """`(n*B, D)` -> `(n, B*heads, d)`, no copy."""
        return x.reshape(n, -1, self.head_dim)

    def _attention(self, i: int, h: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor]:
        """LayerNormed tokens `(N*B, D)` -> context of the first r tokens `(r*B, D)` and the
        attention probabilities `(B, heads, r, N)`."""
        att = self.blocks[i].attention.attention
        k, v = (self._heads(_linear(h, layer), self.tokens) for layer in (att.key, att.value))
        rows = h if r == self.tokens else self._first(h, r)
        q = self._heads(_linear(rows, att.query), r)
        a = torch.softmax(torch.matmul(q.transpose(0, 1), k.permute(1, 2, 0)) * self.scale, dim=-1)  # (B*heads, r, N)
        context = torch.matmul(a, v.transpose(0, 1)).transpose(0, 1).reshape(-1, self.width)  # (r*B, D)
        return context, a.reshape(-1, self.heads, r, self.tokens)

    def _block(self, i: int, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        block = self.blocks[i]
        last = self.readout is not None and i == len(self.blocks) - 1
        r = self.readout if last else self.tokens
        context, a = self._attention(i, block.layernorm_before(t), r)
        if last:
            t = self._first(t, r)
        t = t + _linear(context, block.attention.output.dense)
        hidden = nn.functional.gelu(_linear(block.layernorm_after(t), block.intermediate.dense))
        return t + _linear(hidden, block.output.dense), a

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        t = self.embeddings(pixel_values).transpose(0, 1).reshape(-1, self.width)  # (N*B, D), token-major
        attentions = []
        for i in range(len(self.blocks)):
            t, a = self._block(i, t)
            attentions.append(a)
        z = self.final_norm(t).reshape(self.readout or self.tokens, -1, self.width)  # (tokens, B, D)
        if self.distilled:
            return (self.model.cls_classifier(z[0]) + self.model.distillation_classifier(z[1])) / 2, attentions
        return self.model.classifier(z[0]), attentions
