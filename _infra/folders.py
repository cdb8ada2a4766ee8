"""Output folders that never lose a user's files; shared by every stage.

Rules (see the README, "Output folders"):
- an output folder is replaced only when this toolkit wrote it (`owned(folder)` says so), never
  when it is the current folder or one of its parents, or the source being read or a parent of it,
  and never through a symbolic link: `--out` itself, its lock file and every leftover beside it
  are looked at with `lstat`, and a link there is refused (or, for our own leftovers, unlinked);
- the new content is written into a sibling `.NAME.partial-*` folder made by `mkdtemp` (a name no
  one can plant in advance); the old folder is then moved aside (`.NAME.old-*`), the new one
  renamed in and the old one removed, so a kill at any point leaves the old or the new folder
  whole; the next writer restores or removes what a kill left;
- one writer per folder at a time: a lock (`.NAME.lock`, `filelock`: `flock` on POSIX, released by
  the kernel if the process dies, `msvcrt` on Windows; never opened through a link) makes a second
  writer fail with one line instead of both saying "wrote".
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import ToolkitError

KILL_AT_ENV = "EXPLAINABLE_VIT_KILL_AT"  # tests: SIGKILL this process at the named step of a replace
PARTIAL, OLD = "partial", "old"  # the kinds of sibling a replace leaves while it runs


class OutputFolderError(ToolkitError):
    """An output folder that cannot be written or replaced safely."""


def crash_point(name: str) -> None:
    """Where a test asks for it (`EXPLAINABLE_VIT_KILL_AT=name`), die here as a real kill would."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _is_within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def destination_problems(out: Path, sources: Sequence[str | Path] = ()) -> list[str]:
    """Why `out` must never be written or replaced: a link, a file, the current folder or a parent
    of it, a source being read or a parent of one. Empty when it is a possible output folder."""
    if str(out) == "":
        return ["--out is empty: name a folder"]
    if Path(out).is_symlink():
        return [f"--out '{out}' is a symbolic link (to '{os.readlink(out)}'): give the folder itself"]
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
    return is_real_dir(folder) and not any(folder.iterdir())


def is_real_dir(path: Path) -> bool:
    """A folder, not a link to one (`lstat`)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def links_in(folder: Path) -> list[Path]:
    """Every symbolic link under `folder` (not followed): what a run must never write through."""
    found = []
    for root, dirs, files in os.walk(folder):
        found += [Path(root, name) for name in [*dirs, *files] if os.path.islink(os.path.join(root, name))]
    return found


def remove(path: Path) -> None:
    """Delete `path` without following a link: a link or file is unlinked, a folder removed whole."""
    if is_real_dir(path):
        shutil.rmtree(path, ignore_errors=True)  # rmtree never follows links inside (fd-based on POSIX)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def read_marker(path: Path, limit: int = 8 << 20) -> bytes | None:
    """The bytes of a small regular file we may have written (a manifest, a results JSON), or None:
    never through a link, never past `limit` bytes (a planted `/dev/zero` or FIFO cannot stall us)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, limit + 1)
        return data if len(data) <= limit else None
    finally:
        os.close(fd)


def make_parent(out: Path) -> Path:
    """The folder `out` is written in, created when missing; unwritable -> one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        parent = out.absolute().parent
        blocking = next((p for p in (parent, *parent.parents) if p.exists() and not p.is_dir()), parent)
        raise OutputFolderError(f"cannot create '{out}': '{blocking}' is a file, not a folder") from None
    except OSError as e:
        raise OutputFolderError(f"cannot create the folder of '{out}': {e.strerror or e}") from None
    if not os.access(out.parent, os.W_OK | os.X_OK):
        raise OutputFolderError(f"cannot write in '{out.parent}' (permission denied): choose another --out")
    return out.parent


@contextlib.contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold `.NAME.lock` beside `out` for the block; a second holder fails at once, clearly. The lock
    file is never opened through a link, never truncated or written, and stays (waiters share it)."""
    from filelock import FileLock, Timeout

    out = Path(out)
    lock_path = make_parent(out) / f".{out.name}.lock"
    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(lock_path).st_mode
        if not stat.S_ISREG(mode):
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
            raise OutputFolderError(f"the lock file '{lock_path}' is {kind}, which this toolkit never makes: "
                                    f"remove it and try again")
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise OutputFolderError(f"another process is writing '{out}': wait for it to finish or choose "
                                f"another --out") from None
    except OSError as e:
        raise OutputFolderError(f"cannot lock '{out}' ({lock_path}: {e.strerror or e})") from None
    try:
        yield
    finally:
        lock.release()


