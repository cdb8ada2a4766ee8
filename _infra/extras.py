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
    "gradio": ("gradio", "serve"),
    "quantus": ("quantus", "test"),  # the reference `bench scenario xai-quantus-speed` times ours beside
}


# what each extra brings besides its own packages (pyproject.toml's nesting), so a command can name
# its own extra when that extra covers the missing module
INCLUDES = {"export": {"coreml"}, "train": {"plots"}, "bench": {"export", "coreml", "train", "plots"},
            "all": {"bench", "export", "coreml", "train", "plots", "openvino", "serve"}}


def install_command(extra: str) -> str:
    """The exact command that installs `extra` (quoted: shells expand the brackets)."""
    return f'pip install "{PACKAGE}[{extra}]"'


class MissingExtra(ToolkitError):
    """A command needs a package this install left out: names one install, the command's own extra
    (`command_extra`) when it brings `module`, else the module's first extra."""

    def __init__(self, module: str, command_extra: str | None = None):
        distribution, extras = EXTRA_OF[module]
        options = extras.split("|")
        covered = command_extra is not None and ({command_extra} | INCLUDES.get(command_extra, set())) & set(options)
        self.module, self.extra = module, command_extra if covered else options[0]
        super().__init__(f"this needs {distribution}, which this install left out: {install_command(self.extra)}")

    def for_command(self, command_extra: str | None) -> "MissingExtra":
        """The same missing module, as the command whose extra is `command_extra` words it."""
        return MissingExtra(self.module, command_extra) if command_extra else self


def missing_extra(error: ModuleNotFoundError, command_extra: str | None = None) -> MissingExtra | None:
    """The one-line error for a module an extra provides (None: not one of ours to explain)."""
    top = (error.name or "").split(".")[0]
    return MissingExtra(top, command_extra) if top in EXTRA_OF else None
