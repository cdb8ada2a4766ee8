"""Which install extra brings a module a command needs (pyproject.toml's optional dependencies), so
that a base install that meets a stage it lacks says what to install in one line, never a
ModuleNotFoundError traceback. `tests/test_cli.py` checks this table against pyproject.toml."""
from __future__ import annotations

from .errors import ToolkitError

PACKAGE = "explainable-vit"
EXTRA_OF = {  # top-level module -> (distribution, the extra that installs it)
    "matplotlib": ("matplotlib", "plots"),
    "coremltools": ("coremltools", "coreml"),
    "scipy": ("scipy", "coreml"),
    "torch": ("torch", "export"),
    "transformers": ("transformers", "export"),
    "safetensors": ("safetensors", "export"),
    "onnx": ("onnx", "export"),
    "onnxscript": ("onnxscript", "export"),
    "accelerate": ("accelerate", "train"),
    "datasets": ("datasets", "train"),
    "sklearn": ("scikit-learn", "train"),
    "tqdm": ("tqdm", "train"),
    "optimum": ("optimum-onnx", "bench"),
    "openvino": ("openvino", "openvino"),
}


class MissingExtra(ToolkitError):
    """A command needs a package this install left out."""


def missing_extra(error: ModuleNotFoundError) -> MissingExtra | None:
    """The one-line error for a module an extra provides (None: not one of ours to explain)."""
    top = (error.name or "").split(".")[0]
    if top not in EXTRA_OF:
        return None
    distribution, extra = EXTRA_OF[top]
    return MissingExtra(f"this needs {distribution}, which this install left out: "
                        f"pip install '{PACKAGE}[{extra}]'")
