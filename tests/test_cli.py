"""One error base and one CLI runner: user errors are one line and exit 2, bugs raise, libraries
are quiet unless --verbose."""
from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import warnings

import pytest

from _infra.cli import library_output, quiet_libraries, run_cli
from _infra.errors import ToolkitError

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
