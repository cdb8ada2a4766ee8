"""Is the Hugging Face hub reachable? Asked once, quickly, before any hub call.

Without this, an offline `from_pretrained("facebook/...")` spends minutes in retries before
failing; with it, an offline machine gets the hub's local cache or a one-line error at once.
`runtime.checkpoint.hub_reachable` is the same check for the deployment side: finetune imports
no deployment package (STYLE.md, "Which way the imports run"), so each side keeps its own.
"""
from __future__ import annotations

import functools
import os
import socket
from urllib.parse import urlparse


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
