"""`manifest.json`: everything a runtime needs to run an exported model, and nothing to guess.

The contract lives here, with its reader; `export` writes it through `write_manifest`.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

MANIFEST = "manifest.json"
SCHEMA_VERSION = 2  # 2: optional class_input (gradrollout graphs)


class ManifestError(ValueError):
    """A manifest that is missing, malformed, or disagrees with its model; lists every problem."""

    def __init__(self, *problems: str):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


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
    parity: dict = field(default_factory=dict)
    class_input: dict = field(default_factory=dict)  # gradrollout graphs: the `target` input (name, dtype, shape)
    schema_version: int = SCHEMA_VERSION

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.preprocessing["resize"])

    @property
    def heatmap_output(self) -> str | None:
        """The output that holds the explanation map, if the graph computes one."""
        return next((name for name in ("relevance", "rollout") if name in self.outputs), None)


def write_manifest(manifest: Manifest, folder: str | Path) -> Path:
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps(asdict(manifest), indent=2))
    return path


def read_manifest(folder: str | Path) -> Manifest:
    """Read and check `folder/manifest.json`; every problem is listed in one `ManifestError`."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{folder} has no {MANIFEST}: not an export artifact folder")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path} is not valid JSON: {e}") from e
    problems = [f"missing field '{f.name}'" for f in fields(Manifest)
                if f.name not in raw and f.default is MISSING and f.default_factory is MISSING]
    problems += [f"unknown field '{k}'" for k in raw if k not in {f.name for f in fields(Manifest)}]
    if problems:
        raise ManifestError(*[f"{path}: {p}" for p in problems])
    manifest = Manifest(**raw)
    if not (Path(folder) / manifest.model_file).exists():
        raise ManifestError(f"{path}: model file '{manifest.model_file}' is missing")
    return manifest
