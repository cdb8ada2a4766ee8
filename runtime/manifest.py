"""`manifest.json`: everything a runtime needs to run an exported model, and nothing to guess.

The contract lives here, with its reader; `export` writes it through `write_manifest`.
"""
from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from _infra.errors import ToolkitError
from _infra.folders import read_marker

from .contract import (CLASS_INPUT, EXPLAIN, EXPLAIN_KINDS, HEATMAP_OUTPUTS, PRECISIONS, RESAMPLE_NAMES,
                       artifact_output_names)
from .seal import kind_of, record_problems, seal, seal_problems

MANIFEST = "manifest.json"
# 2: optional class_input (gradrollout graphs); 3: model_sha256, fields validated; 4: `files` seals every
# file of the model (size and SHA-256) instead of one hash, every field validated against the contract
SCHEMA_VERSION = 4
MAX_MANIFEST_BYTES = 8 << 20  # an ImageNet-21k label list is ~0.5 MB; anything far larger is not ours
INPUT_FORMS = {"onnx": ("uint8", "NHWC"), "coreml": ("image", "NCHW")}  # format -> (input dtype, layout)
CLASS_DTYPES = ("int64", "int32")


class ArtifactError(ToolkitError):
    """An artifact folder that cannot be used: unreadable model, wrong hash, manifest problems."""


class ManifestError(ArtifactError):
    """A manifest that is missing, malformed, or disagrees with its model; lists every problem."""


@dataclass(frozen=True)
class Manifest:
    format: str  # "onnx" | "coreml"
    model_file: str  # relative to the artifact folder
    precision: str  # "fp32" | "fp16" | "int8"
    explain: str  # "rollout" | "attentions" | "none"
    labels: list[str]
    input: dict  # name, dtype, layout, shape (None = dynamic), color
    preprocessing: dict  # resize [H, W], resample, mean, std, where the normalisation happens
    outputs: dict  # name -> {"shape": [...], "dtype": str}
    patch_grid: list[int]  # [grid_h, grid_w]
    n_special_tokens: int  # 1 (CLS) or 2 (CLS + distillation)
    num_layers: int
    num_heads: int
    source: dict  # checkpoint, sha256, model_type
    versions: dict
    files: dict = field(default_factory=dict)  # every file of the model: relative path -> {"size", "sha256"}
    parity: dict = field(default_factory=dict)
    class_input: dict = field(default_factory=dict)  # gradrollout graphs: the `target` input (name, dtype, shape)
    schema_version: int = SCHEMA_VERSION

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.preprocessing["resize"])

    @property
    def heatmap_output(self) -> str | None:
        """The output that holds the explanation map, if the graph computes one."""
        return next((name for name in HEATMAP_OUTPUTS if name in self.outputs), None)


def write_manifest(manifest: Manifest, folder: str | Path) -> Path:
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps(asdict(manifest), indent=2))
    return path


def seal_model(folder: str | Path, model_file: str) -> dict[str, dict]:
    """The manifest's `files`: size and SHA-256 of every file of the model (and, for an ONNX graph,
    its external data files beside it: every other file of the folder but the manifest)."""
    folder = Path(folder)
    names = [model_file] + sorted(n for n in os.listdir(folder) if n not in (model_file, MANIFEST)
                                  and not n.startswith(".") and not (folder / model_file).is_dir())
    return seal(folder, names)


def is_artifact_folder(folder: Path) -> bool:
    """A folder this toolkit exported: its manifest.json parses and names a format and model file
    (any schema version, so that an old artifact can still be replaced)."""
    data = read_marker(Path(folder) / MANIFEST, MAX_MANIFEST_BYTES)
    try:
        raw = json.loads(data) if data is not None else None
    except (ValueError, RecursionError):
        return False
    return isinstance(raw, dict) and {"format", "model_file", "schema_version"} <= set(raw)


