"""Which install extra brings a module a command needs (pyproject.toml's optional dependencies), so
that a base install that meets a stage it lacks says what to install in one line, never a
ModuleNotFoundError traceback. `tests/test_cli.py` checks this table against pyproject.toml."""
from __future__ import annotations

from .errors import ToolkitError

PACKAGE = "explainable-vit"
EXTRA_OF = {  # top-level module -> (distribution, the extra that installs it; "a|b": either)
    "matplotlib": ("matplotlib", "plots"),
    "coremltools": ("coremltools", "coreml"),
    "scipy": ("scipy", "coreml"),
    "torch": ("torch", "export|train"),
    "transformers": ("transformers", "export|train"),
    "safetensors": ("safetensors", "export|train"),
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
    distribution, extras = EXTRA_OF[top]
    installs = " or ".join(f"'{PACKAGE}[{extra}]'" for extra in extras.split("|"))
    return MissingExtra(f"this needs {distribution}, which this install left out: pip install {installs}")
