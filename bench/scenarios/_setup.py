"""What several scenarios set up the same way: a preset checkpoint at random weights in a work folder."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

LABELS = [f"class_{i}" for i in range(10)]


def scratch(preset: str) -> Path:
    """A fixed, per-user work folder for `preset` in the system temporary folder, emptied now: a run
    killed before its exit hook leaves it behind, and the next run of the same preset removes it
    (a fresh `mkdtemp` per run would pile up instead)."""
    user = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    work = Path(tempfile.gettempdir()) / f"explainable-vit-{user}" / f"bench-{preset}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    return work


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
