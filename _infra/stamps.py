"""Version stamps, written the same way into manifests, run.json and benchmark headers."""
from __future__ import annotations

import importlib.metadata as md
import platform

TOOLKIT = "explainable-vit"


def toolkit_version() -> str:
    """The installed explainable-vit version (pyproject.toml's), or "unknown" when not installed."""
    try:
        return md.version(TOOLKIT)
    except md.PackageNotFoundError:
        return "unknown"


def library_versions(*names: str) -> dict[str, str]:
    """`{"explainable-vit": ..., "python": ..., name: version}` for each of `names` that is installed."""
    found = {TOOLKIT: toolkit_version(), "python": platform.python_version()}
    for name in names:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return found
