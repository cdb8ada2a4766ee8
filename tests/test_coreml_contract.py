"""The Core ML contract an app relies on: fp32 MultiArray outputs at every precision, the model's
own metadata (labels, grid, heatmap, fitting, parity, author/licence/version), the manifest check
for Core ML artifacts, and class indices out of range refused by every backend."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import LABELS, save_tiny_checkpoint

import runtime
from export import PRECISIONS, ExportConfig, export_model
from export.__main__ import build_parser
from export.config import cli_fields
from runtime import BACKENDS, ManifestError
from runtime.backend import ClassIndexError
from runtime.coreml import METADATA_PREFIX, PREVIEW_KEY, describe_spec_outputs, read_model_metadata

ARTIFACTS = [("coreml", p, "rollout") for p in PRECISIONS["coreml"]] + [("coreml", "int8", "gradrollout")]
BAD_CLASSES = [-2, len(LABELS), 99]  # below -1, the first index past the last class, far out


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("contract") / "vit", "vit", seed=5)


@pytest.fixture(scope="module")
def artifacts(checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("contract-artifacts")
    cfg = {"author": "Example Lab", "license": "MIT"}
    return {combo: _export(checkpoint, root / "-".join(combo), *combo, **cfg) for combo in ARTIFACTS}


def _export(checkpoint, out, fmt, precision, explain, **extra):
    export_model(checkpoint, out, ExportConfig(format=fmt, precision=precision, explain=explain, **extra))
    return out


@pytest.mark.parametrize("combo", ARTIFACTS, ids=["-".join(c) for c in ARTIFACTS])
def test_every_multiarray_output_is_fp32(artifacts, combo):
    package = artifacts[combo] / "model.mlpackage"
    import coremltools as ct

    outputs = describe_spec_outputs(ct.models.MLModel(str(package), skip_model_load=True).get_spec())
    arrays = {n: o["dtype"] for n, o in outputs.items() if o["dtype"] not in ("string", "dict[label, float]")}
    assert arrays and set(arrays.values()) == {"float32"}, arrays
    assert runtime.load(artifacts[combo]).backend.describe_outputs() == outputs  # and the manifest agrees


@pytest.mark.parametrize("combo", ARTIFACTS, ids=["-".join(c) for c in ARTIFACTS])
def test_model_carries_the_facts_an_app_reads(artifacts, combo):
    folder = artifacts[combo]
    manifest = json.loads((folder / "manifest.json").read_text())
    meta = read_model_metadata(folder / "model.mlpackage")
    flat = {k[len(METADATA_PREFIX):]: v for k, v in meta.items() if k.startswith(METADATA_PREFIX)}
    assert json.loads(flat["labels"]) == LABELS and json.loads(flat["grid"]) == [4, 4]
    assert json.loads(flat["image_size"]) == [32, 32] and flat["image_fit"] == "stretch"
    assert flat["heatmap_output"] == {"rollout": "rollout", "gradrollout": "relevance"}[combo[2]]
    assert flat["heatmap_meaning"] and flat["special_tokens"] == "1"
    assert flat["class_input"] == ("target" if combo[2] == "gradrollout" else "")
    assert flat["source_sha256"] == manifest["source"]["sha256"] and flat["parity"] == manifest["parity"]["status"]
    assert flat["toolkit_version"] == manifest["versions"]["explainable-vit"]
    embedded = json.loads(flat["manifest"])  # the whole sidecar, with the final parity; a model cannot hold
    assert embedded.pop("files") == {} and manifest.pop("files")  # its own hashes: only the sidecar's has them
    assert embedded == manifest
    assert meta[PREVIEW_KEY] == "imageClassifier"


def test_author_license_version_from_options_with_defaults(artifacts):
    import coremltools as ct

    model = ct.models.MLModel(str(artifacts[ARTIFACTS[0]] / "model.mlpackage"), skip_model_load=True)
    defaults = ExportConfig()
    assert (model.author, model.license, model.version) == ("Example Lab", "MIT", defaults.version)
    assert defaults.author and defaults.license and defaults.version


def test_export_flags_are_generated_from_the_config():
    names = [f.name for f in cli_fields("coreml")]
    assert {"author", "license", "version"} <= set(names)
    args = build_parser().parse_args(["coreml", "ckpt", "--out", "x", "--author", "A", "--version", "2.1"])
    assert (args.author, args.version, args.license) == ("A", "2.1", ExportConfig().license)


def test_manifest_check_covers_coreml_artifacts(artifacts, tmp_path):
    folder = tmp_path / "tampered"
    shutil.copytree(artifacts[ARTIFACTS[0]], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["outputs"]["logits"]["dtype"] = "float16"
    manifest["labels"] = manifest["labels"] + ["extra"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError) as e:
        runtime.load(folder)
    assert "float32" in str(e.value) and "4 classes" in str(e.value)
    # the model carries the manifest it was exported with: every edited field is named
    assert "manifest says labels" in str(e.value) and "manifest says outputs" in str(e.value)


@pytest.fixture(scope="module")
def gradrollout_backends(checkpoint, artifacts, tmp_path_factory):
    """Every registered backend, serving a class-specific (gradrollout) model."""
    onnx = _export(checkpoint, tmp_path_factory.mktemp("contract-onnx") / "a", "onnx", "fp32", "gradrollout")
    folders = {"onnx": onnx, "openvino": onnx, "coreml": artifacts[("coreml", "int8", "gradrollout")]}
    backends = {name: runtime.load(folders[name], backend=name).backend for name in BACKENDS if name in folders}
    backends["torch"] = BACKENDS["torch"](checkpoint, explain="gradrollout")
    assert set(backends) == set(BACKENDS), "a new backend needs a gradrollout artifact here"
    return backends


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("bad", BAD_CLASSES)
def test_out_of_range_class_is_an_error_in_every_backend(gradrollout_backends, backend, bad):
    images = np.zeros((1, 32, 32, 3), np.uint8)
    with pytest.raises(ClassIndexError, match=f"class index {bad} out of range 0..{len(LABELS) - 1}"):
        gradrollout_backends[backend].run_batched(images, np.array([bad]))
    predictor = runtime.Predictor(gradrollout_backends[backend])
    with pytest.raises(ClassIndexError):
        predictor.predict(images[0], explain_class=bad)
