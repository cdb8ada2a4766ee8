"""Load a ViT/DeiT classification checkpoint (folder or hub id) for explaining: eager attention,
eval mode, and the preprocessing facts its processor states."""
from __future__ import annotations

import functools
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

SUPPORTED_MODEL_TYPES = ("vit", "deit")
RESAMPLE_NAMES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


class CheckpointError(ValueError):
    """Not a loadable ViT/DeiT image-classification checkpoint."""


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


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """One quick connection attempt, so an offline machine fails at once instead of retrying for minutes."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def weights_sha256(folder: Path) -> str | None:
    weights = folder / "model.safetensors"
    if not weights.is_file():
        return None
    digest = hashlib.sha256()
    with weights.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _config(source: str, local: bool):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(source, trust_remote_code=False, local_files_only=local)
    except OSError as e:
        if Path(source).is_dir():
            raise CheckpointError(f"'{source}' is not a Hugging Face checkpoint folder") from e
        raise CheckpointError(f"could not load '{source}' from the Hugging Face hub (offline, or no such "
                              f"model?): give a local checkpoint folder") from e


def load_checkpoint(source: str | Path) -> Checkpoint:
    """Folder or hub id -> `Checkpoint`; anything but a ViT/DeiT image classifier is refused."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    source = str(source)
    is_dir = Path(source).is_dir()
    if not is_dir and (source.startswith((".", "/", "~")) or source.count("/") > 1):
        raise CheckpointError(f"checkpoint folder '{source}' does not exist")
    local = is_dir or not hub_reachable()
    config = _config(source, local)
    archs = getattr(config, "architectures", None) or []
    if config.model_type not in SUPPORTED_MODEL_TYPES or not any("ImageClassification" in a for a in archs):
        raise CheckpointError(f"'{source}' is a {config.model_type} model ({', '.join(archs) or 'no head'}); "
                              f"supported: ViT/DeiT image classifiers (model types {', '.join(SUPPORTED_MODEL_TYPES)})")
    model = AutoModelForImageClassification.from_pretrained(
        source, attn_implementation="eager", use_safetensors=True, trust_remote_code=False,
        local_files_only=local).eval()
    if "WithTeacher" in archs[0] and "WithTeacher" not in type(model).__name__:
        from transformers import DeiTForImageClassificationWithTeacher

        model = DeiTForImageClassificationWithTeacher.from_pretrained(
            source, attn_implementation="eager", use_safetensors=True, local_files_only=local).eval()
    processor = AutoImageProcessor.from_pretrained(source, trust_remote_code=False, local_files_only=local,
                                                   use_fast=False)
    size, patch = int(config.image_size), int(config.patch_size)
    return Checkpoint(model=model, source=source, labels=[config.id2label[i] for i in range(config.num_labels)],
                      image_size=(size, size), patch_grid=(size // patch, size // patch),
                      n_special_tokens=2 if config.model_type == "deit" else 1,
                      mean=tuple(float(m) for m in processor.image_mean), std=tuple(float(s) for s in processor.image_std),
                      resample=RESAMPLE_NAMES.get(int(getattr(processor, "resample", 2)), "bilinear"),
                      sha256=weights_sha256(Path(source)) if is_dir else None)
