"""The artifact contract's registries: formats and their precisions, explanation kinds, the names
of the graph's inputs and outputs. `export` writes artifacts by them, `runtime` reads and checks
artifacts by them, `bench` builds its rows from them: one place, no second list."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """An artifact format: what `export` writes it in, what `runtime` runs it with."""

    name: str
    precisions: tuple[str, ...]  # the default first
    backend: str  # the runtime backend that runs it by default and checks every export against PyTorch
    libraries: tuple[str, ...]  # whose versions its manifests record (beside torch, transformers, numpy)


FORMATS = {f.name: f for f in (Format("onnx", ("fp32", "fp16", "int8"), "onnx", ("onnx", "onnxruntime")),
                               Format("coreml", ("fp16", "fp32", "int8"), "coreml", ("coremltools",)))}
PRECISIONS = {name: f.precisions for name, f in FORMATS.items()}
DEFAULT_PRECISION = {name: f.precisions[0] for name, f in FORMATS.items()}


@dataclass(frozen=True)
class ExplainKind:
    """What an exported graph explains, and so what every stage does for it: which map it outputs,
    whether the forward must return attention probabilities, whether it takes a class per image
    (the backward pass in the graph) and whether it also returns every layer's attentions."""

    name: str
    description: str
    heatmap: str | None  # the output holding the map (`rollout` or `relevance`); None: no map
    uses_attentions: bool = False  # the forward returns attention probabilities (rollout is made from them)
    class_input: bool = False  # a second input `target` (N,) picks the class; -1 the predicted one
    attention_outputs: bool = False  # also every layer's attention probabilities, one output each

    @property
    def explains(self) -> bool:
        return self.heatmap is not None


EXPLAIN = {k.name: k for k in (
    ExplainKind("rollout", "logits, probs and the attention-rollout map (N, grid_h, grid_w)", "rollout",
                uses_attentions=True),
    ExplainKind("attentions", "as rollout, plus every layer's attention probabilities (N, heads, tokens, tokens)",
                "rollout", uses_attentions=True, attention_outputs=True),
    ExplainKind("gradrollout", "logits, probs and class-specific gradient-weighted rollout `relevance` "
                "(N, grid_h, grid_w), backward pass inside the graph; second input `target` (N,) picks the "
                "class (-1: predicted)", "relevance", class_input=True),
    ExplainKind("none", "logits and probs only", None),
)}
EXPLAIN_KINDS = {name: kind.description for name, kind in EXPLAIN.items()}  # CLI choices and docs tables
DEFAULT_EXPLAIN = "rollout"  # what an export explains unless told otherwise


def gives_map(explain: str | None) -> bool:
    """Whether a graph or a result row of explain kind `explain` carries a map (a row without a
    known kind, a peer's, is not a plain `none` row either)."""
    return EXPLAIN[explain].explains if explain in EXPLAIN else True
CLASSIFIER_OUTPUTS = ("classLabel", "classLabel_probs")  # a Core ML classifier's label and label -> probability
CLASS_INPUT = "target"  # gradrollout graphs' second input: class index per image, -1 for the predicted one
HEATMAP_OUTPUTS = ("relevance", "rollout")  # the output holding the map, in order of preference
# PIL's filters as manifests name them; a name's index is its `PIL.Image.Resampling` value (the
# number a Hugging Face image processor stores): the one table runtime.images and checkpoints read.
RESAMPLE_NAMES = ("nearest", "lanczos", "bilinear", "bicubic", "box", "hamming")


def output_names(explain: str, num_layers: int) -> list[str]:
    """The outputs of a graph explaining by `explain`, in order."""
    kind = EXPLAIN[explain]
    names = ["logits", "probs"] + ([kind.heatmap] if kind.heatmap else [])
    return names + ([f"attention_{i}" for i in range(num_layers)] if kind.attention_outputs else [])


def artifact_output_names(fmt: str, explain: str, num_layers: int) -> set[str]:
    """The outputs an artifact of format `fmt` declares: a Core ML classifier gives `probs` as its
    label -> probability dictionary, beside the most likely label."""
    names = set(output_names(explain, num_layers))
    return names - {"probs"} | set(CLASSIFIER_OUTPUTS) if fmt == "coreml" else names


def output_specs(explain: str, checkpoint, batch: int | None) -> dict[str, dict]:
    """Output name -> {"shape", "dtype"} for `checkpoint` explained by `explain` (batch None: dynamic).
    logits, probs (N, C); rollout / relevance (N, grid_h, grid_w); attention_i (N, heads, T, T)."""
    config = checkpoint.model.config
    grid, n_labels = list(checkpoint.patch_grid), len(checkpoint.labels)
    tokens = grid[0] * grid[1] + checkpoint.n_special_tokens
    shapes = {"logits": [batch, n_labels], "probs": [batch, n_labels], "rollout": [batch, *grid],
              "relevance": [batch, *grid]}
    attention = [batch, config.num_attention_heads, tokens, tokens]
    return {n: {"shape": shapes.get(n, attention), "dtype": "float32"}
            for n in output_names(explain, config.num_hidden_layers)}


def class_input_spec(explain: str, dtype: str, batch: int | None) -> dict:
    """The `target` input of a class-specific graph (empty for graphs without one)."""
    if not EXPLAIN[explain].class_input:
        return {}
    return {"name": CLASS_INPUT, "dtype": dtype, "shape": [batch], "predicted": -1,
            "meaning": "class index to explain per image; -1 explains the predicted class"}
