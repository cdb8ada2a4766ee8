"""Result folders of the commands that report (`bench`, `xai eval`, `runtime predict` and `compare`).

Each such folder holds one JSON file that says which command wrote it (`"written_by"`). Running the
same command into the same `--out` again replaces it (atomically, through `_infra.folders.replacing`)
without a flag: re-running a command into its default folder just works. Any other existing,
non-empty folder is a user's and is never touched (one line, exit 2). See README, "Output folders".
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator, Sequence

from .folders import read_marker, replacing

WRITTEN_BY = "written_by"  # the marker's key, in the folder's own results JSON


def written_by(marker: Path, command: str) -> bool:
    """Whether the JSON file `marker` (a regular file, read bounded) says `command` wrote it."""
    data = read_marker(Path(marker))
    try:
        raw = json.loads(data) if data is not None else None
    except (ValueError, RecursionError):
        return False
    return isinstance(raw, dict) and raw.get(WRITTEN_BY) == command


def path_sources(*candidates: str | Path | None) -> list[Path]:
    """The inputs that exist on disk: an output folder must never be one of them or hold one."""
    return [Path(c) for c in candidates if c is not None and str(c) and Path(c).exists()]


@contextlib.contextmanager
def result_folder(out: str | Path, marker: str, command: str, what: str,
                  sources: Sequence[str | Path] = ()) -> Iterator[Path]:
    """An empty folder to fill that replaces `out` when the block ends normally; `out` must be new,
    empty, or written earlier by `command` (its `marker` file says so). The caller writes `marker`
    with `{"written_by": command, ...}` into the folder."""
    out = Path(out)
    owned = lambda folder: written_by(folder / marker, command)  # noqa: E731
    with replacing(out, replace=True, owned=owned, what=what, flag="", sources=sources) as partial:
        yield partial
