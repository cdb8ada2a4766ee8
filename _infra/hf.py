"""Hugging Face facts that `finetune` and `runtime` share (they must not import each other).

`hub_reachable` is asked once, quickly, before any hub call: without it an offline
`from_pretrained("facebook/...")` spends minutes in retries before failing; with it an offline
machine gets the hub's local cache or a one-line error at once. It asks the way huggingface_hub
itself asks: its offline mode (`HF_HUB_OFFLINE`) first, then one HEAD request to its endpoint
(`HF_ENDPOINT`) through its own HTTP session, which goes through the user's proxy (`HTTPS_PROXY`,
`NO_PROXY`) and certificates as every download will."""
from __future__ import annotations

import functools

SUPPORTED_MODEL_TYPES = ("vit", "deit")


def hub_offline() -> bool:
    """huggingface_hub's offline mode, as it reads it (`HF_HUB_OFFLINE`, `TRANSFORMERS_OFFLINE`)."""
    import huggingface_hub
    from huggingface_hub import constants

    check = getattr(huggingface_hub, "is_offline_mode", None)  # huggingface_hub >= 1.0
    return bool(check() if check else constants.HF_HUB_OFFLINE)


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub answers within `timeout` seconds (False at once in offline mode)."""
    if hub_offline():
        return False
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout)
    except _connection_errors():
        return False
    return True


def _connection_errors() -> tuple[type[BaseException], ...]:
    """What the hub's HTTP session raises when it cannot get an answer: requests' errors are
    OSErrors (huggingface_hub < 1.0); httpx's are its own (>= 1.0)."""
    try:
        import httpx
    except ImportError:
        return (OSError,)
    return (OSError, httpx.HTTPError)


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
