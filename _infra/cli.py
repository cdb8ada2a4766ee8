"""What every `python -m STAGE` entry point shares: one runner that turns user errors into one line
and exit status 2, and quiet library output unless `--verbose`.

Quiet means: other libraries' warnings (TracerWarning, FutureWarning, ...) and INFO/WARNING log
records are hidden, and converter progress bars (coremltools) are swallowed by `library_output()`;
the toolkit's own progress bars and results stay."""
from __future__ import annotations

import argparse
import contextlib
import difflib
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


def run_cli(command: Callable[[], int], verbose_output: bool = False, extra: str | None = None) -> int:
    """Run an entry point's work: a `ToolkitError` is `error: ...` on stderr and exit 2, Ctrl-C exit
    130; every other exception is a bug and raises. `extra`: the install extra the command belongs
    to, named when a module it brings is missing."""
    global _verbose
    _verbose = verbose_output
    try:
        with quiet_libraries(not verbose_output):
            return command()
    except ToolkitError as e:
        from .extras import MissingExtra

        print(f"error: {e.for_command(extra) if isinstance(e, MissingExtra) else e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:  # a stage this install's extras left out: say which extra brings it
        from .extras import missing_extra

        if missing_extra(e, extra) is None:
            raise
        print(f"error: {missing_extra(e, extra)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------------------- parsers
# Every entry point builds its parser from these, so `python -m STAGE` and `evit STAGE` (the same
# parsers) read alike: each default said once, "did you mean" for a near miss, one list syntax.
VERBOSE_HELP = "show other libraries' warnings, logs and converter progress"
FORCE_HELP = "replace an existing --out that this command wrote (never a folder the toolkit did not write)"


def did_you_mean(value: str, known) -> str:
    """' (did you mean 'x'?)' for the closest known name, or '' when none is close."""
    close = difflib.get_close_matches(str(value), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(what: str, value: str, known) -> str:
    """The one-line problem for a name not in `known`: the near miss first, then every known name."""
    return f"unknown {what} '{value}'{did_you_mean(value, known)}; known: {', '.join(map(str, known))}"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that says each default once: '(default: X)' is added only when the help does not
    already speak of a default and X is a value (never None, False or an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or action.required or not action.option_strings or default is argparse.SUPPRESS
                or default is None or default is False or default == []):
            return text
        return f"{text} (default: %(default)s)"

    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if isinstance(action, CommaList):  # one comma list, not argparse's "A [A ...]"
            return self._metavar_formatter(action, default_metavar)(1)[0]
        return super()._format_args(action, default_metavar)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the toolkit's help formatter and a "did you mean" for a near-miss choice or
    subcommand (`--precision fp61`, `evit exprot`); errors stay one usage line and exit 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def _check_value(self, action: argparse.Action, value) -> None:
        if action.choices is not None and value not in action.choices:
            known = ", ".join(repr(c) for c in action.choices)
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{did_you_mean(value, action.choices)}; "
                                                 f"choose from {known}")

    def error(self, message: str):
        """One line and exit 2 (argparse's usage block is for --help)."""
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class CommaList(argparse.Action):
    """A list option in the toolkit's one syntax, `--opt a,b`; the space-separated `--opt a b` of
    earlier versions still works. `known=`: refuse a name outside it, with "did you mean"."""

    def __init__(self, option_strings, dest, known=None, **kwargs):
        kwargs.setdefault("nargs", "+")
        kwargs.setdefault("metavar", "A,B")
        super().__init__(option_strings, dest, **kwargs)
        self.known = known

    def __call__(self, parser, namespace, values, option_string=None):
        names = split_list(values)
        if not names or "" in names:
            raise argparse.ArgumentError(self, f"empty name in {','.join(values)!r}")
        if self.known is not None:
            unknown = [n for n in names if n not in self.known]
            if unknown:
                what = self.dest.replace("_", " ").removesuffix("s")
                raise argparse.ArgumentError(self, "; ".join(unknown_name(what, n, self.known) for n in unknown))
        setattr(namespace, self.dest, names)


def split_list(values: str | list[str]) -> list[str]:
    """`'a,b'` or `['a,b', 'c']` -> `['a', 'b', 'c']`, each name stripped."""
    values = [values] if isinstance(values, str) else values
    return [part.strip() for value in values for part in value.split(",")]


def named_or_path(known, what: str) -> Callable[[str], str]:
    """argparse type for a free-form source (a folder, a hub id `org/name`, or a built-in name in
    `known`): a value that is none of those but close to a built-in name is refused with "did you
    mean" (`--data digts`), instead of failing later as a hub lookup."""
    def parse(text: str) -> str:
        from pathlib import Path

        if text in known or "/" in text or Path(text).expanduser().exists() or not did_you_mean(text, known):
            return text
        raise argparse.ArgumentTypeError(f"unknown {what} '{text}'{did_you_mean(text, known)}: not a folder, "
                                         f"a hub id (org/name) or a built-in name ({', '.join(known)})")
    return parse


def add_common(parser: argparse.ArgumentParser, out_help: str, force_help: str = FORCE_HELP) -> None:
    """The options every command has, meaning the same everywhere: --out (required), --force, --verbose."""
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("--force", action="store_true", help=force_help)
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)


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
