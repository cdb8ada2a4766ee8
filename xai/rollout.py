"""Attention rollout: Abnar & Zuidema, "Quantifying Attention Flow in Transformers", ACL 2020.
https://arxiv.org/abs/2005.00928

Per layer: fuse heads, add the identity (the residual path), row-normalise; multiply the
layers together; read the CLS row over the patch tokens. Pure maths: arrays in, arrays out, so
the same functions serve PyTorch, ONNX Runtime and Core ML outputs. `rollout_cls_torch` is the
form that goes inside exported graphs: only the CLS row, as a vector times each layer's matrix
(O(L*N^2) instead of the O(L*N^3) full product).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

HEAD_FUSIONS = ("mean", "max", "min")
CLS = (0,)  # the token rows a classifier reads: the CLS token's ...
CLS_AND_DISTILLATION = (0, 1)  # ... or, in a distilled DeiT (logit = mean of two heads), both tokens'


def read_rows(matrix: np.ndarray, readout: Sequence[int] = CLS) -> np.ndarray:
    """`(B, N, N)` -> the mean of the `readout` rows `(B, N)`: a logit that averages two tokens'
    heads is explained by the average of their rows (rollout is linear in the row selector)."""
    return np.asarray(matrix)[:, list(readout)].mean(axis=1)
ROW_SUM_ATOL = 1e-3


class AttentionCheckError(ValueError):
    """Captured attention maps are not what rollout needs (count, shape, or rows not summing to 1)."""


def check_attentions(attentions: Sequence[np.ndarray], num_layers: int | None = None) -> None:
    """Every map `(B, heads, N, N)`, one per layer, rows summing to 1; all problems listed at once."""
    problems = []
    if num_layers is not None and len(attentions) != num_layers:
        problems.append(f"{len(attentions)} attention maps for {num_layers} layers")
    for i, a in enumerate(attentions):
        if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
            problems.append(f"layer {i}: shape {a.shape}, expected (B, heads, N, N)")
            continue
        worst = float(np.abs(a.sum(-1) - 1).max())
        if worst > ROW_SUM_ATOL:
            problems.append(f"layer {i}: rows sum to 1 within {worst:.2e} (> {ROW_SUM_ATOL}); "
                            "was attention captured after softmax, with eager attention?")
    if problems:
        raise AttentionCheckError("; ".join(problems))


def fuse_heads(attention: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """`(B, heads, N, N)` -> `(B, N, N)`."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"unknown head fusion '{head_fusion}'; known: {', '.join(HEAD_FUSIONS)}")
    return getattr(attention, head_fusion)(axis=1)


def discard_lowest(a: np.ndarray, ratio: float, n_special: int) -> np.ndarray:
    """Zero the lowest `ratio` of each map's entries, never a special token's column."""
    if ratio <= 0:
        return a
    b, n, _ = a.shape
    out = a.copy()
    flat = out.reshape(b, -1)
    k = int(flat.shape[1] * ratio)
    lowest = np.argsort(flat, axis=1)[:, :k]
    keep = (lowest % n) < n_special  # special-token columns (CLS, distillation) stay
    rows = np.repeat(np.arange(b)[:, None], k, axis=1)
    flat[rows[~keep], lowest[~keep]] = 0
    return out


def rollout(attentions: Sequence[np.ndarray], head_fusion: str = "mean", discard_ratio: float = 0.0,
            n_special: int = 1) -> np.ndarray:
    """Full-product rollout `(B, N, N)` from per-layer maps `(B, heads, N, N)`, first layer first."""
    result = None
    for attention in attentions:
        a = discard_lowest(fuse_heads(np.asarray(attention, dtype=np.float64), head_fusion),
                           discard_ratio, n_special)
        a = a + np.eye(a.shape[-1])
        a = a / a.sum(-1, keepdims=True)
        result = a if result is None else a @ result
    return result


def cls_relevance_to_grid(row: np.ndarray, n_special: int, grid: tuple[int, int]) -> np.ndarray:
    """CLS row `(B, N)` -> patch map `(B, grid_h, grid_w)` scaled to max 1."""
    patches = row[:, n_special:].reshape(row.shape[0], *grid)
    return patches / np.maximum(patches.max(axis=(1, 2), keepdims=True), 1e-12)


def rollout_map(attentions: Sequence[np.ndarray], grid: tuple[int, int], n_special: int = 1,
                head_fusion: str = "mean", discard_ratio: float = 0.0, readout: Sequence[int] = CLS) -> np.ndarray:
    """Checked rollout heatmap `(B, grid_h, grid_w)` from per-layer maps `(B, heads, N, N)`, read
    from the `readout` rows (the CLS row; with the distillation row for a distilled DeiT)."""
    check_attentions(attentions)
    full = rollout(attentions, head_fusion, discard_ratio, n_special)
    return cls_relevance_to_grid(read_rows(full, readout), n_special, grid).astype(np.float32)


