"""What several scenarios set up the same way: a preset checkpoint at random weights in a work folder."""
from __future__ import annotations

import tempfile
from pathlib import Path

LABELS = [f"class_{i}" for i in range(10)]


def preset_checkpoint(preset: str, work: Path | None = None, name: str = "checkpoint") -> Path:
    """`preset` at random (seeded) weights with transformers' init (latency does not depend on the
    weights; a zero head would make every logit equal) -> its checkpoint folder."""
    from finetune.models import write_preset
    from finetune.presets import PRESETS

    work = work or Path(tempfile.mkdtemp(prefix=f"bench-{preset}-"))
    folder = work / name
    write_preset(PRESETS[preset], folder, LABELS, init="hf")
    return folder


def preset_choices() -> list[str]:
    from finetune.presets import PRESETS

    return list(PRESETS)
