"""Output folders that never lose a user's files; shared by every stage (xai is the bottom layer).

Rules (see the README, "Output folders"):
- an output folder is replaced only when this toolkit wrote it (`owned(folder)` says so), never
  when it is the current folder or one of its parents, or the source being read or a parent of it;
- the new content is written into a sibling `.NAME.partial-*` folder; the old folder is then moved
  aside (`.NAME.old-*`), the new one renamed in and the old one removed, so a kill at any point
  leaves the old or the new folder whole; the next writer restores or removes what a kill left;
- one writer per folder at a time: a lock (`.NAME.lock`, `flock`, released by the kernel if the
  process dies) makes a second writer fail with one line instead of both saying "wrote".
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import uuid
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import ToolkitError

KILL_AT_ENV = "EXPLAINABLE_VIT_KILL_AT"  # tests: SIGKILL this process at the named step of a replace


class OutputFolderError(ToolkitError):
    """An output folder that cannot be written or replaced safely."""


def crash_point(name: str) -> None:
    """Where a test asks for it (`EXPLAINABLE_VIT_KILL_AT=name`), die here as a real kill would."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _is_within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def destination_problems(out: Path, sources: Sequence[str | Path] = ()) -> list[str]:
    """Why `out` must never be written or replaced: a file, the current folder or a parent of it,
    a source being read or a parent of one. Empty when it is a possible output folder."""
    resolved, problems = Path(out).expanduser().resolve(), []
    if resolved.exists() and not resolved.is_dir():
        problems.append(f"--out '{out}' is a file, not a folder")
    if _is_within(Path.cwd().resolve(), resolved):
        problems.append(f"--out '{out}' is the current folder or a parent of it")
    try:
        home = Path.home().resolve()
    except RuntimeError:  # no home folder known (HOME unset and no passwd entry)
        home = None
    if resolved == Path(resolved.anchor) or resolved == home:
        problems.append(f"--out '{out}' is the file-system root or the home folder")
    for source in sources:
        src = Path(source).expanduser()
        if src.exists() and _is_within(src.resolve(), resolved):
            problems.append(f"--out '{out}' is the source '{source}' or a parent of it")
    return problems


def is_empty_dir(folder: Path) -> bool:
    return folder.is_dir() and not any(folder.iterdir())


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold `.NAME.lock` beside `out` for the block; a second holder fails at once, clearly."""
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputFolderError(f"another process (pid {holder}) is writing '{out}': wait for it to finish "
                                    f"or choose another --out") from None
        try:  # the holder before us may have removed the file after we opened it: lock the one on disk
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def recover(out: Path) -> None:
    """Undo what a killed writer left (call with the lock held): a folder moved aside while the
    new one was not yet in place is put back; every stale temporary is removed."""
    leftovers = sorted(out.parent.glob(f".{out.name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not out.exists() and leftovers:
        leftovers.pop().rename(out)
    for stale in [*leftovers, *out.parent.glob(f".{out.name}.partial-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def new_partial(out: Path) -> Path:
    """A fresh sibling folder for the new content, readable like any other output (not 0700)."""
    partial = out.parent / f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial.mkdir(parents=True)
    return partial


def swap_in(partial: Path, out: Path) -> None:
    """Old folder aside, new one in, old one removed: at every instant one of them is whole."""
    aside = None
    if out.exists():
        aside = out.parent / f".{out.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        out.rename(aside)
        crash_point("moved-aside")
    partial.rename(out)
    crash_point("swapped-in")
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def check_replaceable(out: Path, replace: bool, owned: Callable[[Path], bool], what: str, flag: str) -> None:
    """Refuse to overwrite an existing `out` unless asked, and never one this toolkit did not write."""
    if not out.exists() or is_empty_dir(out):
        return
    if not owned(out):
        raise OutputFolderError(f"'{out}' exists and is not {what} written by this toolkit: "
                                f"it is never replaced; choose another --out")
    if not replace:
        raise OutputFolderError(f"'{out}' already exists: pass {flag} to replace it")


@contextlib.contextmanager
def replacing(out: str | Path, *, replace: bool, owned: Callable[[Path], bool], what: str = "an output folder",
              flag: str = "--force", sources: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Write a new `out` safely: yields an empty sibling folder to fill; when the block ends normally
    it replaces `out` (see the module docstring); when it raises, `out` is untouched."""
    out = Path(out)
    problems = destination_problems(out, sources)
    if problems:
        raise OutputFolderError("; ".join(problems))
    with folder_lock(out):
        recover(out)
        check_replaceable(out, replace, owned, what, flag)
        partial = new_partial(out)
        try:
            yield partial
            crash_point("written")
            swap_in(partial, out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
