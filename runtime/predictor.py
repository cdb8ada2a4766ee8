"""`runtime.load(path or "org/name") -> Predictor`; `Predictor.predict(images) -> Prediction`. One API, any backend."""
from __future__ import annotations

import difflib
import functools
import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
from PIL import Image

from _infra.errors import ToolkitError
from xai.rollout import rollout_map

from .backend import BACKENDS, Backend, BackendUnavailable, ClassIndexError, check_class_indices
from .contract import EXPLAIN, FORMATS, HEATMAP_OUTPUTS
from .images import ImageLike, ImageLoadError, describe, resize_batch, to_rgb, upsample_all
from .manifest import MANIFEST, ArtifactError, ManifestError, read_manifest, verify_files

F = TypeVar("F", bound=Callable)
METHOD_NAMES = {"rollout": "attention rollout", "relevance": "gradient-weighted rollout"}  # by heatmap output


class UnknownOption(ToolkitError, TypeError):
    """A keyword the function does not take, or one the chosen backend does not: the caller's
    mistake (a TypeError, as Python's own), never the artifact's."""


@dataclass
class Prediction:
    """One entry per input, in the inputs' order: `p.top_k[i]` is input `i`'s. An input that could
    not be read keeps its place: `error[i]` says why, its probability and heatmap rows are NaN, its
    top-k is empty and its image and full-size heatmap are None."""

    sources: list[str]  # one per input: the path, or `<ndarray #i>`
    labels: list[str]  # the model's class names
    probs: np.ndarray  # (N, C); NaN rows for failed inputs
    heatmaps: np.ndarray | None  # (N, grid_h, grid_w), max 1; NaN for failed inputs; None: no map
    heatmaps_full: list[np.ndarray | None]  # each (H_i, W_i) at the input's size; [] when no map
    images: list[Image.Image | None]  # the RGB PIL images, upright
    top_k: list[list[tuple[str, float]]]  # [] for failed inputs
    seconds: float  # wall time of the backend call for the whole batch
    error: list[str | None]  # None where the input was predicted
    method: str = "attention rollout"  # the explanation's name, for pictures

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def predicted(self) -> list[int]:
        """The indices of the inputs that were predicted."""
        return [i for i, e in enumerate(self.error) if e is None]

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(source, message) of every input that failed, in input order."""
        return [(s, e) for s, e in zip(self.sources, self.error) if e is not None]

    @property
    def top1(self) -> list[str | None]:
        return [t[0][0] if t else None for t in self.top_k]

    def _explained(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Input `i`'s photo `(H, W, 3)` and heatmap `(H, W)`, or the one-line reason there are none."""
        if self.error[i] is not None:
            raise ToolkitError(f"input {i} ({self.sources[i]}) was not predicted: {self.error[i]}")
        if not self.heatmaps_full:
            raise ToolkitError("this artifact was exported with --explain none: there is no heatmap to draw; "
                               "export with --explain rollout or gradrollout")
        return np.asarray(self.images[i]), self.heatmaps_full[i]

    def overlay(self, i: int, alpha: float | None = None) -> Image.Image:
        """Input `i` with its heatmap in jet blended over it (weight `alpha`, default 0.5): an RGB
        PIL image at the input's size, drawn with numpy and Pillow (no matplotlib)."""
        from xai.overlay import OVERLAY_ALPHA, overlay_image

        image, heatmap = self._explained(i)
        return overlay_image(image, heatmap, OVERLAY_ALPHA if alpha is None else alpha)

    def picture(self, i: int) -> Image.Image:
        """The `predict` command's explain picture of input `i`: the photo beside its overlay, a
        colour bar, the top-1 label in the title (PIL, no matplotlib)."""
        from xai.overlay import explanation_picture

        image, heatmap = self._explained(i)
        label, prob = self.top_k[i][0]
        return explanation_picture(image, heatmap, f"{Path(self.sources[i]).name}: {label} ({prob:.1%})", self.method)


