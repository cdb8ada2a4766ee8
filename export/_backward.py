"""Class-specific explanations without autograd: a ViT/DeiT forward written out with the backward
pass of one logit written out after it, as ordinary tensor ops, so ONNX Runtime and Core ML
(which have no autograd) compute gradient-weighted rollout inside the exported graph.

Why by hand: tracing `torch.func.grad` through `make_fx` and the dynamo exporter works for a
fixed batch on ONNX only; the TorchScript exporter and coremltools both take a traced module,
and neither traces autograd. The backward of a ViT block is short when only input gradients
are needed (no weight gradients): per block, a LayerNorm, GELU and softmax derivative and the
transposed matmuls. It runs in the same pass, last block first, and feeds the CLS-row rollout
vector as it goes, so the attention gradients never need to be stored. The forward is
`xai.vit.walk` (the one ViT walker, batch-major), which keeps every block's operands.

Gradient-weighted rollout (Chefer, Gur & Wolf, ICCV 2021, https://arxiv.org/abs/2103.15679):
v <- v + v mean_h((dS/dA_l * A_l)+), last layer first, from v = e_0 (`xai.methods.grad_rollout`).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from xai.methods.grad_rollout import grad_rollout_step_torch
from xai.vit import BlockPass, Layout, readout_heads, walk

SUPPORTED_ACTIVATIONS = ("gelu",)  # exact (erf) GELU, the activation of ViT and DeiT checkpoints
# The backward pass runs on the logit's gradient times GRAD_SCALE (a power of two, so exact), and
# the rollout divides it out again: grad x attention products are ~1e-6 on 197 tokens, which is
# subnormal in fp16 and would lose its precision there.
GRAD_SCALE = 256.0


def layer_norm_backward(x: torch.Tensor, grad: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """d/dx of LayerNorm(x) over the last dim, given the gradient of its output `(B, N, D)`."""
    mean = x.mean(-1, keepdim=True)
    centred = x - mean
    rstd = torch.rsqrt((centred * centred).mean(-1, keepdim=True) + eps)
    x_hat = centred * rstd
    g = grad * weight
    return rstd * (g - g.mean(-1, keepdim=True) - x_hat * (g * x_hat).mean(-1, keepdim=True))


def gelu_derivative(x: torch.Tensor) -> torch.Tensor:
    """d/dx x Phi(x) = Phi(x) + x phi(x) for the exact GELU."""
    cdf = 0.5 * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))
    return cdf + x * torch.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))


class RelevanceViT(nn.Module):
    """normalised pixels `(B, 3, H, W)`, target `(B,)` (class index; < 0: the predicted class) ->
    logits `(B, C)`, relevance `(B, grid_h, grid_w)` (max 1) for the target class."""

    def __init__(self, model: nn.Module, n_special: int, grid: tuple[int, int]):
        super().__init__()
        if model.config.hidden_act not in SUPPORTED_ACTIVATIONS:
            raise ValueError(f"in-graph gradients support hidden_act {SUPPORTED_ACTIVATIONS}, "
                             f"not '{model.config.hidden_act}'")
        self.model, self.n_special, self.grid = model, n_special, tuple(grid)
        base = getattr(model, model.base_model_prefix)
        self.blocks, self.final_norm = base.encoder.layer, base.layernorm
        self.tokens = grid[0] * grid[1] + n_special
        # Every shape is a constant (batch: -1) and every slice has an explicit end: no shape
        # arithmetic (Core ML's converter cannot fold it) and no INT64_MAX "to the end" sentinels,
        # which runtimes that compute indices in int32 (OpenVINO's CPU plugin) represent differently.
        self.layout = Layout(model, self.tokens)
        self.heads = readout_heads(model)  # CLS (and distillation): the tokens that feed a classifier
        start = torch.zeros(1, 1, self.tokens)  # broadcast over the batch by the first rollout step
        rows = [head.token for head in self.heads]
        start[..., rows] = 1.0 / len(rows)  # the CLS (and distillation) row the logit reads
        self.register_buffer("start", start)
        self.register_buffer("head_tokens", torch.eye(self.tokens, len(rows)))  # (N, n_heads) placement

    def _logit_grad(self, z_input: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """GRAD_SCALE x dS/d(final LayerNorm input) `(B, N, D)` for S = logit of the chosen class."""
        chosen = torch.where(target >= 0, target, logits.argmax(-1))
        # dS/dz is the chosen class's weight row (over the number of heads averaged): a Gather, so the
        # classifier weight is read by no second MatMul in the other orientation (see
        # export.onnx.shared_weight_orientations)
        rows = [(GRAD_SCALE / len(self.heads)) * head.classifier.weight[chosen] for head in self.heads]
        # only the classified tokens receive a gradient: (N, heads) @ (B, heads, D), no in-place writes
        dz = torch.matmul(self.head_tokens, torch.stack(rows, dim=1))
        return layer_norm_backward(z_input, dz, self.final_norm.weight, self.final_norm.eps)

    def _block_backward(self, block, saved: BlockPass, grad: torch.Tensor, relevance: torch.Tensor, first: bool):
        """dS/d(block input) from dS/d(block output), and the rollout vector updated with this block."""
        split, merge = self.layout.split, self.layout.merge
        dpre = torch.matmul(grad, block.output.dense.weight) * gelu_derivative(saved.pre)
        dmid = grad + layer_norm_backward(saved.x2, torch.matmul(dpre, block.intermediate.dense.weight),
                                          block.layernorm_after.weight, block.layernorm_after.eps)
        dctx = split(torch.matmul(dmid, block.attention.output.dense.weight))
        a = saved.probs
        da = torch.matmul(dctx, saved.v.transpose(-1, -2))  # (B, H, N, N): dS/dA for this layer
        relevance = grad_rollout_step_torch(relevance, a, da, grad_scale=GRAD_SCALE)
        if first:  # nothing below the first block needs a gradient
            return None, relevance
        att = block.attention.attention
        dv = torch.matmul(a.transpose(-1, -2), dctx)
        ds = a * (da - (da * a).sum(-1, keepdim=True)) * self.layout.scale  # softmax backward
        dq, dk = torch.matmul(ds, saved.k), torch.matmul(ds.transpose(-1, -2), saved.q)
        dh = (torch.matmul(merge(dq), att.query.weight) + torch.matmul(merge(dk), att.key.weight)
              + torch.matmul(merge(dv), att.value.weight))
        dt = dmid + layer_norm_backward(saved.x, dh, block.layernorm_before.weight, block.layernorm_before.eps)
        return dt, relevance

    def forward(self, pixel_values: torch.Tensor, target: torch.Tensor):
        out = walk(self.model, self.layout, pixel_values)  # the forward, keeping every block's operands
        grad = self._logit_grad(out.last, out.logits, target)
        relevance = self.start
        for i in range(len(self.blocks) - 1, -1, -1):
            grad, relevance = self._block_backward(self.blocks[i], out.blocks[i], grad, relevance, first=i == 0)
        patches = relevance[:, 0, self.n_special:self.tokens].reshape(-1, self.grid[0], self.grid[1])
        return out.logits, patches / patches.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
