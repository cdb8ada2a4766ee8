"""Named benchmark scenarios: `python -m bench scenario NAME [options]`.

A scenario is one module in this package that defines
    NAME: str                                   # the CLI name
    SUMMARY: str                                # one line for --help and the docs
    add_arguments(parser) -> None               # its own options (argparse)
    SMOKE: list[str]                            # options for a seconds-long run (the tests run every scenario so)
    run(args) -> dict                           # measure; `shaped(...)`: {"header": {...}, "rows": [...]},
                                                # optionally "name": the results file's stem (default NAME)
                                                # and "also": more results of the run, each with its name
Modules are found by walking the package, so adding a scenario is adding a file. Every scenario's
results go through `write_results` (one writer) and `format_rows` (one table formatter).

The result shape: the header declares the table's `columns` (`column(...)`: key, title, unit,
digits) and the `targets` judging the rows (bench.targets); every figure a table shows is a row
value, verdicts included, so `format_columns` (and the documents) render any results file alike.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import shlex
import sys
from pathlib import Path
from types import ModuleType

from _infra.columns import column  # noqa: F401  (the scenarios' column, from the foundation)

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


def shaped(header: dict, rows: list[dict], columns: list[dict], targets=(), **extra) -> dict:
    """The one result shape: rows judged by `targets` (bench.targets), the header declaring the
    columns and the targets that judged some row."""
    from ..targets import header as targets_header, judge

    judged = [t for t in targets if any(t.selects(r) for r in judge(rows, list(targets)))]
    return {"header": {**header, "columns": columns, **({"targets": targets_header(judged)} if judged else {})},
            "rows": rows, **extra}


def cell(value, digits: int | None = None) -> str:
    """A row value as a table shows it: fixed `digits` decimals (scientific where they would show a
    non-zero value as zero), else ints as they are and floats to 4 significant digits; None empty."""
    from ..targets import MISSED

    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and digits is not None:
        return f"{value:.1e}" if value and round(value, digits) == 0 else f"{value:.{digits}f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "**missed**" if value == MISSED else str(value)


def heading(col: dict) -> str:
    return f"{col['title']} {col['unit']}" if col.get("unit") else col["title"]


def format_columns(rows: list[dict], columns: list[dict]) -> str:
    """Rows -> a Markdown table of `columns` (dicts of `column`); a column empty in every row is left out."""
    columns = [c for c in columns if any(r.get(c["key"]) is not None for r in rows)]
    table = [{heading(c): cell(r.get(c["key"]), c.get("digits")) for c in columns} for r in rows]
    return format_rows(table, [heading(c) for c in columns])


def command_line() -> str | None:
    """The `python -m bench ...` command of this process, None when bench is not its entry point."""
    main = Path(sys.argv[0])
    return shlex.join(["python", "-m", "bench", *sys.argv[1:]]) if main.parent.name == "bench" else None


def write_results(name: str, results: dict, out: str | Path = RESULTS) -> Path:
    """`results` (with the machine and command in its header) -> OUT/NAME.json, and each of its
    `also` results -> OUT/ITS-NAME.json; returns the first path."""
    from ..timing import machine_info

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = dict(results)
    for more in results.pop("also", []):
        write_results(more.pop("name"), {**more, "header": {"scenario": results.get("header", {}).get(
            "scenario", name), **more["header"]}}, out)
    header = {"scenario": name, **results.get("header", {}), "machine": machine_info()}
    if command_line() and "command" not in header:
        header["command"] = command_line()
    path = out / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**results, "header": header}, indent=2))
    tmp.replace(path)
    return path
