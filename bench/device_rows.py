"""Rows measured on an Apple device by the Swift package's `explainable-vit-bench` (its `--json`
file), read so that `python -m bench --device-results FILE` shows them in its report beside this
machine's rows, each target named with its device.

The file is `{"header": {"machine": {...}, "command": str, "model": str?}, "rows": [...]}`; a row
has bench's field names (`target`, `backend`, `precision`, `explain`, `status`, `latency_ms_p50`,
...) plus `device` and what only a device run measures (`load_ms`, `first_prediction_ms`,
`postprocess_ms_p50`, `compute_units`, ...). Every problem of a file is listed at once. Rows are
judged where they join bench's results: the Swift overlay targets of bench.targets (per build).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from _infra.errors import ToolkitError
from _infra.folders import read_marker

MAX_BYTES = 4 << 20  # a device run writes a few kB
TEXT_FIELDS = ("target", "backend", "precision", "explain", "status", "device")
NUMBER_FIELDS = ("latency_ms_p50", "latency_ms_p90", "load_ms", "first_prediction_ms", "postprocess_ms_p50",
                 "postprocess_ms_p90", "baseline_rss_mb", "peak_rss_mb", "memory_mb")


class DeviceResultsError(ToolkitError):
    """A --device-results file that is not what `explainable-vit-bench --json` writes."""


def row_problems(row: object, i: int) -> list[str]:
    """What is wrong with row `i`: its text fields present, its measurements finite and >= 0."""
    if not isinstance(row, dict):
        return [f"rows[{i}] is not an object"]
    problems = [f"rows[{i}].{k} must be a non-empty string" for k in TEXT_FIELDS
                if not (isinstance(row.get(k), str) and row[k])]
    problems += [f"rows[{i}].{k} must be a finite number >= 0" for k in NUMBER_FIELDS if k in row and not (
        isinstance(row[k], (int, float)) and not isinstance(row[k], bool) and math.isfinite(row[k]) and row[k] >= 0)]
    return problems


def read_device_rows(path: str | Path) -> list[dict]:
    """The rows of one device results file, each target suffixed with `@ device`."""
    data = read_marker(Path(path), MAX_BYTES)
    if data is None:
        raise DeviceResultsError(f"--device-results '{path}' is not a readable regular file of at most "
                                 f"{MAX_BYTES >> 20} MiB")
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise DeviceResultsError(f"--device-results '{path}' is not JSON ({e})") from None
    rows = raw.get("rows") if isinstance(raw, dict) else None
    if not (isinstance(rows, list) and rows and isinstance(raw.get("header"), dict)):
        raise DeviceResultsError(f"--device-results '{path}' has no header and rows: not written by "
                                 f"explainable-vit-bench --json")
    problems = [p for i, row in enumerate(rows) for p in row_problems(row, i)]
    if problems:
        raise DeviceResultsError(*[f"--device-results '{path}': {p}" for p in problems])
    from .targets import judge, of

    judge(rows, of("swift-postprocess"))  # by the device's own target names, before the device joins them
    return [{**row, "target": f"{row['target']} @ {row['device']}", "imported_from": str(path)} for row in rows]
