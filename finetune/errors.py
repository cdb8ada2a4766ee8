"""Typed errors of the fine-tuning stage; each lists every problem found at once."""
from __future__ import annotations

from _infra.errors import ToolkitError


class FinetuneError(ToolkitError):
    """Bad input to fine-tuning: a model, data or output folder that cannot be used."""


class ModelSourceError(FinetuneError):
    """The model source is not a preset, a local ViT/DeiT checkpoint or a reachable hub id."""


class DataSourceError(FinetuneError):
    """The data source is missing, empty, or lacks the expected columns or labels."""
