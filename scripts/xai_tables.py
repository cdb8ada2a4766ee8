"""The xai tables of docs/xai.md, generated from the results committed under results/xai/ (each an
`xai_results.json` that `python -m xai eval` wrote, its command inside), so the doc cannot drift
from what was measured:
    python scripts/xai_tables.py            # print every table
    python scripts/xai_tables.py --write    # rewrite the tables inside docs/xai.md
    python scripts/xai_tables.py --check    # exit 1, naming each table, when the doc disagrees
A table sits in the doc between `<!-- xai-table NAME KIND -->` and `<!-- /xai-table -->`: NAME is
the JSON's file stem, KIND `metrics` (the command, the accuracy and every method x metric) or
`cascade` (the cascading randomisation)."""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xai.evaluate import cascade_table, markdown_table  # noqa: E402

RESULTS = ROOT / "results" / "xai"
DOC = ROOT / "docs" / "xai.md"
BLOCK = re.compile(r"<!-- xai-table (\S+) (metrics|cascade) -->\n(.*?)<!-- /xai-table -->", re.S)


def render(name: str, kind: str, results: Path = RESULTS) -> str:
    """The markdown for one block, from `results/NAME.json`."""
    data = json.loads((results / f"{name}.json").read_text())
    if kind == "cascade":
        return cascade_table(data) + "\n"
    return (f"`{data['command']}`: {data['n_images']} images, model accuracy on them {data['accuracy']:.4f}.\n\n"
            + markdown_table(data) + "\n")


def update(doc: str, results: Path = RESULTS) -> str:
    """`doc` with every table block regenerated."""
    return BLOCK.sub(lambda m: f"<!-- xai-table {m[1]} {m[2]} -->\n{render(m[1], m[2], results)}<!-- /xai-table -->", doc)


def disagreements(doc: str, results: Path = RESULTS) -> list[str]:
    """`NAME KIND` of each block whose text differs from its JSON, and JSON files the doc never shows."""
    problems = [f"{m[1]} {m[2]}" for m in BLOCK.finditer(doc) if m[3] != render(m[1], m[2], results)]
    shown = {m[1] for m in BLOCK.finditer(doc)}
    problems += [f"{p.stem} (not in the doc)" for p in sorted(results.glob("*.json")) if p.stem not in shown]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    doc = DOC.read_text()
    if args.check:
        problems = disagreements(doc)
        for p in problems:
            print(f"docs/xai.md disagrees with results/xai: {p}", file=sys.stderr)
        return 1 if problems else 0
    if args.write:
        DOC.write_text(update(doc))
        return 0
    for path in sorted(RESULTS.glob("*.json")):
        print(f"## {path.stem}\n\n{render(path.stem, 'metrics')}\n{render(path.stem, 'cascade')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