def field_problems(raw: dict) -> list[str]:
    """Every field that is missing, unknown, of the wrong kind or outside its registry."""
    names = {f.name for f in fields(Manifest)}
    problems = [f"missing field '{f.name}'" for f in fields(Manifest)
                if f.name not in raw and f.default is MISSING and f.default_factory is MISSING]
    problems += [f"unknown field '{k}'" for k in raw if k not in names]
    version = raw.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        problems.append(f"schema_version {version!r}; this runtime reads {SCHEMA_VERSION}: "
                        + ("re-export the model with this version" if isinstance(version, int) and
                           version < SCHEMA_VERSION else "upgrade explainable-vit"))
        return problems
    if problems:
        return problems
    if not all(isinstance(raw[k], str) for k in ("format", "precision", "explain")):
        return ["format, precision and explain must be names"]
    model_file = raw["model_file"]
    if (not isinstance(model_file, str) or model_file in ("", ".", "..") or "/" in model_file
            or "\\" in model_file or Path(model_file).is_absolute()):
        problems.append(f"model_file {model_file!r} must be a plain file name inside the artifact folder")
    fmt, precision, explain = raw["format"], raw["precision"], raw["explain"]
    if fmt not in PRECISIONS:
        problems.append(f"format {fmt!r}; known: {', '.join(PRECISIONS)}")
    elif precision not in PRECISIONS[fmt]:
        problems.append(f"precision {precision!r} for {fmt}; known: {', '.join(PRECISIONS[fmt])}")
    if explain not in EXPLAIN_KINDS:
        problems.append(f"explain {explain!r}; known: {', '.join(EXPLAIN_KINDS)}")
    problems += shape_problems(raw) + io_problems(raw)
    problems += [f"files: {p}" for p in record_problems(raw.get("files"))]  # a default, but never empty
    return problems


