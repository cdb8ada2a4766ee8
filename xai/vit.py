"""One walk through a HF ViT/DeiT image classifier (`ViTForImageClassification`,
`DeiTForImageClassification`, `DeiTForImageClassificationWithTeacher`): the patch embeddings, each
encoder block (LayerNorm, query/key/value, softmax attention, output projection and residual,
LayerNorm, MLP and residual), the final LayerNorm and the logit read-out, written once and used by
every pass that needs the block's inner tensors:

- `export._forward.PackedViT`, the exported forward (tokens token-major, `export._forward.TokenMajor`);
- `export._backward.RelevanceViT`, the exported forward with its hand-written backward;
- `xai.lrp`, Chefer et al.'s LRP; `xai.methods.attnlrp`, AttnLRP (its rules as a `Layout`).

The model's own modules and weights do the work; a `Layout` says how tokens are laid out and how each
step is computed, and a subclass changes one step (a traced layout, a relevance rule). `readout_heads`
is the one home of the logit read-out: the CLS head, or for a distilled DeiT the mean of a head on
the CLS token and one on the distillation token.

Imports no torch: only tensor methods are called, so `readout_rows` serves torch-free callers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from .rollout import CLS, CLS_AND_DISTILLATION

if TYPE_CHECKING:
    from torch import Tensor, nn


@dataclass(frozen=True)
class Head:
    """A classifier head and the token it reads."""

    token: int
    classifier: "nn.Linear"


def readout_heads(model) -> tuple[Head, ...]:
    """The heads a HF classifier's logit reads: the CLS head, or for a distilled DeiT
    (`DeiTForImageClassificationWithTeacher`) a CLS head and a distillation head, averaged."""
    if hasattr(model, "distillation_classifier"):
        return Head(0, model.cls_classifier), Head(1, model.distillation_classifier)
    return (Head(0, model.classifier),)


def readout_rows(model) -> tuple[int, ...]:
    """The tokens whose outputs the logit reads: `CLS`, or `CLS_AND_DISTILLATION` for a distilled DeiT."""
    return CLS_AND_DISTILLATION if len(readout_heads(model)) == 2 else CLS


def read_logits(heads: Sequence[Head], token: Callable[[int], "Tensor"]) -> "Tensor":
    """Logits `(B, C)` from each head applied to its token `(B, D)`: one head's, or the heads' mean."""
    logits = [head.classifier(token(head.token)) for head in heads]
    return logits[0] if len(logits) == 1 else sum(logits[1:], logits[0]) / len(logits)


class Layout:
    """Tokens batch-major `(B, N, D)`, every step as the model computes it. `tokens`: the token count
    as a constant (exported graphs need static shapes; None: read from each tensor)."""

    def __init__(self, model, tokens: int | None = None):
        cfg = model.config
        self.heads, self.width, self.tokens = cfg.num_attention_heads, cfg.hidden_size, tokens
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.scale = self.head_dim ** -0.5  # as transformers' ViTSelfAttention.scaling

    def enter(self, x: "Tensor") -> "Tensor":
        """The embeddings' output `(B, N, D)` in this layout."""
        return x

    def linear(self, x: "Tensor", layer: "nn.Linear") -> "Tensor":
        return layer(x)

    def norm(self, layer: "nn.LayerNorm", x: "Tensor") -> "Tensor":
        return layer(x)

    def act(self, fn: Callable, x: "Tensor") -> "Tensor":
        """The MLP's activation (the model's own, GELU for ViT and DeiT)."""
        return fn(x)

    def split(self, x: "Tensor", n: int | None = None) -> "Tensor":
        """`(B, n, D)` -> `(B, heads, n, d)`."""
        n = n or self.tokens or x.shape[-2]
        return x.reshape(-1, n, self.heads, self.head_dim).transpose(1, 2)

    def merge(self, x: "Tensor", n: int | None = None) -> "Tensor":
        """`(B, heads, n, d)` -> `(B, n, D)`."""
        n = n or self.tokens or x.shape[-2]
        return x.transpose(1, 2).reshape(-1, n, self.width)

    def first(self, x: "Tensor", r: int) -> "Tensor":
        """The first r tokens of every image."""
        return x[:, :r]

    def project(self, att, h: "Tensor", rows: int | None) -> tuple["Tensor", "Tensor", "Tensor"]:
        """Queries (of the first `rows` tokens; None: all), keys and values `(B, heads, n, d)`."""
        q = self.split(self.linear(h if rows is None else self.first(h, rows), att.query), rows)
        return q, self.split(self.linear(h, att.key)), self.split(self.linear(h, att.value))

    def attend(self, q: "Tensor", k: "Tensor", v: "Tensor", rows: int | None) -> tuple["Tensor", "Tensor"]:
        """Attention probabilities `(B, heads, n, N)` and the context `(B, n, D)` (n: `rows`, or all)."""
        probs = (q.matmul(k.transpose(-1, -2)) * self.scale).softmax(dim=-1)
        return probs, self.merge(probs.matmul(v), rows)

    def final(self, z: "Tensor", n: int) -> "Tensor":
        """The final LayerNorm's output, ready for `token` (`n` tokens per image)."""
        return z

    def token(self, z: "Tensor", i: int) -> "Tensor":
        """Token i of every image `(B, D)` from `final`'s output."""
        return z[:, i]


