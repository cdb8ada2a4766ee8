"""The results shape's column declaration, one for every stage that writes results JSON."""
from __future__ import annotations


def column(key: str, title: str | None = None, unit: str | None = None, digits: int | None = None) -> dict:
    """One column a results table shows: row key, heading (default: the key), unit, decimals (None:
    ints as they are, floats to 4 significant digits)."""
    return {"key": key, "title": title or key, "unit": unit, **({} if digits is None else {"digits": digits})}
