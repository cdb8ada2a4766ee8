"""`manifest.json`: everything a runtime needs to run an exported model, and nothing to guess.

The contract lives here, with its reader; `export` writes it through `write_manifest`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from xai.errors import ToolkitError

from .contract import EXPLAIN_KINDS, HEATMAP_OUTPUTS, PRECISIONS, RESAMPLE_NAMES

MANIFEST = "manifest.json"
SCHEMA_VERSION = 3  # 2: optional class_input (gradrollout graphs); 3: model_sha256, fields validated


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
    model_sha256: str = ""  # of the model file, or of every file of a model folder (see `model_digest`)
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


def model_digest(path: Path) -> str:
    """SHA-256 of a model file, or of a model folder (an .mlpackage): every file's relative path
    and bytes, in sorted order. ~0.2 s for vit-base's 344 MB ONNX on one core."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def is_artifact_folder(folder: Path) -> bool:
    """A folder this toolkit exported: its manifest.json parses and names a format and model file
    (any schema version, so that an old artifact can still be replaced)."""
    try:
        raw = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
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
    resample = raw["preprocessing"].get("resample") if isinstance(raw["preprocessing"], dict) else None
    if resample not in RESAMPLE_NAMES:
        problems.append(f"preprocessing.resample {resample!r}; known: {', '.join(RESAMPLE_NAMES)}")
    labels = raw["labels"]
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(x, str) for x in labels):
        problems.append("labels must be a list of at least two class names")
    for name in ("patch_grid",):
        if not (isinstance(raw[name], list) and len(raw[name]) == 2 and all(isinstance(v, int) and v > 0 for v in raw[name])):
            problems.append(f"{name} must be two positive integers")
    for name in ("num_layers", "num_heads", "n_special_tokens"):
        if not isinstance(raw[name], int) or raw[name] < 1:
            problems.append(f"{name} must be a positive integer")
    attention = [n for n in raw["outputs"] if n.startswith("attention_")] if isinstance(raw["outputs"], dict) else []
    if explain == "attentions" and len(attention) != raw["num_layers"]:
        problems.append(f"{len(attention)} attention outputs for num_layers {raw['num_layers']}")
    if not (isinstance(raw.get("model_sha256"), str) and len(raw["model_sha256"]) == 64):
        problems.append("model_sha256 must be the model's SHA-256 (64 hex digits)")
    return problems


def read_manifest(folder: str | Path) -> Manifest:
    """Read and check `folder/manifest.json`; every problem is listed in one `ManifestError`."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{folder} has no {MANIFEST}: not an export artifact folder")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise ManifestError(f"{path} is not a JSON object")
    problems = field_problems(raw)
    if problems:
        raise ManifestError(*[f"{path}: {p}" for p in problems])
    manifest = Manifest(**raw)
    if not (Path(folder) / manifest.model_file).exists():
        raise ManifestError(f"{path}: model file '{manifest.model_file}' is missing")
    return manifest


def verify_model_file(folder: str | Path, manifest: Manifest) -> None:
    """Refuse a model file whose SHA-256 differs from the one the manifest recorded at export."""
    actual = model_digest(Path(folder) / manifest.model_file)
    if actual != manifest.model_sha256:
        raise ManifestError(f"{Path(folder) / manifest.model_file} has SHA-256 {actual[:12]}…, the manifest "
                            f"recorded {manifest.model_sha256[:12]}…: the model was changed after export; "
                            f"re-export it")


def build_manifest(checkpoint, fmt: str, precision: str, explain: str, facts: dict, versions: dict) -> Manifest:
    """The one way a manifest is made, for an export and for a checkpoint run directly.
    facts: model_file, input, outputs, class_input, normalisation, model_sha256 (what the writer knows)."""
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
        model_sha256=facts.get("model_sha256", ""))
