"""`TrainingArguments` keywords across transformers 4.57 (this project's pin) and 5.x (GPU images).

transformers 5 always writes safetensors (`save_safetensors` is gone) and folded `warmup_ratio`
into a float `warmup_steps` (a value below 1 is a ratio of the total steps).
"""
from __future__ import annotations

from dataclasses import fields


def installed_training_arguments(kwargs: dict, known: set[str] | None = None) -> dict:
    """Keywords written for transformers 4.57 -> the names the installed `TrainingArguments` takes
    (`known`: its field names, read from the installed class unless given)."""
    if known is None:
        from transformers import TrainingArguments

        known = {f.name for f in fields(TrainingArguments)}
    out = dict(kwargs)
    if "warmup_ratio" in out and "warmup_ratio" not in known:
        out["warmup_steps"] = out.pop("warmup_ratio")
    if "save_safetensors" in out and "save_safetensors" not in known:
        out.pop("save_safetensors")
    return out


def pil_image_processor_class():
    """The PIL-backed ViT image processor: `ViTImageProcessor` in transformers 4.x, whose 5.x name
    is `ViTImageProcessorPil` (5.x's `ViTImageProcessor` needs torchvision and resizes differently)."""
    import transformers

    return getattr(transformers, "ViTImageProcessorPil", None) or transformers.ViTImageProcessor