def _finite_numbers(value, n: int, positive: bool = False) -> bool:
    return (isinstance(value, list) and len(value) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and (v > 0 or not positive) for v in value))


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def shape_problems(raw: dict) -> list[str]:
    """Labels, grid, sizes, token counts, preprocessing numbers: kinds and ranges."""
    problems = []
    labels = raw["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) and x for x in labels):
        problems.append("labels must be a list of at least two non-empty class names")
    elif len(set(labels)) != len(labels):
        twice = sorted({x for x in labels if labels.count(x) > 1})
        problems.append(f"labels must be unique; named more than once: {', '.join(map(repr, twice[:5]))}")
    if not (isinstance(raw["patch_grid"], list) and len(raw["patch_grid"]) == 2
            and all(_positive_int(v) for v in raw["patch_grid"])):
        problems.append("patch_grid must be two positive integers")
    for name in ("num_layers", "num_heads"):
        if not _positive_int(raw[name]):
            problems.append(f"{name} must be a positive integer")
    if raw["n_special_tokens"] not in (1, 2) or isinstance(raw["n_special_tokens"], bool):
        problems.append(f"n_special_tokens {raw['n_special_tokens']!r}; a ViT has 1 (CLS), a DeiT 1 or 2 (CLS + "
                        f"distillation)")
    pre = raw["preprocessing"]
    if not isinstance(pre, dict):
        return problems + ["preprocessing must be an object"]
    if pre.get("resample") not in RESAMPLE_NAMES:
        problems.append(f"preprocessing.resample {pre.get('resample')!r}; known: {', '.join(RESAMPLE_NAMES)}")
    if not (isinstance(pre.get("resize"), list) and len(pre["resize"]) == 2 and all(_positive_int(v) for v in pre["resize"])):
        problems.append("preprocessing.resize must be two positive integers [H, W]")
    if not _finite_numbers(pre.get("mean"), 3):
        problems.append("preprocessing.mean must be three finite numbers")
    if not _finite_numbers(pre.get("std"), 3, positive=True):
        problems.append("preprocessing.std must be three finite numbers > 0")
    return problems


def io_problems(raw: dict) -> list[str]:
    """The image input, the class input and the outputs against the format's and explain kind's contract."""
    fmt, problems = raw["format"], []
    spec, resize = raw["input"], raw["preprocessing"].get("resize") if isinstance(raw["preprocessing"], dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec.get("name"):
        return ["input must be an object with a name"]
    dtype, layout = INPUT_FORMS.get(fmt, (None, None))
    if dtype and (spec.get("dtype"), spec.get("layout")) != (dtype, layout):
        problems.append(f"input dtype/layout {spec.get('dtype')!r}/{spec.get('layout')!r}; a {fmt} graph takes "
                        f"{dtype}/{layout}")
    shape, batch = spec.get("shape"), None
    if not (isinstance(shape, list) and len(shape) == 4):
        problems.append("input.shape must have four dimensions")
    else:
        batch = shape[0]
        if batch is not None and not _positive_int(batch):
            problems.append(f"input batch {batch!r} must be a positive integer (or null: dynamic)")
        image = shape[1:3] if layout == "NHWC" else shape[2:4]
        channels = shape[3] if layout == "NHWC" else shape[1]
        if channels != 3 or (isinstance(resize, list) and list(image) != list(resize)):
            problems.append(f"input.shape {shape} does not take RGB images of preprocessing.resize {resize}")
    problems += class_input_problems(raw.get("class_input", {}), raw["explain"], batch)
    problems += output_problems(raw, batch)
    return problems


def class_input_problems(spec, explain: str, batch) -> list[str]:
    """A gradrollout graph's `target` input, and no class input on any other graph."""
    if explain not in EXPLAIN:
        return []  # an unknown kind is reported by itself
    if not EXPLAIN[explain].class_input:
        return [] if spec == {} else [f"class_input given for explain '{explain}': only gradrollout graphs "
                                      f"take a class"]
    if not (isinstance(spec, dict) and spec.get("name") == CLASS_INPUT and spec.get("dtype") in CLASS_DTYPES
            and spec.get("shape") == [batch] and spec.get("predicted") == -1):
        return [f"class_input must be {{name '{CLASS_INPUT}', dtype {' or '.join(CLASS_DTYPES)}, shape [batch], "
                f"predicted -1}}"]
    return []


def output_problems(raw: dict, batch) -> list[str]:
    """Output names as the format and explain kind give them; each a {shape, dtype} spec."""
    outputs = raw["outputs"]
    if not isinstance(outputs, dict):
        return ["outputs must be an object"]
    problems = []
    if raw["format"] in PRECISIONS and raw["explain"] in EXPLAIN_KINDS and _positive_int(raw["num_layers"]):
        expected = artifact_output_names(raw["format"], raw["explain"], raw["num_layers"])
        if set(outputs) != expected:
            problems.append(f"outputs {sorted(outputs)}; {raw['format']} {raw['explain']} graphs of "
                            f"{raw['num_layers']} layers have {sorted(expected)}")
    for name, spec in outputs.items():
        if not (isinstance(spec, dict) and isinstance(spec.get("dtype"), str) and isinstance(spec.get("shape"), list)
                and all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in spec["shape"])):
            problems.append(f"outputs[{name!r}] must be {{\"shape\": [sizes or null], \"dtype\": name}}")
        elif len(spec["shape"]) > 1 and spec["shape"][0] != batch:
            problems.append(f"outputs[{name!r}] batch {spec['shape'][0]!r} differs from the input's {batch!r}")
    return problems


def read_manifest(folder: str | Path) -> Manifest:
    """Read and check `folder/manifest.json`; every problem is listed in one `ManifestError`."""
    path = Path(folder) / MANIFEST
    text = _read_bounded(path, folder)
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from None
    except RecursionError:
        raise ManifestError(f"{path} is nested too deeply to be a manifest") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{path} is not a JSON object")
    problems = field_problems(raw)
    if problems:
        raise ManifestError(*[f"{path}: {p}" for p in problems])
    manifest = Manifest(**raw)
    if not os.path.lexists(Path(folder) / manifest.model_file):
        raise ManifestError(f"{path}: model file '{manifest.model_file}' is missing")
    return manifest


def _read_bounded(path: Path, folder) -> bytes:
    """The manifest's bytes: a regular file of at most MAX_MANIFEST_BYTES, never through a link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise ManifestError(f"{folder} has no {MANIFEST}: not an export artifact folder") from None
    except OSError as e:
        raise ManifestError(f"{path} cannot be read ({e.strerror or e})") from None
    if not stat.S_ISREG(mode):
        raise ManifestError(f"{path} is {kind_of(mode)}; a manifest is a regular file of the artifact")
    text = read_marker(path, MAX_MANIFEST_BYTES)
    if text is None:
        raise ManifestError(f"{path} is larger than {MAX_MANIFEST_BYTES >> 20} MiB: not a manifest this toolkit wrote")
    return text


def verify_files(folder: str | Path, manifest: Manifest) -> None:
    """Refuse an artifact whose files are not those sealed at export: links, special files, other
    sizes or contents, extra files inside the model folder (`runtime.seal`); every problem at once."""
    problems = seal_problems(Path(folder), manifest.model_file, manifest.files)
    if problems:
        raise ArtifactError(*problems, "re-export the model, or copy the artifact folder whole")


def build_manifest(checkpoint, fmt: str, precision: str, explain: str, facts: dict, versions: dict) -> Manifest:
    """The one way a manifest is made, for an export and for a checkpoint run directly.
    facts: model_file, input, outputs, class_input, normalisation, files (what the writer knows)."""
    config = checkpoint.model.config
    return Manifest(
        format=fmt, model_file=facts["model_file"], precision=precision, explain=explain,
        labels=list(checkpoint.labels), input=facts["input"],
        preprocessing={"resize": list(checkpoint.image_size), "resample": checkpoint.resample,
                       "mean": list(checkpoint.mean), "std": list(checkpoint.std),
                       "normalisation": facts.get("normalisation", "inside the graph")},
        outputs=facts["outputs"], patch_grid=list(checkpoint.patch_grid),
        n_special_tokens=checkpoint.n_special_tokens, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        source={"checkpoint": checkpoint.source, "sha256": checkpoint.sha256, "model_type": config.model_type,
                "architecture": type(checkpoint.model).__name__},
        versions=versions, parity={}, class_input=facts.get("class_input", {}),
        files=facts.get("files", {}))
