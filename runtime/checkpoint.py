"""Load a ViT/DeiT classification checkpoint (folder or hub id) for explaining: eager attention,
eval mode, and the preprocessing facts its processor states."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from _infra.errors import ToolkitError
from _infra.extras import missing_extra
from _infra.hf import hub_reachable, load_classifier, load_config, model_type_problems

from .contract import RESAMPLE_NAMES

RESAMPLES = dict(enumerate(RESAMPLE_NAMES))  # an image processor's `resample` number -> its name


class CheckpointError(ToolkitError):
    """Not a loadable ViT/DeiT image-classification checkpoint; lists every problem."""


@dataclass(frozen=True)
class Checkpoint:
    model: object  # transformers *ForImageClassification, eval mode, eager attention
    source: str
    labels: list[str]
    image_size: tuple[int, int]
    patch_grid: tuple[int, int]
    n_special_tokens: int  # CLS, plus the distillation token for DeiT
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resample: str
    sha256: str | None

    @property
    def model_type(self) -> str:
        return self.model.config.model_type


def weights_sha256(folder: Path) -> str | None:
    weights = folder / "model.safetensors"
    if not weights.is_file():
        return None
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor name -> shape from a safetensors header (no tensor is read); CheckpointError if unreadable."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # the parser's own message: truncated, not safetensors, bad header...
        raise CheckpointError(f"{path}: truncated or not a safetensors file ({str(e).splitlines()[0][:200]})") from e


def folder_problems(folder: Path) -> list[str]:
    """What makes a local checkpoint folder unloadable, every problem at once (empty: loadable)."""
    if not (folder / "config.json").is_file():
        return [f"'{folder}' has no config.json: not a Hugging Face checkpoint folder"]
    problems = []
    weights = folder / "model.safetensors"
    if not weights.is_file() and not (folder / "model.safetensors.index.json").is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth"))
        problems.append(f"'{folder}' has no model.safetensors" + (
            f", only pickle weights ({', '.join(pickles)}), which are never loaded: re-save with "
            f"save_pretrained(..., safe_serialization=True)" if pickles else ""))
    if not (folder / "preprocessor_config.json").is_file():
        problems.append(f"'{folder}' has no preprocessor_config.json (the input size, mean and std the model "
                        f"expects): save the image processor beside the weights")
    try:
        config = json.loads((folder / "config.json").read_text())
    except ValueError as e:
        return problems + [f"{folder / 'config.json'} is not valid JSON ({e})"]
    problems += model_type_problems(str(folder), config.get("model_type"), config.get("architectures") or [])
    id2label = config.get("id2label") or {}
    if sorted(map(str, id2label)) != sorted(str(i) for i in range(len(id2label))):
        problems.append(f"{folder / 'config.json'}: id2label keys must be 0..{len(id2label) - 1} without gaps "
                        f"(got {', '.join(sorted(map(str, id2label), key=lambda k: (len(k), k))[:12])})")
    if weights.is_file():
        try:
            head = _safetensors_shapes(weights).get("classifier.weight")
            if head and id2label and head[0] != len(id2label):
                problems.append(f"'{folder}': the classifier has {head[0]} outputs but id2label names "
                                f"{len(id2label)} classes")
        except CheckpointError as e:
            problems.append(str(e))
    return problems


def _config(source: str, local: bool):
    try:
        return load_config(source, local)
    except OSError as e:
        if Path(source).is_dir():
            raise CheckpointError(f"'{source}' is not a Hugging Face checkpoint folder") from e
        raise CheckpointError(f"could not load '{source}' from the Hugging Face hub (offline, or no such "
                              f"model?): give a local checkpoint folder") from e


def load_checkpoint(source: str | Path) -> Checkpoint:
    """Folder or hub id -> `Checkpoint`; anything but a ViT/DeiT image classifier is refused."""
    source = str(source)
    is_dir = Path(source).is_dir()
    if not is_dir and (source.startswith((".", "/", "~")) or source.count("/") > 1):
        raise CheckpointError(f"checkpoint folder '{source}' does not exist")
    problems = folder_problems(Path(source)) if is_dir else []
    if problems:
        raise CheckpointError(*problems)
    try:
        return _load(source, is_dir)
    except CheckpointError:
        raise
    except ModuleNotFoundError as e:  # torch or transformers: an extra this install left out
        if missing_extra(e) is None:
            raise
        raise missing_extra(e) from e
    except Exception as e:  # transformers' own loaders: say which folder and why, in one line
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"could not load '{source}': {first}") from e


def _height_width(size) -> tuple[int, int]:
    """A config's `image_size`: one int (square) or `[height, width]`, as transformers' ViT reads it."""
    return (int(size), int(size)) if isinstance(size, (int, float, str)) else (int(size[0]), int(size[1]))


def _load(source: str, is_dir: bool) -> Checkpoint:
    local = is_dir or not hub_reachable()
    config = _config(source, local)
    archs = getattr(config, "architectures", None) or []
    problems = model_type_problems(source, config.model_type, archs)
    if problems:
        raise CheckpointError(*problems)
    model, processor = load_classifier(source, local, attn_implementation="eager")
    model.eval()
    if "WithTeacher" in archs[0] and "WithTeacher" not in type(model).__name__:
        from transformers import DeiTForImageClassificationWithTeacher

        model = DeiTForImageClassificationWithTeacher.from_pretrained(
            source, attn_implementation="eager", use_safetensors=True, local_files_only=local).eval()
    h, w = _height_width(config.image_size)
    patch = int(config.patch_size)
    return Checkpoint(model=model, source=source, labels=[config.id2label[i] for i in range(config.num_labels)],
                      image_size=(h, w), patch_grid=(h // patch, w // patch),
                      n_special_tokens=2 if config.model_type == "deit" else 1,
                      mean=tuple(float(m) for m in processor.image_mean), std=tuple(float(s) for s in processor.image_std),
                      resample=RESAMPLES.get(int(getattr(processor, "resample", 2)), "bilinear"),
                      sha256=weights_sha256(Path(source)) if is_dir else None)
