"""The documents' tables, generated: from the code's registries and from the committed results JSON.

A table sits in README.md or docs/*.md between two markers,

    <!-- table:NAME [VIEW] -->
    ...generated Markdown...
    <!-- /table:NAME -->

NAME is a registry table (`REGISTRIES`) or results: `STEM` renders `benchmarks/results/STEM.json`
from its `header.columns` (every results file has the shape `{header: {columns, targets, ...}, rows}`,
see bench/scenarios), `STEM[a,b]` only the rows whose first column is a or b, `A+B` the rows of
several files in turn. VIEW is empty (every column), column keys (those, in that order) or
`targets` (each target of the header with the rows it judged). Run from the repository root:

    python -m scripts.docs_tables            # rewrite every table in place
    python -m scripts.docs_tables --check    # exit 1 and list every stale or unknown table
"""
from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from pathlib import Path
from typing import Callable

from bench.scenarios import cell, format_columns, format_rows

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = "benchmarks/results"  # relative to the repository root
MARKER = re.compile(r"<!-- table:(?P<name>\S+?)(?P<view>(?: [\w.-]+)*) -->\n(?P<body>.*?)<!-- /table:(?P=name) -->",
                    re.DOTALL)
OPENING = re.compile(r"<!-- (/?)table:(\S+?)(?: [\w. -]+)? -->")
PART = re.compile(r"(?P<stem>[\w.-]+)(?:\[(?P<rows>[^\]]*)\])?")


class TableError(ValueError):
    """A marker that names no registry or results file, or a column its results do not declare."""


class Results:
    """The committed results JSON of a folder, by file stem, loaded on first use."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._loaded: dict[str, dict] = {}

    def __getitem__(self, stem: str) -> dict:
        if stem not in self._loaded:
            path = self.folder / f"{stem}.json"
            if not path.is_file():
                raise TableError(f"no registry table or results file '{stem}' (known tables: {', '.join(REGISTRIES)})")
            self._loaded[stem] = json.loads(path.read_text())
        return self._loaded[stem]

    @property
    def used(self) -> set[str]:
        """The stems read so far."""
        return set(self._loaded)


# ---- tables from the code's registries: registry -> rows ---------------------------------------

def code(text) -> str:
    return f"`{text}`"


def registry(path: str):
    """'module:NAME' -> that object, imported now (a registry function is called)."""
    module, _, name = path.partition(":")
    found = getattr(importlib.import_module(module), name)
    return found() if callable(found) else found


REGISTRIES: dict[str, tuple[str, Callable[[str, object], dict]]] = {  # table -> (registry, (name, entry) -> row)
    "presets": ("finetune.presets:PRESETS", lambda n, p: {
        "preset": code(n), "image": p.image_size, "patch": p.patch_size, "width": p.hidden_size,
        "layers": p.num_hidden_layers, "heads": p.num_attention_heads, "MLP": p.intermediate_size,
        "init": code(p.init), "what": p.summary}),
    "formats": ("runtime.contract:FORMATS", lambda n, f: {
        "format": code(n), "precisions (first = default)": ", ".join(f.precisions), "runtime backend": code(f.backend),
        "explain kinds": ", ".join(map(code, registry("runtime.contract:EXPLAIN_KINDS")))}),
    "explain-kinds": ("runtime.contract:EXPLAIN_KINDS", lambda n, what: {"`--explain`": code(n), "outputs": what}),
    "tolerances": ("export.parity:TOLERANCES", lambda n, limits: {
        "precision": n, **{("logits (relative)" if k == "logits" else k): f"{v:g}" for k, v in limits.items()}}),
    "backends": ("runtime.backend:BACKENDS", lambda n, cls: {  # importing runtime registers them
        "backend": code(n), "runs": ", ".join(cls.formats), "where": (cls.__doc__ or "").strip().splitlines()[0]}),
    "methods": ("xai.methods:METHODS", lambda n, m: {
        "method": code(n), "what": m.summary, "gradients": "yes" if m.gradients else "no", "paper": m.paper or "-"}),
    "metrics": ("xai.metrics:METRICS", lambda n, m: {"metric": code(n), "better": m.better, "what": m.summary}),
    "finetune-precisions": ("finetune.precision:PRECISIONS", lambda n, p: {
        "`--precision`": code(n), "what": p.summary, "may be asked for on": p.requirement}),
    "finetune-pipelines": ("finetune.config:PIPELINES", lambda n, what: {"`--input-pipeline`": code(n), "what": what}),
    "bench-scenarios": ("bench.scenarios:scenarios", lambda n, m: {"scenario": code(n), "what": m.SUMMARY}),
    "coreml-app-keys": ("runtime.coreml:APP_KEYS", lambda n, what: {
        "Core ML metadata key": code(registry("runtime.coreml:METADATA_PREFIX") + n), "what an app reads there": what}),
    "bench-targets": ("bench.run:TARGETS", lambda n, t: {
        "target": code(n), "backend": t.backend, "precision": t.precision, "explanation": t.explain,
        "graph": "optimum-cli's" if t.peer else ("ours" if t.export else "the checkpoint")}),
}


def registry_table(name: str) -> str:
    path, row = REGISTRIES[name]
    return format_rows([row(n, entry) for n, entry in registry(path).items()])


# ---- tables from benchmarks/results/*.json -----------------------------------------------------

def machine_line(machine: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items() if k in ("torch", "onnxruntime"))
    where = f"{machine.get('gpu') or machine.get('cpu', '?')}, {machine.get('cores', '?')} cores"
    return f"{where}; {versions}" if versions else where


def caption(stem: str, header: dict) -> str:
    """'From `FILE`: `COMMAND`; ABOUT; MACHINE.' (what the header has of these)."""
    said = [code(header["command"]) if header.get("command") else None, header.get("about"),
            machine_line(header["machine"]) if header.get("machine") else None]
    return f"From `{RESULTS_DIR}/{stem}.json`" + (": " + "; ".join(s for s in said if s) if any(said) else "") + "."


def selected(results: Results, name: str) -> list[tuple[str, dict, list[dict]]]:
    """(stem, results, rows) of each part of NAME ('A[x,y]+B')."""
    parts = []
    for part in name.split("+"):
        m = PART.fullmatch(part)
        if not m:
            raise TableError(f"'{part}' is not STEM or STEM[ROW,ROW]")
        data = results[m["stem"]]
        first, wanted = data["header"]["columns"][0]["key"], m["rows"]
        rows = [r for r in data["rows"] if wanted is None or str(r.get(first)) in wanted.split(",")]
        parts.append((m["stem"], data, rows))
    return parts


def targets_view(parts: list[tuple[str, dict, list[dict]]]) -> str:
    """Each header target with every row it judged: the value and the row's verdict."""
    from bench.targets import from_header

    rows = []
    for stem, data, judged in parts:
        digits = {c["key"]: c.get("digits") for c in data["header"]["columns"]}
        first = data["header"]["columns"][0]["key"]
        rows += [{"target": t["what"], "limit": f"{t['op']} {t['limit']:g}", "row": r[first],
                  "value": cell(r[t["key"]], digits.get(t["key"])), "verdict": cell(r[t["verdict"]]),
                  **({"results": stem} if len(parts) > 1 else {})}
                 for t in data["header"].get("targets", []) for r in judged if from_header(t).selects(r)]
    return format_rows(rows)


