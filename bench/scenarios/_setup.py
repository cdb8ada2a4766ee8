"""What several scenarios set up the same way: a preset checkpoint at random weights in a work folder."""
from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from _infra.errors import ToolkitError

LABELS = [f"class_{i}" for i in range(10)]


def scratch(preset: str) -> Path:
    """A fixed, per-user work folder for `preset` in the system temporary folder, emptied now: a run
    killed before its exit hook leaves it behind, and the next run of the same preset removes it
    (a fresh `mkdtemp` per run would pile up instead)."""
    work = private_temp() / f"bench-{preset}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    return work


def private_temp() -> Path:
    """This user's folder in the shared temporary folder, 0700: a name anyone can predict, so one
    that is a link or another user's is refused rather than written into."""
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    root = Path(tempfile.gettempdir()) / f"explainable-vit-{user}"
    with contextlib.suppress(FileExistsError):
        root.mkdir(mode=0o700)
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        raise ToolkitError(f"'{root}' is not this user's folder (a link or another owner's): remove it and run again")
    if st.st_mode & 0o077:
        os.chmod(root, 0o700)  # ours, but others could plant in it: close it before writing
    return root


def preset_checkpoint(preset: str, work: Path | None = None, name: str = "checkpoint") -> Path:
    """`preset` at random (seeded) weights with transformers' init (latency does not depend on the
    weights; a zero head would make every logit equal) -> its checkpoint folder."""
    from finetune.models import write_preset
    from finetune.presets import PRESETS

    work = work or scratch(preset)
    folder = work / name
    write_preset(PRESETS[preset], folder, LABELS, init="hf")
    return folder


def preset_choices() -> list[str]:
    from finetune.presets import PRESETS

    return list(PRESETS)