def _in_place(rows: np.ndarray, ok: list[int], n: int) -> np.ndarray:
    """Rows for the predicted inputs `ok` -> `(n, ...)` in input order, NaN where an input failed."""
    out = np.full((n, *rows.shape[1:]), np.nan, dtype=rows.dtype if rows.dtype.kind == "f" else np.float32)
    out[ok] = rows
    return out


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
        """Load, convert and resize every input, run the readable ones as one batch, read labels and
        heatmaps back: one entry per input, in order, a failed input's error in its place.

        explain_class: the class (index or label) whose relevance a gradrollout artifact returns,
        for every image; None explains each image's predicted class."""
        if not isinstance(top_k, int) or top_k < 1:
            raise ToolkitError(f"top_k must be a whole number >= 1 (got {top_k})")
        items = images if isinstance(images, (list, tuple)) else [images]
        loaded, error = self._read(items)
        ok = [i for i, e in enumerate(error) if e is None]
        batch = resize_batch([loaded[i] for i in ok], self.manifest.image_size, self.manifest.preprocessing["resample"])
        targets = None if explain_class is None else np.full(len(batch), self.class_index(explain_class))
        start = time.perf_counter()
        outputs = self.backend.run_batched(batch, targets) if len(batch) else {}
        seconds = time.perf_counter() - start
        labels = list(self.manifest.labels)
        probs = _in_place(outputs.get("probs", np.zeros((0, len(labels)), np.float32)), ok, len(items))
        heatmaps = self._heatmaps(outputs, ok, len(items))
        full = upsample_all(heatmaps[ok], [loaded[i].size for i in ok]) if heatmaps is not None else []
        return Prediction(
            sources=[describe(item, i) for i, item in enumerate(items)], labels=labels, probs=probs,
            heatmaps=heatmaps, heatmaps_full=self._full(full, ok, len(items)) if heatmaps is not None else [],
            images=loaded, seconds=seconds, error=error, top_k=[_top_k(p, labels, top_k) for p in probs],
            method=METHOD_NAMES.get(EXPLAIN[self.manifest.explain].heatmap or "", "attention rollout"))

    @staticmethod
    def _read(items: list) -> tuple[list[Image.Image | None], list[str | None]]:
        """Every input as an RGB image, or None and why it could not be read."""
        loaded, error = [], []
        for item in items:
            try:
                loaded.append(to_rgb(item))
                error.append(None)
            except ImageLoadError as e:
                loaded.append(None)
                error.append(str(e))
        return loaded, error

    def _heatmaps(self, outputs: dict[str, np.ndarray], ok: list[int], n: int) -> np.ndarray | None:
        """`(n, grid_h, grid_w)` maps in input order (NaN for failed inputs); None when the artifact has none."""
        if not self.explains:
            return None
        maps = self.heatmaps_from(outputs) if outputs else None
        if maps is None:  # no input was readable
            maps = np.zeros((0, *self.manifest.patch_grid), np.float32)
        return _in_place(maps, ok, n)

    @staticmethod
    def _full(maps: list[np.ndarray], ok: list[int], n: int) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None] * n
        for i, m in zip(ok, maps):
            out[i] = m
        return out


def _top_k(probs: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    """The `k` most likely (label, probability) of one row; [] for a failed input's NaN row."""
    if np.isnan(probs).any():
        return []
    return [(labels[j], float(probs[j])) for j in np.argsort(-probs)[:k]]


def keyword_options(function: F) -> F:
    """Refuse a keyword `function` does not take as the caller's mistake, in one line naming the
    nearest one it does take (`load(path, thread=2)`), before any work."""
    known = [name for name, p in inspect.signature(function).parameters.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty]

    @functools.wraps(function)
    def checked(*args, **kwargs):
        unknown = [name for name in kwargs if name not in known]
        if unknown:
            raise UnknownOption(*[f"{function.__name__}(): unknown option '{name}'{_did_you_mean(name, known)}"
                                  for name in unknown])
        return function(*args, **kwargs)
    return checked  # type: ignore[return-value]


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(known)}"


