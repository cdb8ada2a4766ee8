"""docs/xai.md's tables are generated from the JSON under results/xai/ (scripts/xai_tables.py):
the committed doc agrees with the committed JSON, and a doc that disagrees is caught."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tables():
    spec = importlib.util.spec_from_file_location("xai_tables", ROOT / "scripts" / "xai_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_doc_shows_every_result_as_its_json_says():
    t = tables()
    assert t.disagreements(t.DOC.read_text()) == []
    assert list(t.RESULTS.glob("*.json")), "no results committed"


def test_a_figure_edited_in_the_doc_or_the_json_is_caught(tmp_path):
    t = tables()
    doc = t.DOC.read_text()
    name = next(iter(t.BLOCK.finditer(doc)))[1]
    data = json.loads((t.RESULTS / f"{name}.json").read_text())
    row = data["rows"][0]
    metric = next(m for m in data["metrics"] if m in row)
    row[metric] += 0.5  # the measurement changes, the doc does not
    (tmp_path / f"{name}.json").write_text(json.dumps(data))
    for other in t.RESULTS.glob("*.json"):
        if other.stem != name:
            (tmp_path / other.name).write_text(other.read_text())
    assert f"{name} metrics" in t.disagreements(doc, tmp_path)
    assert t.disagreements(t.update(doc, tmp_path), tmp_path) == []  # regenerating fixes it
