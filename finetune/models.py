"""Model sources, one code path: preset name, local checkpoint folder, or hub id.

Whatever the source, the model comes out of `from_pretrained` (presets are first written to
a local folder), so the tests exercise the same path a hub id takes. Weights are read as
safetensors only and remote code is never trusted.
"""
from __future__ import annotations

from pathlib import Path

from transformers import ViTConfig, ViTForImageClassification

from _infra.hf import SUPPORTED_MODEL_TYPES  # noqa: F401 (re-exported: finetune.SUPPORTED_MODEL_TYPES)
from _infra.hf import hub_reachable, load_classifier, load_config, model_type_problems

from ._compat import pil_image_processor_class
from .errors import ModelSourceError
from .init import INITS
from .presets import PRESETS, Preset

def _looks_like_path(source: str) -> bool:
    """A hub id is `name` or `org/name` (dots allowed: `org/model-v1.5`); anything else is a path."""
    return source.startswith((".", "/", "~")) or source.count("/") > 1


def build_preset(preset: Preset, labels: list[str], seed: int = 0, init: str | None = None):
    """`preset` initialised at random (seeded) for `labels` -> (model, processor), in memory.

    init: a name in `finetune.init.INITS`, default the preset's own (the start for training).
    Random-weight benchmarks pass "hf": an initialisation with a zero head makes every logit equal.
    """
    import torch

    torch.manual_seed(seed)
    config = ViTConfig(**preset.config_kwargs(), num_labels=len(labels),
                       id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})
    model = ViTForImageClassification(config)
    initialise = INITS[init or preset.init]
    if initialise is not None:
        initialise(model)
    size = {"height": preset.image_size, "width": preset.image_size}
    processor = pil_image_processor_class()(size=size, image_mean=list(preset.image_mean),
                                            image_std=list(preset.image_std))
    return model, processor


def write_preset(preset: Preset, folder: str | Path, labels: list[str], seed: int = 0, init: str | None = None):
    """`build_preset`, saved as a checkpoint folder (`save_pretrained`) with its processor."""
    model, processor = build_preset(preset, labels, seed, init)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)


def check_model_type(source: str, model_type: str, architectures: list[str] | None) -> None:
    """Refuse anything that is not a ViT/DeiT image classifier, naming what is supported."""
    problems = model_type_problems(source, model_type, architectures)
    if problems:
        raise ModelSourceError(*problems)


def resolve_source(source: str) -> str:
    """Return a local folder or hub id for `source`, raising a clear error for a missing path."""
    if source in PRESETS or Path(source).expanduser().is_dir():
        return source
    if _looks_like_path(source):
        raise ModelSourceError(f"model folder '{source}' does not exist; give a checkpoint folder, "
                               f"a hub id, or a preset: {', '.join(PRESETS)}")
    return source


def load_model(source: str, labels: list[str], seed: int = 0, init: str | None = None):
    """Load `(model, processor)` for fine-tuning on `labels` from a preset, folder or hub id.

    A classifier head of another size (e.g. ImageNet's 1000 classes) is replaced. `init` names
    a preset's initialisation (default its own); a checkpoint or hub id keeps its weights.
    """
    source = resolve_source(source)
    if source in PRESETS:  # built in memory: no copy on disk that a kill could leave behind
        return build_preset(PRESETS[source], labels, seed, init)
    return _from_pretrained(str(Path(source).expanduser()) if Path(source).expanduser().is_dir()
                            else source, labels, display=source)


def _from_pretrained(where: str, labels: list[str], display: str):
    local = Path(where).is_dir() or not hub_reachable()  # offline: the hub cache, or a clear error
    try:
        config = load_config(where, local)
    except OSError as e:
        if Path(where).is_dir():
            raise ModelSourceError(f"'{display}' is not a Hugging Face checkpoint folder ({e})") from e
        raise ModelSourceError(
            f"could not load '{display}' from the Hugging Face hub (offline, or no such model?): "
            f"use a local checkpoint folder or a preset: {', '.join(PRESETS)}") from e
    check_model_type(display, config.model_type, getattr(config, "architectures", None))
    kwargs = dict(num_labels=len(labels), id2label=dict(enumerate(labels)),
                  label2id={n: i for i, n in enumerate(labels)})
    try:
        model, processor = load_classifier(where, local, **kwargs, ignore_mismatched_sizes=True)
    except Exception as e:  # transformers' loaders (missing or corrupt weights, no processor): one line
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise ModelSourceError(f"could not load '{display}': {first}") from e
    return model, processor