def backend_options(name: str) -> list[str]:
    """The keyword options backend `name` takes (read from its constructor: the one list)."""
    skip = {"self", "folder", "manifest"}
    return [p for p in inspect.signature(BACKENDS[name].__init__).parameters if p not in skip]


def _for_backend(name: str, options: dict) -> dict:
    """The options that were given (not None), refused when backend `name` does not take one."""
    given = {k: v for k, v in options.items() if v is not None}
    takes = backend_options(name)
    wrong = [k for k in given if k not in takes]
    if wrong:
        raise UnknownOption(*[f"option '{k}' is not one the {name} backend takes (it takes: "
                              f"{', '.join(takes) or 'none'}); '{k}' is for: "
                              f"{', '.join(b for b in BACKENDS if k in backend_options(b))}" for k in wrong])
    return given


@keyword_options
def load(source: str | Path, backend: str | None = None, *, threads: int | None = None,
         providers: list[str] | None = None, compute_units: str | None = None, reference: bool | None = None,
         precision: str | None = None, explain: str | None = None, revision: str | None = None) -> Predictor:
    """An export artifact folder (backend from its manifest), a checkpoint folder (`torch`), or a
    Hugging Face Hub repository `"org/name"` holding either (downloaded, every file checked against
    the manifest's SHA-256, cached; `revision`: a branch, tag or commit).

    Backend options, each for the backends that take it: threads (onnx, openvino), providers (onnx),
    compute_units and reference (coreml), precision (openvino's inference precision, f32), explain
    (torch: rollout, attentions, gradrollout, none). An option the chosen backend does not take is
    refused, as is an unknown keyword."""
    options = dict(threads=threads, providers=providers, compute_units=compute_units, reference=reference,
                   precision=precision, explain=explain)
    if backend is not None and backend not in BACKENDS:
        raise ArtifactError(f"unknown backend '{backend}'; known: {', '.join(BACKENDS)}")
    path = Path(source)
    if not path.exists():
        from .hub import download, is_hub_id

        if not is_hub_id(source):
            raise ArtifactError(f"'{source}' does not exist (and is not a hub id 'org/name')")
        path = download(str(source), revision)
        if path is None:  # a hub checkpoint without a manifest: transformers loads it
            return _checkpoint(str(source), backend, options)
    elif revision is not None:
        raise UnknownOption(f"option 'revision' is for a hub id 'org/name'; '{source}' is a local folder")
    if not (path / MANIFEST).is_file():
        return _checkpoint(path, backend, options)
    return _artifact(path, backend, options)


def _checkpoint(where: str | Path, backend: str | None, options: dict) -> Predictor:
    """A checkpoint folder or hub checkpoint: only the torch backend runs it."""
    if (backend or "torch") != "torch":
        raise ManifestError(f"'{where}' has no {MANIFEST}: only the torch backend runs a checkpoint folder")
    return Predictor(BACKENDS["torch"](where, **_for_backend("torch", options)))


def _artifact(path: Path, backend: str | None, options: dict) -> Predictor:
    """An export artifact: manifest read and checked, files verified, model loaded and checked against the manifest."""
    manifest = read_manifest(path)
    name = backend or FORMATS[manifest.format].backend
    if manifest.format not in BACKENDS[name].formats:
        raise ArtifactError(f"backend '{name}' cannot run a {manifest.format} artifact; "
                            f"use {', '.join(n for n, b in BACKENDS.items() if manifest.format in b.formats)}")
    given = _for_backend(name, options)
    verify_files(path, manifest)
    try:
        runner = BACKENDS[name](path, manifest, **given)
    except (ToolkitError, BackendUnavailable):
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
