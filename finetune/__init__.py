"""Fine-tune HF image-classification ViTs (ViT, DeiT) on CIFAR-10 or your own images.

Names are imported on first use (PEP 562), so `from finetune.presets import PRESETS` or the data
sources do not load torch and transformers."""
from __future__ import annotations

import importlib

_WHERE = {"FinetuneConfig": "config", "finetune": "train", "load_data": "data", "BUILTIN_DATA": "data",
          "LabeledImages": "data", "load_model": "models", "write_preset": "models",
          "SUPPORTED_MODEL_TYPES": "models", "PRESETS": "presets", "Preset": "presets",
          "FinetuneError": "errors", "ModelSourceError": "errors", "DataSourceError": "errors",
          "ToolkitError": "errors"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'finetune' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
