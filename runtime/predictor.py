"""`runtime.load(path) -> Predictor`; `Predictor.predict(images) -> Prediction`. One API, any backend."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from _infra.errors import ToolkitError
from xai.rollout import rollout_map

from .backend import BACKENDS, Backend, BackendUnavailable, ClassIndexError, check_class_indices
from .contract import EXPLAIN, FORMATS, HEATMAP_OUTPUTS
from .images import ImageLike, ImageLoadError, describe, resize_batch, to_rgb, upsample_all
from .manifest import MANIFEST, ArtifactError, ManifestError, read_manifest, verify_files



@dataclass
class Prediction:
    """Per-image results, as numpy arrays; failed images have an entry in `errors` and no row."""

    sources: list[str]  # one per predicted image
    labels: list[str]  # the model's class names
    probs: np.ndarray  # (N, C)
    heatmaps: np.ndarray | None  # (N, grid_h, grid_w), max 1
    heatmaps_full: list[np.ndarray]  # each (H_i, W_i) at the original image's size
    images: list  # the RGB PIL images, upright
    top_k: list[list[tuple[str, float]]]
    seconds: float  # wall time of the backend call for the whole batch
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source, message)

    @property
    def top1(self) -> list[str]:
        return [t[0][0] for t in self.top_k]


class Predictor:
    def __init__(self, backend: Backend):
        self.backend, self.manifest = backend, backend.manifest

    @property
    def explains(self) -> bool:
        """Whether predictions carry a heatmap (every explain kind but `none`)."""
        return EXPLAIN[self.manifest.explain].explains

    def heatmaps_from(self, outputs: dict[str, np.ndarray]) -> np.ndarray | None:
        """The graph's own map; for `--explain attentions` artifacts without one, rollout by xai."""
        for name in HEATMAP_OUTPUTS:
            if name in outputs:
                return outputs[name]
        attentions = [outputs[k] for k in sorted((k for k in outputs if k.startswith("attention_")),
                                                 key=lambda k: int(k.split("_")[1]))]
        if attentions:
            return rollout_map(attentions, tuple(self.manifest.patch_grid), self.manifest.n_special_tokens)
        return None

    def class_index(self, target: int | str) -> int:
        """A class given by index or label name -> its index."""
        labels = self.manifest.labels
        if isinstance(target, str) and not target.lstrip("-").isdigit():
            if target not in labels:
                raise ClassIndexError(f"unknown class '{target}'; known: {', '.join(labels)}")
            return labels.index(target)
        index = int(target)
        check_class_indices(np.array([index]), len(labels))
        return index

    def predict(self, images: ImageLike | list[ImageLike], top_k: int = 3, explain_class: int | str | None = None) -> Prediction:
        """Load, convert and resize every input, run the batch once, read labels and heatmaps back.

        explain_class: the class (index or label) whose relevance a gradrollout artifact returns,
        for every image; None explains each image's predicted class."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ToolkitError(f"top_k must be a whole number >= 1 (got {top_k})")
        items = images if isinstance(images, (list, tuple)) else [images]
        loaded, sources, errors = [], [], []
        for i, item in enumerate(items):
            try:
                loaded.append(to_rgb(item))
                sources.append(describe(item, i))
            except ImageLoadError as e:
                errors.append((describe(item, i), str(e)))
        batch = resize_batch(loaded, self.manifest.image_size, self.manifest.preprocessing["resample"])
        start = time.perf_counter()
        targets = None if explain_class is None else np.full(len(batch), self.class_index(explain_class))
        outputs = self.backend.run_batched(batch, targets) if len(batch) else {}
        seconds = time.perf_counter() - start
        probs = outputs.get("probs", np.zeros((0, len(self.manifest.labels)), np.float32))
        heatmaps = self.heatmaps_from(outputs) if outputs else None
        order = np.argsort(-probs, axis=1)[:, :top_k]
        return Prediction(
            sources=sources, labels=list(self.manifest.labels), probs=probs, heatmaps=heatmaps,
            heatmaps_full=upsample_all(heatmaps, [im.size for im in loaded]) if heatmaps is not None else [],
            images=loaded, seconds=seconds, errors=errors,
            top_k=[[(self.manifest.labels[j], float(p[j])) for j in row] for p, row in zip(probs, order)])


def load(path: str | Path, backend: str | None = None, **options) -> Predictor:
    """An export artifact folder (backend from its manifest) or a checkpoint folder (`torch`)."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"'{path}' does not exist")
    if not (path / MANIFEST).is_file():
        name = backend or "torch"
        if name != "torch":
            raise ManifestError(f"'{path}' has no {MANIFEST}: only the torch backend runs a checkpoint folder")
        return Predictor(BACKENDS["torch"](path, **options))
    manifest = read_manifest(path)
    name = backend or FORMATS[manifest.format].backend
    if name not in BACKENDS:
        raise ArtifactError(f"unknown backend '{name}'; known: {', '.join(BACKENDS)}")
    if manifest.format not in BACKENDS[name].formats:
        raise ArtifactError(f"backend '{name}' cannot run a {manifest.format} artifact; "
                         f"use {', '.join(n for n, b in BACKENDS.items() if manifest.format in b.formats)}")
    verify_files(path, manifest)
    try:
        runner = BACKENDS[name](path, manifest, **options)
    except (ArtifactError, BackendUnavailable):
        raise
    except ModuleNotFoundError as e:  # the backend's library is an extra this install left out
        from _infra.extras import missing_extra

        if missing_extra(e) is None:
            raise
        raise BackendUnavailable(f"the {name} backend: {missing_extra(e)}") from e
    except Exception as e:  # the runtime's own parser rejected the file: say which, in one line
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ArtifactError(f"{path / manifest.model_file}: the {name} backend cannot load it ({first})") from e
    predictor = Predictor(runner)
    check_against_model(predictor)
    return predictor


