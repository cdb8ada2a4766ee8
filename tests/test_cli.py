"""One error base and one CLI runner: user errors are one line and exit 2, bugs raise, libraries
are quiet unless --verbose."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
import inspect
import logging
import pkgutil
import warnings

import pytest

from _infra.cli import library_output, quiet_libraries, run_cli
from _infra.errors import ToolkitError

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = ("_infra", "finetune", "export", "runtime", "bench", "xai")
INTERNAL = {"AttentionCheckError", "UnsupportedOpError", "DuplicateName"}  # our own captures, executor and registries: bugs, not input


def user_error_classes() -> dict[str, type]:
    """Every exception class defined in a library module of ours."""
    found = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        names = [package] + [f"{package}.{m.name}" for m in pkgutil.walk_packages(module.__path__)
                             if not m.name.endswith("__main__") and "scenarios" not in m.name]
        for name in names:
            for cls_name, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
                if issubclass(cls, Exception) and cls.__module__.split(".")[0] in PACKAGES:
                    found[cls_name] = cls
    return found


def test_every_error_of_ours_is_a_toolkit_error():
    errors = user_error_classes()
    assert {"FinetuneError", "CheckpointError", "ManifestError", "ExportError", "BenchError", "EvalInputError",
            "OutputFolderError", "ImageLoadError", "BackendUnavailable", "ClassIndexError"} <= set(errors)
    stray = sorted(n for n, c in errors.items() if not issubclass(c, ToolkitError) and n not in INTERNAL)
    assert not stray, f"errors outside the one base: {stray}"


def test_run_cli_user_error_is_one_line_and_exit_2(capsys):
    def command():
        raise ToolkitError("first problem", "second problem")

    assert run_cli(command) == 2
    assert capsys.readouterr().err == "error: first problem; second problem\n"


def test_run_cli_lets_bugs_raise():
    def command():
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_cli(command)


def test_quiet_hides_library_warnings_and_logs_unless_verbose(capsys):
    def noisy():
        warnings.warn("tracer says hello", UserWarning)
        logging.getLogger("transformers").warning("library advice")
        with library_output():
            print("Converting PyTorch Frontend ==> MIL Ops: 100%")
        print("our result")
        return 0

    level = logging.getLogger("transformers").level
    assert run_cli(noisy) == 0
    assert logging.getLogger("transformers").level == level, "levels are restored afterwards"
    captured = capsys.readouterr()
    assert captured.out == "our result\n" and "advice" not in captured.err and "tracer" not in captured.err
    with pytest.warns(UserWarning):
        assert run_cli(noisy, verbose_output=True) == 0
    assert "Converting PyTorch Frontend" in capsys.readouterr().out
    with quiet_libraries(True):
        assert logging.getLogger("transformers").level == logging.ERROR


def test_every_extra_named_in_an_error_installs_that_package():
    """`_infra.extras.EXTRA_OF` against pyproject.toml: the extra it names really brings the package."""
    import re
    import tomllib

    from _infra.extras import EXTRA_OF, PACKAGE

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    def distributions(extra: str) -> set[str]:
        found = set()
        for requirement in extras[extra]:
            nested = re.fullmatch(rf"{PACKAGE}\[([\w,]+)\]", requirement)
            if nested:
                found |= {d for e in nested.group(1).split(",") for d in distributions(e)}
            else:
                found.add(re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower())
        return found

    wrong = {module: (dist, extra) for module, (dist, either) in EXTRA_OF.items() for extra in either.split("|")
             if extra not in extras or dist.lower() not in distributions(extra)}
    assert not wrong, wrong


BLOCKER = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):  # these packages are not installed, as in a base install
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {blocked}:
            raise ModuleNotFoundError(f"No module named '{{name}}'", name=name)
sys.meta_path.insert(0, Missing())
from {cli}.__main__ import main
sys.exit(main({argv}))
"""


def _without(blocked: set[str], cli: str, argv: list[str]):
    code = BLOCKER.format(blocked=sorted(blocked), cli=cli, argv=argv)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_the_serving_install_predicts_without_the_picture_stack(tmp_path, tiny_vit):
    """The base install (numpy, pillow, onnxruntime) serves an ONNX artifact from the CLI: rows,
    predictions.json and the pictures (drawn with Pillow); other stages name the exact install they need."""
    from PIL import Image

    from export import ExportConfig, export_model

    export_model(tiny_vit, tmp_path / "onnx", ExportConfig(parity_images=1))
    export_model(tiny_vit, tmp_path / "coreml", ExportConfig(format="coreml", parity_images=1))
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "photo.png")
    training_stack = {"matplotlib", "torch", "transformers", "coremltools", "scipy", "datasets", "onnx"}
    out = tmp_path / "p"
    served = _without(training_stack, "runtime", ["predict", str(tmp_path / "onnx"), str(tmp_path / "photo.png"),
                                                  "--out", str(out)])
    assert served.returncode == 0, served.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["000_photo_explain.png", "000_photo_probs.png", "predictions.json"]
    coreml = _without(training_stack, "runtime", ["predict", str(tmp_path / "coreml"), str(tmp_path / "photo.png"),
                                                  "--out", str(tmp_path / "c")])
    assert coreml.returncode == 2 and 'pip install "explainable-vit[coreml]"' in coreml.stderr, coreml.stderr[-2000:]
    export = _without(training_stack, "export", ["onnx", str(tiny_vit), "--out", str(tmp_path / "e")])
    assert export.returncode == 2 and 'pip install "explainable-vit[export]"' in export.stderr, export.stderr[-2000:]
    train = _without(training_stack, "finetune", ["--model", "demo", "--data", "digits", "--out", str(tmp_path / "f")])
    assert train.returncode == 2 and 'pip install "explainable-vit[train]"' in train.stderr, train.stderr[-2000:]
    for result in (served, coreml, export, train):
        assert "Traceback" not in result.stderr


# ------------------------------------------------------------------ pictures without matplotlib
def test_the_pillow_colour_table_is_matplotlibs_jet():
    """xai.overlay builds jet itself (the base install has no matplotlib); byte for byte what
    matplotlib's 8-bit lookup gives, at the table and on a map's values (0 and 1 included)."""
    import numpy as np
    from matplotlib import colormaps

    from xai.overlay import JET_TABLE, colourise

    assert np.array_equal(JET_TABLE, colormaps["jet"](np.linspace(0, 1, 256), bytes=True)[:, :3])
    values = np.concatenate([[0.0, 1.0, 0.5, 1 / 256, 255 / 256], np.random.default_rng(0).random(500)])
    assert np.array_equal(colourise(values), colormaps["jet"](values, bytes=True)[:, :3])
