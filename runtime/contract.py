"""The artifact contract's registries: formats and their precisions, explanation kinds, the names
of the graph's inputs and outputs. `export` writes artifacts by them, `runtime` reads and checks
artifacts by them, `bench` builds its rows from them: one place, no second list."""
from __future__ import annotations

# format -> precisions, the default first
PRECISIONS: dict[str, tuple[str, ...]] = {"onnx": ("fp32", "fp16", "int8"), "coreml": ("fp16", "fp32", "int8")}
DEFAULT_PRECISION = {fmt: precisions[0] for fmt, precisions in PRECISIONS.items()}
EXPLAIN_KINDS = {
    "rollout": "logits, probs and the attention-rollout map (N, grid_h, grid_w)",
    "attentions": "as rollout, plus every layer's attention probabilities (N, heads, tokens, tokens)",
    "gradrollout": "logits, probs and class-specific gradient-weighted rollout `relevance` (N, grid_h, grid_w), "
                   "backward pass inside the graph; second input `target` (N,) picks the class (-1: predicted)",
    "none": "logits and probs only",
}
CLASS_INPUT = "target"  # gradrollout graphs' second input: class index per image, -1 for the predicted one
HEATMAP_OUTPUTS = ("relevance", "rollout")  # the output holding the map, in order of preference
RESAMPLE_NAMES = ("nearest", "lanczos", "bilinear", "bicubic", "box", "hamming")  # PIL's, as manifests name them