def check_against_model(predictor: Predictor) -> None:
    """Refuse a manifest that disagrees with its model's outputs (names, label count, grid)."""
    described = predictor.backend.describe_outputs()
    if described is None:
        return
    manifest, problems = predictor.manifest, []
    if set(described) != set(manifest.outputs):
        problems.append(f"model outputs {sorted(described)} but the manifest declares {sorted(manifest.outputs)}")
    problems += [f"model's {name} is {d['dtype']} but the manifest says {manifest.outputs[name]['dtype']}"
                 for name, d in described.items() if name in manifest.outputs
                 and d["dtype"] != manifest.outputs[name]["dtype"]]
    shapes = {name: d["shape"] for name, d in described.items()}
    if "logits" in shapes and shapes["logits"][-1] != len(manifest.labels):
        problems.append(f"model has {shapes['logits'][-1]} classes but the manifest lists {len(manifest.labels)} labels")
    for name in HEATMAP_OUTPUTS:
        if name in shapes and list(shapes[name][1:]) != list(manifest.patch_grid):
            problems.append(f"model's {name} grid {shapes[name][1:]} differs from the manifest's {manifest.patch_grid}")
    size, declared = predictor.backend.input_size(), list(manifest.image_size)
    if size is not None and list(size) != declared:
        problems.append(f"model takes {list(size)} (H, W) images but the manifest resizes to {declared}")
    problems += input_disagreements(predictor.backend.describe_inputs(), manifest)
    problems += stamp_disagreements(predictor.backend.stamped(), manifest)
    if problems:
        raise ManifestError(*problems)


def input_disagreements(inputs: dict[str, dict] | None, manifest) -> list[str]:
    """The manifest's image and class inputs against the model's own: names, dtypes, shapes."""
    if inputs is None:
        return []
    declared = {manifest.input["name"]: manifest.input}
    if manifest.class_input:
        declared[manifest.class_input["name"]] = manifest.class_input
    if set(inputs) != set(declared):
        return [f"model inputs {sorted(inputs)} but the manifest declares {sorted(declared)}"]
    problems = []
    for name, spec in declared.items():
        model = inputs[name]
        if model["dtype"] != spec["dtype"]:
            problems.append(f"model's input {name} is {model['dtype']} but the manifest says {spec['dtype']}")
        elif len(model["shape"]) != len(spec["shape"]) or any(
                m is not None and d is not None and m != d for m, d in zip(model["shape"], spec["shape"])):
            problems.append(f"model's input {name} has shape {model['shape']} but the manifest says {spec['shape']} "
                            f"(layout {spec.get('layout', '-')})")
    return problems


def stamp_disagreements(stamp: dict | None, manifest) -> list[str]:
    """The manifest against what export wrote into the model file itself (precision, explain, labels, ...)."""
    if stamp is None:
        return []
    if not stamp:
        return ["the model carries no export stamp (precision, explain): not exported by this version; re-export it"]
    return [f"manifest says {key} {_short(getattr(manifest, key))} but the model was exported with {_short(value)}"
            for key, value in sorted(stamp.items()) if hasattr(manifest, key) and getattr(manifest, key) != value]


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
