"""One rule for every registry (backends, methods, metrics, presets, docs tables): a name is
registered once. A second registration under the same name is a bug (two files claiming one
name, one silently winning), so it raises instead of overwriting."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class DuplicateName(RuntimeError):
    """A registry entry whose name another entry already holds."""


def add_unique(registry: dict[str, T], name: str, item: T, kind: str) -> T:
    """`registry[name] = item`, refused when `name` is taken by another entry."""
    if name in registry and registry[name] is not item:
        raise DuplicateName(f"{kind} '{name}' is registered twice ({registry[name]!r} and {item!r})")
    registry[name] = item
    return item
