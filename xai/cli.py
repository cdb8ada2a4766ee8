"""What every `python -m STAGE` entry point shares: one runner that turns user errors into one line
and exit status 2, and quiet library output unless `--verbose`.

Quiet means: other libraries' warnings (TracerWarning, FutureWarning, ...) and INFO/WARNING log
records are hidden, and converter progress bars (coremltools) are swallowed by `library_output()`;
the toolkit's own progress bars and results stay."""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from typing import Callable, Iterator

from .errors import ToolkitError

LIBRARY_LOGGERS = ("transformers", "coremltools", "onnxruntime", "root", "torch", "accelerate", "datasets",
                   "optimum", "huggingface_hub", "openvino", "matplotlib", "PIL")
_verbose = False  # set by run_cli for the process


def verbose() -> bool:
    return _verbose


@contextlib.contextmanager
def quiet_libraries(enabled: bool = True) -> Iterator[None]:
    """Hide other libraries' warnings and log records below ERROR while the block runs."""
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(None if name == "root" else name) for name in LIBRARY_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


@contextlib.contextmanager
def library_output() -> Iterator[None]:
    """Around a call that prints its own progress (coremltools' conversion passes): swallowed unless
    `--verbose`; re-raised errors keep their message."""
    if _verbose:
        yield
        return
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        yield


def run_cli(command: Callable[[], int], verbose_output: bool = False) -> int:
    """Run an entry point's work: a `ToolkitError` is `error: ...` on stderr and exit 2, Ctrl-C exit
    130; every other exception is a bug and raises."""
    global _verbose
    _verbose = verbose_output
    try:
        with quiet_libraries(not verbose_output):
            return command()
    except ToolkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
