"""`runtime.load("org/name")`: an artifact from the Hugging Face Hub, downloaded by `huggingface_hub`
(its cache, offline mode `HF_HUB_OFFLINE`, proxies, resumed downloads), then checked like any local
artifact: every file's size and SHA-256 against the manifest (`runtime.seal`).

The hub cache holds a snapshot as symbolic links into its `blobs/` folder, and an artifact's files
must be its own (runtime.seal refuses links), so the snapshot is placed once per commit as a folder
of real files beside it, `models--org--name/explainable-vit/<commit>/`: hard links to the blobs (no
second copy on disk) or, where the file system has none, copies. It is verified before it is kept,
so a tampered download never enters that cache; `runtime.load` verifies it again on every load (the
seal's identity markers make that cheap), so a blob changed later is refused too."""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from _infra.errors import first_line
from _infra.hf import hub_offline

from .manifest import MANIFEST, ArtifactError, read_manifest, verify_files

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9_.-]{1,96}$")
PLACED = "explainable-vit"  # beside snapshots/ and blobs/ in the repository's cache folder


def is_hub_id(source: object) -> bool:
    """Whether `source` reads as a hub repository id `org/name` (and not as a local path)."""
    return (isinstance(source, str) and HUB_ID.match(source) is not None
            and not source.startswith(".") and ".." not in source)


def download(repo_id: str, revision: str | None = None) -> Path | None:
    """The artifact in `repo_id` as a verified folder of real files, or None when the repository
    holds no manifest.json (a checkpoint, which the torch backend loads through transformers)."""
    snapshot = _snapshot(repo_id, revision, [MANIFEST])  # the manifest first: a checkpoint repo is not fetched whole
    if not (snapshot / MANIFEST).is_file():
        return None
    snapshot = _snapshot(repo_id, snapshot.name, None)  # the same commit, every file
    return placed(snapshot, repo_id)


def _snapshot(repo_id: str, revision: str | None, patterns: list[str] | None) -> Path:
    """`snapshot_download`, its errors as one line each."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if hub_offline() else "the hub cannot be reached"
        raise ArtifactError(f"'{repo_id}' is not a folder here, and not in the hub cache while {why}") from None
    except GatedRepoError:
        raise ArtifactError(f"'{repo_id}' on the hub is gated: accept its terms on the hub and log in "
                            "(hf auth login)") from None
    except RepositoryNotFoundError:
        raise ArtifactError(f"'{repo_id}' is neither a folder here nor a model repository on the hub "
                            "(a private one needs hf auth login)") from None
    except RevisionNotFoundError:
        raise ArtifactError(f"'{repo_id}' on the hub has no revision '{revision}'") from None
    except OSError as e:  # requests' errors are OSErrors: connection, proxy, TLS, HTTP status
        raise ArtifactError(f"downloading '{repo_id}' from the hub failed: {first_line(e)}") from e


def placed(snapshot: Path, repo_id: str) -> Path:
    """The snapshot as a folder of real files beside the hub cache's snapshots, verified before it is
    kept (a complete folder is only ever placed by one rename, so one with a manifest is whole)."""
    home = _home(snapshot, repo_id)
    if (home / MANIFEST).is_file():
        return home
    partial = Path(tempfile.mkdtemp(prefix=f".{snapshot.name}-", dir=home.parent))
    try:
        _link_files(snapshot, partial)
        try:
            verify_files(partial, read_manifest(partial))
        except ArtifactError as e:
            problems = [p.replace(str(partial), repo_id) for p in e.problems if not p.startswith("re-export")]
            raise ArtifactError(f"'{repo_id}' at commit {snapshot.name[:12]} does not match its manifest, "
                                f"refused: {'; '.join(problems)}") from None
        try:
            os.rename(partial, home)
        except OSError:  # another process placed the same commit first: theirs is as good
            if not (home / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return home


def _home(snapshot: Path, repo_id: str) -> Path:
    """Where the commit's folder of real files lives: beside the hub cache's snapshots, or, where
    that cache is read-only (a shared system cache), in the user's own cache folder."""
    for root in (snapshot.parent.parent / PLACED, _user_cache() / snapshot.parent.parent.name):
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(root, os.W_OK):
            return root / snapshot.name
    raise ArtifactError(f"no writable folder to place '{repo_id}' in: {snapshot.parent.parent} and {_user_cache()}")


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "explainable-vit" / "hub"


def _link_files(snapshot: Path, into: Path) -> None:
    """Every file of the snapshot as a real file under `into`: a hard link to the blob it points to
    (a copy across file systems). A link that leads outside the repository's blobs, or to anything
    but a regular file, is refused: the hub never writes one."""
    blobs = (snapshot.parent.parent / "blobs").resolve()
    for root, _, files in os.walk(snapshot):
        for name in files:
            link = Path(root, name)
            rel = link.relative_to(snapshot)
            target = link.resolve()
            if link.is_symlink() and blobs not in target.parents:
                raise ArtifactError(f"{link} leads outside the hub cache's blobs ({target}): refused")
            if not stat.S_ISREG(os.stat(target).st_mode):
                raise ArtifactError(f"{link} is not a regular file in the hub cache: refused")
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(target, into / rel)
            except OSError:
                shutil.copyfile(target, into / rel)
