"""The artifact contract lives in one place (runtime.contract, runtime.manifest.build_manifest):
exports and the PyTorch reference describe the same outputs, every explain kind runs on the
reference, and a manifest that disagrees with itself is refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from export import ExportConfig, export_model
from runtime.backend import BACKENDS
from runtime.contract import EXPLAIN_KINDS, FORMATS, output_names
from runtime.manifest import MANIFEST, ManifestError, read_manifest


@pytest.mark.parametrize("explain", list(EXPLAIN_KINDS))
def test_export_and_reference_describe_the_same_outputs(tiny_vit, tmp_path, explain):
    exported = export_model(tiny_vit, tmp_path / "a", ExportConfig(explain=explain, parity_images=1))
    reference = BACKENDS["torch"](tiny_vit, explain=explain)
    assert exported.outputs == reference.manifest.outputs
    assert list(exported.outputs) == output_names(explain, exported.num_layers)
    assert exported.class_input.get("name") == reference.manifest.class_input.get("name")
    outputs = reference.run(np.zeros((2, 32, 32, 3), np.uint8))
    assert set(outputs) == set(exported.outputs)


def test_every_format_names_a_registered_backend():
    assert {f.backend for f in FORMATS.values()} <= set(BACKENDS)
    assert all(f.precisions and len(set(f.precisions)) == len(f.precisions) for f in FORMATS.values())


def test_attention_outputs_must_match_the_layer_count(tiny_vit, tmp_path):
    folder = tmp_path / "att"
    export_model(tiny_vit, folder, ExportConfig(explain="attentions", parity_images=1))
    raw = json.loads((folder / MANIFEST).read_text())
    raw["num_layers"] += 1
    (folder / MANIFEST).write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="onnx attentions graphs of 3 layers have .*'attention_2'"):
        read_manifest(folder)


def test_explain_kinds_are_told_apart_only_by_the_contract():
    """What an explain kind does is read from its `ExplainKind` (runtime.contract.EXPLAIN), never from
    its name compared as a string somewhere else: a new kind is one entry, not edits in ten files."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    names = "|".join(EXPLAIN_KINDS)
    compared = re.compile(rf"""(==|!=)\s*["']({names})["']|["']({names})["']\s*(==|!=)""")
    found = [f"{path.relative_to(root)}:{i}: {line.strip()}"
             for package in ("_infra", "xai", "runtime", "export", "finetune", "bench", "scripts")
             for path in sorted((root / package).rglob("*.py")) if path != root / "runtime" / "contract.py"
             for i, line in enumerate(path.read_text().splitlines(), 1) if compared.search(line)]
    assert not found, "\n".join(found)