@dataclass(frozen=True)
class BlockPass:
    """Every operand of one encoder block (shapes in a batch-major `Layout`; q, k, v, probs per head)."""

    x: "Tensor"  # (B, N, D) the block's input (its first `rows` tokens when the queries are cut)
    h1: "Tensor"  # layernorm_before(input) (B, N, D)
    q: "Tensor"  # (B, heads, n, d)
    k: "Tensor"  # (B, heads, N, d)
    v: "Tensor"  # (B, heads, N, d)
    probs: "Tensor"  # (B, heads, n, N) attention probabilities
    ctx: "Tensor"  # (B, n, D) heads merged
    o: "Tensor"  # attention output projection (B, n, D)
    x2: "Tensor"  # x + o
    h2: "Tensor"  # layernorm_after(x2)
    pre: "Tensor"  # intermediate.dense(h2) (B, n, 4D)
    g: "Tensor"  # act(pre)
    m: "Tensor"  # output.dense(g) (B, n, D)
    out: "Tensor"  # x2 + m


def walk_block(layout: Layout, block, x: "Tensor", rows: int | None = None) -> BlockPass:
    """One encoder block (a HF `ViTLayer`/`DeiTLayer`) on `x`; `rows`: compute only the first `rows`
    tokens' outputs (keys and values still come from every token, so those outputs are exact)."""
    att = block.attention.attention
    h1 = layout.norm(block.layernorm_before, x)
    q, k, v = layout.project(att, h1, rows)
    probs, ctx = layout.attend(q, k, v, rows)
    x = x if rows is None else layout.first(x, rows)
    o = layout.linear(ctx, block.attention.output.dense)
    x2 = x + o
    h2 = layout.norm(block.layernorm_after, x2)
    pre = layout.linear(h2, block.intermediate.dense)
    g = layout.act(block.intermediate.intermediate_act_fn, pre)
    m = layout.linear(g, block.output.dense)
    return BlockPass(x=x, h1=h1, q=q, k=k, v=v, probs=probs, ctx=ctx, o=o, x2=x2, h2=h2, pre=pre, g=g, m=m,
                     out=x2 + m)


@dataclass(frozen=True)
class ViTPass:
    logits: "Tensor"  # (B, C)
    blocks: list[BlockPass]  # first block first
    last: "Tensor"  # the final LayerNorm's input (the last block's output)
    final: "Tensor"  # its output, in `Layout.final`'s form


def walk(model, layout: Layout, pixel_values: "Tensor", readout: int | None = None) -> ViTPass:
    """pixels `(B, 3, H, W)` (normalised) -> logits and every block's operands. `readout`: compute the
    last block for the first `readout` tokens only (the tokens the heads read)."""
    base = getattr(model, model.base_model_prefix)
    x = layout.enter(base.embeddings(pixel_values))
    blocks, last = [], len(base.encoder.layer) - 1
    for i, block in enumerate(base.encoder.layer):
        blocks.append(walk_block(layout, block, x, readout if i == last else None))
        x = blocks[-1].out
    n = readout or layout.tokens or x.shape[-2]
    z = layout.final(layout.norm(base.layernorm, x), n)
    logits = read_logits(readout_heads(model), lambda i: layout.token(z, i))
    return ViTPass(logits=logits, blocks=blocks, last=x, final=z)


def gradient_x_input(model, layout: Layout, pixel_values: "Tensor", targets: "Tensor") -> "Tensor":
    """Pixels `(B, 3, H, W)` times the gradient of each image's `targets` logit through `walk` in
    `layout`: LRP in its Gradient x Input form when the layout carries the rules as changes to the
    gradient (Achtibat et al., ICML 2024, https://arxiv.org/abs/2402.05602, Sec. 3.3)."""
    import torch

    x = pixel_values.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = walk(model, layout, x).logits
        (grad,) = torch.autograd.grad(logits.gather(1, targets[:, None]).sum(), x)  # images are independent
    return x.detach() * grad
