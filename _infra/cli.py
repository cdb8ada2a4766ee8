"""What every `python -m STAGE` entry point shares: one runner that turns user errors into one line
and exit status 2, and quiet library output unless `--verbose`.

Quiet means: other libraries' warnings (TracerWarning, FutureWarning, ...) and INFO/WARNING log
records are hidden, and converter progress bars (coremltools) are swallowed by `library_output()`;
the toolkit's own progress bars and results stay."""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import sys
import warnings
from typing import Callable, Iterator

from .errors import ToolkitError, first_line

LIBRARY_LOGGERS = ("transformers", "coremltools", "onnxruntime", "root", "torch", "accelerate", "datasets",
                   "optimum", "huggingface_hub", "openvino", "matplotlib", "PIL")
_verbose = False  # set by run_cli for the process


def verbose() -> bool:
    return _verbose


@contextlib.contextmanager
def quiet_libraries(enabled: bool = True, below: int = logging.ERROR) -> Iterator[None]:
    """Hide other libraries' warnings and log records below `below` (ERROR) while the block runs."""
    if not enabled:
        yield
        return
    loggers = [logging.getLogger(None if name == "root" else name) for name in LIBRARY_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(max(below, lg.getEffectiveLevel()))
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


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """Around a third-party reader (datasets, pyarrow, PIL): what it raises for a corrupt or
    unexpected file (ValueError, OSError) becomes one user error naming `what`, and the reader's own
    error log records are hidden unless `--verbose` (the error says it once); ours pass through."""
    try:
        with quiet_libraries(not _verbose, below=logging.CRITICAL):
            yield
    except ToolkitError:
        raise
    except (ValueError, OSError) as e:
        raise ToolkitError(f"{what} could not be read: {type(e).__name__}: {first_line(e)}") from e


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
    except ModuleNotFoundError as e:  # a stage this install's extras left out: say which extra brings it
        from .extras import missing_extra

        if missing_extra(e) is None:
            raise
        print(f"error: {missing_extra(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


# argparse types shared by the entry points: a bad value is refused before any work, never accepted
# silently (float("nan") parses, and a comparison with nan is always False)
def fraction(text: str) -> float:
    """argparse type: a finite number in 0..1 (an accuracy, a share)."""
    value = _finite(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (got {text})")
    return value


def positive_number(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
    return value


def whole_number(minimum: int) -> Callable[[str], int]:
    """argparse type: a whole number >= `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum} (got {value})")
        return value
    return parse


seed = whole_number(0)  # numpy's generators refuse negative seeds


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {text})")
    return value
