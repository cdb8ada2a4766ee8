"""An artifact is one sealed thing: the manifest records the size and SHA-256 of every file the
model needs (the ONNX file and its external data, every file inside a `.mlpackage`), and loading
reads exactly those files and nothing else.

A recorded file must be a regular file reached without any symbolic link, of the recorded size,
read only up to that size (a link to `/dev/zero`, a FIFO or a swapped file cannot stall or fool the
load), with the recorded hash. Inside a model folder (`.mlpackage`) nothing unrecorded may sit. An
error names the file and what is wrong with it, never a hash of what it found.

Hashing ViT-B's 343 MB takes about as long as ONNX Runtime takes to load it, so a file once hashed
is remembered by its identity: device, inode, size, modification and status-change times (the
status-change time moves on every write and rename and cannot be set back without root), with the
hash it had, as an empty marker file in the user's cache folder (`EXPLAINABLE_VIT_CACHE`, default
`~/.cache/explainable-vit/verified`). Export leaves markers for the files it wrote; a copied or
changed file is hashed again.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Iterable

CHUNK = 1 << 20
CACHE_ENV = "EXPLAINABLE_VIT_CACHE"
_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def kind_of(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def path_problem(name: object) -> str | None:
    """Why `name` cannot be a recorded file's path: it must be relative, '/'-separated, inside."""
    if not isinstance(name, str) or not name:
        return f"file name {name!r} must be a non-empty string"
    parts = PurePosixPath(name).parts
    if "\\" in name or "\0" in name or name.startswith("/") or any(p in (".", "..") for p in name.split("/")) or not parts:
        return f"file name {name!r} must be a relative path inside the artifact folder"
    return None


def record_problems(files: object) -> list[str]:
    """Problems of the manifest's `files` field: {relative path: {"size": int >= 0, "sha256": 64 hex}}."""
    if not isinstance(files, dict) or not files:
        return ["files must map every file of the model to its size and sha256"]
    problems = []
    for name, record in files.items():
        problem = path_problem(name)
        if problem:
            problems.append(problem)
        elif not (isinstance(record, dict) and set(record) == {"size", "sha256"}
                  and isinstance(record["size"], int) and not isinstance(record["size"], bool) and record["size"] >= 0
                  and isinstance(record["sha256"], str) and len(record["sha256"]) == 64
                  and all(c in "0123456789abcdef" for c in record["sha256"])):
            problems.append(f"files[{name!r}] must be {{\"size\": bytes, \"sha256\": 64 hex digits}}")
    return problems


def _walk(folder: Path, top: Path) -> Iterable[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry under `folder`, links not followed."""
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            path = Path(root, name)
            yield path.relative_to(top).as_posix(), os.lstat(path)


def _digest_fd(fd: int, size: int) -> str:
    """SHA-256 of the first `size` bytes of `fd`, never reading past them."""
    digest, left = hashlib.sha256(), size
    while left:
        chunk = os.read(fd, min(CHUNK, left))
        if not chunk:
            break
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest() if not left else ""


def _cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "explainable-vit" / "verified"


def _marker(st: os.stat_result, sha256: str) -> Path:
    identity = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{sha256}"
    return _cache_dir() / hashlib.sha256(identity.encode()).hexdigest()


def _remember(st: os.stat_result, sha256: str) -> None:
    """Note that the file with this identity had `sha256` (best effort: no cache folder, no note)."""
    try:
        _cache_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        _marker(st, sha256).touch()
    except OSError:
        pass


def _remembered(st: os.stat_result, sha256: str) -> bool:
    try:
        return _marker(st, sha256).is_file()
    except (OSError, RuntimeError):  # RuntimeError: no home folder
        return False


def seal(folder: Path, names: Iterable[str]) -> dict[str, dict]:
    """Record every file under `folder/name` (a file, or every file of a model folder) for each of
    `names`: {relative path: {"size", "sha256"}}, sorted. What export writes into the manifest."""
    records = {}
    for name in names:
        path = folder / name
        entries = _walk(path, folder) if path.is_dir() else [(name, os.lstat(path))]
        for rel, st in entries:
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{folder / rel} is {kind_of(st.st_mode)}; an artifact holds regular files only")
            fd = os.open(folder / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                records[rel] = {"size": st.st_size, "sha256": _digest_fd(fd, st.st_size)}
                _remember(os.fstat(fd), records[rel]["sha256"])
            finally:
                os.close(fd)
    return dict(sorted(records.items()))


def _link_on_the_way(folder: Path, rel: str) -> str | None:
    """The first component of `rel` under `folder` that is a link or missing, in words."""
    path = folder
    for part in rel.split("/"):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return f"{path} is missing"
        if stat.S_ISLNK(mode):
            return f"{path} is a symbolic link: an artifact's files must be its own, not links"
    return None


def check_file(folder: Path, rel: str, record: dict) -> str | None:
    """Why `folder/rel` is not the file recorded at export (None when it is)."""
    problem = _link_on_the_way(folder, rel)
    if problem:
        return problem
    path = folder / rel
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        return f"{path} cannot be read ({e.strerror or e})"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return f"{path} is {kind_of(st.st_mode)}, not a regular file"
        if st.st_size != record["size"]:
            return f"{path} has {st.st_size} bytes, the manifest recorded {record['size']}: changed after export"
        if _remembered(st, record["sha256"]):
            return None
        if _digest_fd(fd, record["size"]) != record["sha256"]:
            return f"{path} differs from the file exported (SHA-256 mismatch): changed after export"
        _remember(st, record["sha256"])
    finally:
        os.close(fd)
    return None


def unrecorded(folder: Path, model_file: str, files: dict) -> list[str]:
    """Entries inside a model folder that the manifest does not record: links, special files, extras."""
    path = folder / model_file
    if not path.is_dir() or path.is_symlink():
        return []
    problems = []
    for rel, st in _walk(path, folder):
        if stat.S_ISLNK(st.st_mode) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            problems.append(f"{folder / rel} is {kind_of(st.st_mode)}; an artifact holds regular files only")
        elif stat.S_ISREG(st.st_mode) and rel not in files:
            problems.append(f"{folder / rel} is not part of the exported model (not in the manifest's files)")
    return problems


def seal_problems(folder: Path, model_file: str, files: dict) -> list[str]:
    """Every way the files under `folder` differ from what the manifest sealed (empty: all intact)."""
    if not any(rel == model_file or rel.startswith(model_file + "/") for rel in files):
        return [f"the manifest's files do not include the model file '{model_file}'"]
    problems = unrecorded(folder, model_file, files)
    problems += [p for rel, record in files.items() if (p := check_file(folder, rel, record))]
    return problems