def siblings(out: Path, kind: str) -> list[Path]:
    """The `.NAME.KIND-*` entries beside `out` (listed, not globbed: NAME may hold `[` or `*`)."""
    prefix = f".{out.name}.{kind}-"
    try:
        names = os.listdir(out.parent)
    except OSError:
        return []
    return [out.parent / n for n in names if n.startswith(prefix)]


def recover(out: Path, owned: Callable[[Path], bool] | None = None, keep: Sequence[str] = ()) -> None:
    """Undo what a killed writer left (call with the lock held): a folder moved aside while the new
    one was not yet in place is put back (a real folder `owned` accepts, never a link); every other
    leftover is removed, a link by unlinking it. Partial folders whose kind starts with one of
    `keep` stay (finetune resumes an interrupted replacement from its own)."""
    out = Path(out)
    aside = siblings(out, OLD)
    restorable = sorted((p for p in aside if is_real_dir(p) and (owned is None or owned(p))),
                        key=lambda p: os.lstat(p).st_mtime)
    if not os.path.lexists(out) and restorable:
        back = restorable.pop()
        back.rename(out)
        aside.remove(back)
    kept = tuple(f".{out.name}.{PARTIAL}-{k}" for k in keep)
    partials = [p for p in siblings(out, PARTIAL) if not (kept and p.name.startswith(kept))]
    for stale in [*aside, *partials]:
        remove(stale)


def file_modes() -> tuple[int, int]:
    """(folder, file) permission bits a new output gets here: 0o777 / 0o666 less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask, 0o666 & ~umask


def make_readable(folder: Path) -> None:
    """Give every folder and file under `folder` the modes a plain `mkdir`/`open` would (writers such
    as `mkdtemp`, coremltools and safetensors leave 0700 folders and 0600 files); links untouched."""
    dir_mode, file_mode = file_modes()
    for root, dirs, files in os.walk(folder):
        for name, mode in [*((d, dir_mode) for d in dirs), *((f, file_mode) for f in files)]:
            _chmod(os.path.join(root, name), mode)
    _chmod(folder, dir_mode)


def _chmod(path: str, mode: int) -> None:
    """`mode` for a file or folder that lacks it; never a link, never a needless change (a chmod moves
    the file's status-change time, which `runtime.seal` remembers verified files by)."""
    st = os.lstat(path)
    if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def new_partial(out: Path, kind: str = PARTIAL) -> Path:
    """A fresh sibling folder for the new content under a name no one can predict (`mkdtemp`),
    readable like any other output (not 0700)."""
    try:
        partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.{kind}-", dir=make_parent(out)))
    except OSError as e:
        raise OutputFolderError(f"cannot write in '{out.parent}': {e.strerror or e}") from None
    os.chmod(partial, file_modes()[0])
    return partial


def swap_in(partial: Path, out: Path) -> None:
    """Old folder aside, new one in, old one removed: at every instant one of them is whole."""
    aside = None
    if os.path.lexists(out):
        aside = out.parent / f".{out.name}.{OLD}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(out, aside)  # a link planted at `out` meanwhile moves as a link, its target untouched
        crash_point("moved-aside")
    partial.rename(out)
    crash_point("swapped-in")
    if aside is not None:
        remove(aside)


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
        raise OutputFolderError(*problems)
    with folder_lock(out):
        recover(out, owned)
        problems = destination_problems(out, sources)  # again under the lock: a link planted meanwhile
        if problems:
            raise OutputFolderError(*problems)
        check_replaceable(out, replace, owned, what, flag)
        partial = new_partial(out)
        try:
            yield partial
            crash_point("written")
            make_readable(partial)
            swap_in(partial, out)
        except BaseException:
            remove(partial)
            raise
