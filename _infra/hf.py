"""Hugging Face facts that `finetune` and `runtime` share (they must not import each other).

`hub_reachable` is asked once, quickly, before any hub call: without it an offline
`from_pretrained("facebook/...")` spends minutes in retries before failing; with it an offline
machine gets the hub's local cache or a one-line error at once."""
from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse

SUPPORTED_MODEL_TYPES = ("vit", "deit")


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def model_type_problems(source: str, model_type: str | None, architectures: list[str] | None) -> list[str]:
    """Why `source` is not a ViT/DeiT image classifier (empty when it is)."""
    problems = []
    if model_type not in SUPPORTED_MODEL_TYPES:
        problems.append(f"'{source}' is a '{model_type}' model; supported model types: {', '.join(SUPPORTED_MODEL_TYPES)}")
    if architectures is not None and not any("ImageClassification" in a for a in architectures):
        problems.append(f"'{source}' is not an image classifier (architectures: {', '.join(architectures) or 'none'})")
    return problems


def load_config(where: str, local: bool):
    """The checkpoint's config: no remote code, offline when `local`."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(where, trust_remote_code=False, local_files_only=local)


def load_classifier(where: str, local: bool, **overrides):
    """`(model, processor)` as the toolkit always loads them: weights from safetensors only (never a
    pickle), no remote code, offline when `local`, the slow processor (PIL's exact resize);
    `overrides` go to the model (a new head's labels, eager attention, ...)."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(where, use_safetensors=True, trust_remote_code=False,
                                                            local_files_only=local, **overrides)
    processor = AutoImageProcessor.from_pretrained(where, trust_remote_code=False, local_files_only=local,
                                                   use_fast=False)
    return model, processor