def results_table(results: Results, name: str, view: list[str]) -> str:
    from bench.targets import disagreements

    parts = selected(results, name)
    wrong = [f"{stem}.json {w}" for stem, data, _ in parts for w in disagreements(data)]
    if wrong:
        raise TableError(f"table '{name}': verdicts that disagree with their targets: {'; '.join(wrong)}")
    columns = {c["key"]: c for _, data, _ in parts for c in data["header"]["columns"]}
    unknown = [k for k in view if k not in columns and view != ["targets"]]
    if unknown:
        raise TableError(f"table '{name}': no column {', '.join(unknown)} (declared: {', '.join(columns)})")
    rows = [r for _, _, part in parts for r in part]
    table = targets_view(parts) if view == ["targets"] else format_columns(
        rows, [columns[k] for k in view] if view else list(parts[0][1]["header"]["columns"]))
    return table + "\n\n" + "\n".join(dict.fromkeys(caption(stem, data["header"]) for stem, data, _ in parts))


# ---- documents ---------------------------------------------------------------------------------

def documents(root: str | Path = ROOT) -> list[Path]:
    """README.md and docs/*.md of a checkout."""
    root = Path(root)
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.is_file()]


def marker_problems(text: str) -> list[str]:
    """Markers that do not pair up (an opening without its closing, or the reverse)."""
    opened, problems = [], []
    for m in OPENING.finditer(text):
        closing, name = m.group(1) == "/", m.group(2)
        if not closing:
            opened.append(name)
        elif opened and opened[-1] == name:
            opened.pop()
        else:
            problems.append(f"closing marker for '{name}' without its opening")
    return problems + [f"table '{name}' is never closed" for name in opened]


def render(text: str, results: Results) -> tuple[str, list[str]]:
    """`text` with every table regenerated, and the problems: stale tables (their content differs from
    what the generator makes now), unknown tables and columns, unpaired markers."""
    problems = marker_problems(text)

    def replace(m: re.Match) -> str:
        name, view = m.group("name"), m.group("view")
        try:
            body = (registry_table(name) if name in REGISTRIES else results_table(results, name, view.split())) + "\n"
        except TableError as e:
            problems.append(str(e))
            return m.group(0)
        if m.group("body").strip() != body.strip():
            problems.append(f"table '{name}' is stale")
        return f"<!-- table:{name}{view} -->\n{body}<!-- /table:{name} -->"

    return MARKER.sub(replace, text), problems


def check(root: str | Path = ROOT, results: Results | None = None) -> list[str]:
    """Every problem of every document, as 'FILE: problem' (empty when all tables are current)."""
    root = Path(root)
    results = results or Results(root / RESULTS_DIR)
    return [f"{doc.relative_to(root)}: {p}" for doc in documents(root) for p in render(doc.read_text(), results)[1]]


def write(root: str | Path = ROOT) -> list[Path]:
    """Regenerate every table in place; returns the documents that changed."""
    root = Path(root)
    results, changed = Results(root / RESULTS_DIR), []
    for doc in documents(root):
        old = doc.read_text()
        new, _ = render(old, results)
        if new != old:
            doc.write_text(new)
            changed.append(doc)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.docs_tables", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing every stale table")
    parser.add_argument("--root", default=str(ROOT), help="checkout whose README.md and docs/*.md to process")
    args = parser.parse_args(argv)
    if not args.check:
        print("\n".join(f"rewrote {p}" for p in write(args.root)) or "every table is current")
    problems = [p for p in check(args.root) if args.check or "stale" not in p]
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