def raw_attention_map(attentions: Sequence[np.ndarray], grid: tuple[int, int], n_special: int = 1,
                      readout: Sequence[int] = CLS) -> np.ndarray:
    """Last layer's head-mean attention of the `readout` rows over the patches `(B, grid_h, grid_w)`, max 1."""
    check_attentions(attentions)
    row = read_rows(np.asarray(attentions[-1]).mean(axis=1), readout)
    return cls_relevance_to_grid(row, n_special, grid).astype(np.float32)


RENORM_EVERY = 12  # layers between rescalings of the unnormalised in-graph rollout: its sum doubles
# per layer, 2^12 stays inside fp16 (max 65504); none after the last layer (the result is normalised
# anyway), so a 12-layer ViT has no rescaling, which ONNX Runtime would fold into the next product as
# a scale that takes its slower general path


def rollout_start(n_tokens: int, dtype=None, readout: Sequence[int] = CLS):
    """The row selector the in-graph rollout starts from, `(1, 1, 1, N)`: e_0 (the CLS row), or the
    mean of e_0 and e_1 for a distilled DeiT's `readout`."""
    import torch

    start = torch.zeros(1, 1, 1, n_tokens, dtype=dtype or torch.float32)
    start[..., list(readout)] = 1.0 / len(readout)
    return start


def _head_mean(weights, x, size: int):
    """`(B, heads, ...)` holding `size` values per head -> `(B, 1, size)`, a product with `weights` `(1, heads)`."""
    import torch

    return torch.matmul(weights, x.reshape(-1, int(weights.shape[-1]), size))


def rollout_cls_torch(attentions, n_special: int, grid: tuple[int, int], start=None, head_weights=None):
    """In-graph rollout (torch): head mean, + I, row-normalised, CLS row as a vector.

    attentions: per layer `(B, heads, N, N)`, first layer first. Returns `(B, grid_h, grid_w)`,
    max 1. Rows of A sum to 1, so (A + I) row-normalised is (A + I) / 2; the halving only scales
    the result, which is normalised to max 1 at the end, so v <- v A + v is enough (the sum of v
    doubles per layer: rescaled every RENORM_EVERY layers to stay inside fp16).
    Heads: without `head_weights`, the mean is taken after the product (mean_h(v A_h) =
    v mean_h(A_h)), over H x N values instead of H x N x N (one broadcast MatMul, one small
    ReduceMean and one Add per layer). With `head_weights`, `(1, heads)` of 1/heads (a buffer when
    tracing), each map is averaged over heads first, by a product with them traced right before
    the map's vector product. ONNX Runtime runs the producers of a node's inputs latest-defined
    first, so it computes that mean right after the map's softmax, while the map is in cache;
    the rollout after the last layer then reads one `(B, 1, N, N)` mean per layer from memory,
    where the mean taken after the product keeps every head's map there until the end.
    start: e_0 `(1, 1, 1, N)` (pass it as a buffer when tracing, so it becomes a constant).
    The last layer's map may hold only its first R rows, `(B, heads, R, N)`, when `start` is zero
    beyond them (the readout rows): v A then reads only those rows.
    """
    import torch

    v = rollout_start(attentions[0].shape[-1], attentions[0].dtype) if start is None else start
    n = int(v.shape[-1])  # python ints: static sizes (only the batch is dynamic) trace as constants
    for i, attention in enumerate(reversed(attentions)):  # v <- v (A_l + I), last layer first
        rows = int(attention.shape[-2])
        selector = v if rows == n else v[..., :rows]  # first step: `start`'s first rows, a constant
        if head_weights is not None and attention.shape[1] > 1 and rows == n:
            attention = _head_mean(head_weights, attention, n * n).reshape(-1, 1, n, n)
        product = torch.matmul(selector, attention)
        heads = int(product.shape[1])  # (B, heads, 1, N): the last layer's, or every layer's without head_weights
        if heads > 1 and head_weights is None:
            product = product.mean(dim=1, keepdim=True)
        elif heads > 1:  # (1, 1, 1, heads) @ (B, 1, heads, N)
            product = torch.matmul(head_weights.reshape(1, 1, 1, -1), product.reshape(-1, 1, heads, n))
        v = product + v
        if i % RENORM_EVERY == RENORM_EVERY - 1 and i < len(attentions) - 1:
            v = v * (0.5 ** RENORM_EVERY)
    # explicit end, not an open one: exported, `n_special:` becomes an INT64_MAX sentinel, which
    # runtimes computing indices in int32 (OpenVINO's CPU plugin) hold as another value
    patches = v.reshape(-1, n)[:, n_special:n_special + grid[0] * grid[1]].reshape(-1, grid[0], grid[1])
    return patches / patches.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
