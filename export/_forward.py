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
The attention probabilities are computed explicitly, as the rollout reads them. The block itself
is `xai.vit.walk`'s (the one ViT walker); `TokenMajor` is the layout above.
"""
from __future__ import annotations

import torch
from torch import nn

from xai.vit import Layout, walk


def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """x `(M, K)` @ weight^T + bias as MatMul + Add (not Gemm: int8 quantization needs the MatMul)."""
    return torch.matmul(x, layer.weight.t()) + layer.bias


class TokenMajor(Layout):
    """Tokens as one `(N*B, D)` matrix, row `n*B + b` token n of image b; heads `(n, B*heads, d)`."""

    def __init__(self, model, tokens: int):
        super().__init__(model, tokens)

    def enter(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(0, 1).reshape(-1, self.width)  # (N*B, D)

    def linear(self, x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        return _linear(x, layer)

    def first(self, t: torch.Tensor, r: int) -> torch.Tensor:
        """`(N*B, D)` -> `(r*B, D)` (token-major: the first r*B rows)."""
        return t.reshape(self.tokens, -1, self.width)[:r].reshape(-1, self.width)

    def split(self, x: torch.Tensor, n: int | None = None) -> torch.Tensor:
        """`(n*B, D)` -> `(n, B*heads, d)`, no copy."""
        return x.reshape(n or self.tokens, -1, self.head_dim)

    def project(self, att, h: torch.Tensor, rows: int | None):
        """Keys and values of every token, then queries of the first `rows`, each `(n, B*heads, d)`."""
        k, v = (self.split(self.linear(h, layer)) for layer in (att.key, att.value))
        q = self.split(self.linear(h if rows is None else self.first(h, rows), att.query), rows)
        return q, k, v

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, rows: int | None):
        """Probabilities `(B, heads, r, N)` and the context of the first r tokens `(r*B, D)`."""
        a = torch.softmax(torch.matmul(q.transpose(0, 1), k.permute(1, 2, 0)) * self.scale, dim=-1)  # (B*heads, r, N)
        context = torch.matmul(a, v.transpose(0, 1)).transpose(0, 1).reshape(-1, self.width)  # (r*B, D)
        return a.reshape(-1, self.heads, rows or self.tokens, self.tokens), context

    def final(self, z: torch.Tensor, n: int) -> torch.Tensor:
        return z.reshape(n, -1, self.width)  # (n, B, D)

    def token(self, z: torch.Tensor, i: int) -> torch.Tensor:
        return z[i]


class PackedViT(nn.Module):
    """pixels `(B, 3, H, W)` -> logits `(B, C)` and per layer attention `(B, heads, N, N)`
    (the last layer's `(B, heads, R, N)` with `readout=R`)."""

    def __init__(self, model: nn.Module, n_tokens: int, readout: int | None = None):
        super().__init__()
        self.model, self.readout = model, readout  # tokens the last layer is computed for (None: all of them)
        self.layout = TokenMajor(model, n_tokens)

    def forward(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out = walk(self.model, self.layout, pixel_values, self.readout)
        return out.logits, [b.probs for b in out.blocks]
