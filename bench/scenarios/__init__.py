"""Named benchmark scenarios: `python -m bench scenario NAME [options]`.

A scenario is one module in this package that defines
    NAME: str                                   # the CLI name
    SUMMARY: str                                # one line for --help and the docs
    add_arguments(parser) -> None               # its own options (argparse)
    SMOKE: list[str]                            # options for a seconds-long run (the tests run every scenario so)
    run(args) -> dict                           # measure; JSON-able results: {"header": {...}, "rows": [...]},
                                                # optionally "name": the results file's stem (default NAME)
Modules are found by walking the package, so adding a scenario is adding a file. Every scenario's
results go through `write_results` (one writer) and `format_rows` (one table formatter).
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from types import ModuleType

RESULTS = Path("benchmarks/results")  # where committed results JSON lives


def scenarios() -> dict[str, ModuleType]:
    """NAME -> scenario module, for every module of this package (imported lazily, on call)."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.NAME] = module
    return dict(sorted(found.items()))


def format_rows(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows of dicts -> a Markdown table (columns: the union of keys in first-seen order)."""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))

    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v))

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, results: dict, out: str | Path = RESULTS) -> Path:
    """`results` (with the machine in its header) -> OUT/NAME.json; returns the path."""
    from ..timing import machine_info

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = {**results, "header": {"scenario": name, **results.get("header", {}), "machine": machine_info()}}
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(path)
    return path
