"""Export options: one frozen dataclass, and the registries every CLI choice comes from."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from _infra.errors import ToolkitError
from runtime.contract import CLASS_INPUT, DEFAULT_EXPLAIN, DEFAULT_PRECISION, EXPLAIN_KINDS, PRECISIONS  # noqa: F401 (re-exported)


class ExportError(ToolkitError):
    """An export that could not be made or did not pass its own checks."""


@dataclass(frozen=True)
class ExportConfig:
    format: str = "onnx"
    precision: str | None = None  # None: the format's default (onnx fp32, coreml fp16)
    explain: str = DEFAULT_EXPLAIN
    batch: int | None = None  # None: dynamic batch (ONNX); Core ML is exported for batch 1
    force: bool = False  # replace an existing output folder
    parity_images: int = 4
    opset: int = 18
    # Core ML model fields Xcode shows (author, licence, version); `--author` etc. are generated from
    # the `cli` metadata below, so a new field here is a new flag there
    author: str = field(default="explainable-vit", metadata={"cli": "coreml", "help": "Core ML author field"})
    license: str = field(default="same as the source checkpoint",
                         metadata={"cli": "coreml", "help": "Core ML license field"})
    version: str = field(default="1.0", metadata={"cli": "coreml", "help": "Core ML versionString field"})

    @property
    def resolved_precision(self) -> str:
        return self.precision or DEFAULT_PRECISION.get(self.format, "fp32")

    def problems(self) -> list[str]:
        """Every unknown or invalid option at once, with the known values."""
        out = []
        if self.format not in PRECISIONS:
            out.append(f"unknown format '{self.format}'; known: {', '.join(PRECISIONS)}")
        elif self.resolved_precision not in PRECISIONS[self.format]:
            out.append(f"unknown precision '{self.precision}' for {self.format}; known: "
                       f"{', '.join(PRECISIONS[self.format])}")
        if self.explain not in EXPLAIN_KINDS:
            out.append(f"unknown explanation '{self.explain}'; known: {', '.join(EXPLAIN_KINDS)}")
        if self.batch is not None and self.batch < 1:
            out.append("--batch must be >= 1 (or omitted for a dynamic batch)")
        if self.parity_images < 1:
            out.append("--parity-images must be >= 1")
        return out


def cli_fields(fmt: str) -> list:
    """The ExportConfig fields that become `--flags` of `python -m export FMT`."""
    return [f for f in fields(ExportConfig) if f.metadata.get("cli") == fmt]
