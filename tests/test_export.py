"""Export over the registry of formats x precisions x explain kinds, with tiny models from configs."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import LABELS, save_tiny_checkpoint

from export import EXPLAIN_KINDS, PRECISIONS, ExportConfig, ExportError, ParityError, export_model
from export._graph import ExplainedViT
from export.parity import TOLERANCES, parity_images, reference_outputs
from runtime.backend import BACKENDS
from runtime.checkpoint import CheckpointError, load_checkpoint
from runtime.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]
FP32_TOLERANCE = 1e-4  # the bar for logits and rollout at fp32
COMBOS = [(f, p, e) for f, ps in PRECISIONS.items() for p in ps for e in EXPLAIN_KINDS]


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("distilled"), "deit", distilled=True, seed=1)


def test_every_format_has_a_runtime_backend():
    from export import EXPORTERS
    from runtime.contract import FORMATS

    assert set(EXPORTERS) == set(FORMATS) and {f.backend for f in FORMATS.values()} <= set(BACKENDS)


@pytest.mark.parametrize("fmt, precision, explain", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_export_combination(tmp_path, tiny_vit, fmt, precision, explain):
    out = tmp_path / "artifact"
    manifest = export_model(tiny_vit, out, ExportConfig(format=fmt, precision=precision, explain=explain))
    assert manifest.labels == LABELS and manifest.precision == precision and manifest.explain == explain
    assert manifest.patch_grid == [4, 4] and manifest.n_special_tokens == 1 and manifest.num_layers == 2
    assert manifest.source["sha256"] and manifest.preprocessing["mean"] == pytest.approx([0.5, 0.4, 0.3])
    assert ("rollout" in manifest.outputs) == (explain in ("rollout", "attentions"))
    assert ("relevance" in manifest.outputs) == bool(manifest.class_input) == (explain == "gradrollout")
    assert ("attention_1" in manifest.outputs) == (explain == "attentions")
    assert not list(tmp_path.glob(".*partial*")), "no temporary folder may be left behind"
    assert manifest.parity["status"] == "passed", manifest.parity
    assert manifest.parity["top1_agreement"] == 1.0
    if precision == "fp32":
        assert max(o["max_abs_diff"] for o in manifest.parity["outputs"].values()) < FP32_TOLERANCE
    if fmt == "coreml":  # off macOS the check ran through the numpy reference executor
        assert "reference" in manifest.parity["backend"] or sys.platform == "darwin"
        check_coreml_package(out / manifest.model_file, manifest, precision)


def check_coreml_package(path: Path, manifest, precision: str):
    import coremltools as ct

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    image = spec.description.input[0]
    assert image.name == "image" and image.type.WhichOneof("Type") == "imageType"
    assert spec.description.predictedFeatureName == "classLabel"
    outputs = [o.name for o in spec.description.output]
    assert set(outputs) == set(manifest.outputs), outputs
    ops = [op for block in spec.mlProgram.functions["main"].block_specializations.values() for op in block.operations]
    if precision != "fp32":  # every LayerNorm epsilon must survive fp16 (ViT's 1e-12 would be 0)
        eps = [layer_norm_epsilon(op, ops) for op in ops if op.type == "layer_norm"]
        assert eps and min(eps) >= 0.99e-5, eps
    if precision == "int8":
        assert any(op.type.startswith("constexpr_") for op in ops), "int8 weights must be stored compressed"


def layer_norm_epsilon(op, ops) -> float:
    name = op.inputs["epsilon"].arguments[0].name
    const = next(c for c in ops if c.type == "const" and c.outputs[0].name == name)
    tensor = const.attributes["val"].immediateValue.tensor
    return float(np.frombuffer(tensor.bytes.values, np.float16)[0]) if tensor.HasField("bytes") \
        else float(tensor.floats.values[0])


@pytest.mark.parametrize("batch", [1, 7])
def test_dynamic_batch_gives_the_same_per_image_results(tmp_path, tiny_vit, batch):
    manifest = export_model(tiny_vit, tmp_path / "a", ExportConfig())
    backend = BACKENDS["onnx"](tmp_path / "a", manifest)
    images = parity_images(7, (32, 32), seed=3)[:batch]
    together = backend.run(images)
    for i in range(batch):
        alone = backend.run(images[i:i + 1])
        for name in together:
            np.testing.assert_allclose(together[name][i], alone[name][0], atol=1e-5)


def test_dynamic_batch_is_chunked_without_changing_results(tmp_path, tiny_vit):
    manifest = export_model(tiny_vit, tmp_path / "a", ExportConfig())
    backend = BACKENDS["onnx"](tmp_path / "a", manifest)
    images = parity_images(7, (32, 32), seed=4)
    whole = backend.run(images)
    backend.max_batch = 3
    chunked = backend.run_batched(images)
    for name in whole:
        np.testing.assert_allclose(chunked[name], whole[name], atol=1e-5)


def test_fixed_batch_export_runs_any_number_of_images(tmp_path, tiny_vit):
    manifest = export_model(tiny_vit, tmp_path / "b3", ExportConfig(batch=3))
    assert manifest.input["shape"][0] == 3
    backend = BACKENDS["onnx"](tmp_path / "b3", manifest)
    out = backend.run_batched(parity_images(5, (32, 32)))
    assert out["rollout"].shape == (5, 4, 4)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_distilled_deit_two_special_tokens(tmp_path, distilled, precision):
    manifest = export_model(distilled, tmp_path / "d", ExportConfig(precision=precision, parity_images=6))
    assert manifest.n_special_tokens == 2 and manifest.source["architecture"] == "DeiTForImageClassificationWithTeacher"
    assert manifest.parity["status"] == "passed"
    if precision == "fp32":
        assert manifest.parity["outputs"]["rollout"]["max_abs_diff"] < FP32_TOLERANCE
        assert manifest.parity["outputs"]["logits"]["max_abs_diff"] < FP32_TOLERANCE


def test_onnx_outputs_match_an_independent_pytorch_run(tmp_path, tiny_deit):
    manifest = export_model(tiny_deit, tmp_path / "x", ExportConfig(explain="attentions"))
    images = parity_images(3, (32, 32), seed=11)
    got = BACKENDS["onnx"](tmp_path / "x", manifest).run(images)
    ref = reference_outputs(load_checkpoint(tiny_deit), images, "attentions")
    for name in ("logits", "probs", "rollout", "attention_0", "attention_1"):
        np.testing.assert_allclose(got[name], ref[name], atol=FP32_TOLERANCE, err_msg=name)


def test_coreml_graph_input_math_matches_the_processor(tiny_vit):
    """The Core ML graph sees pixel/255 - mean (ImageType scale and bias); std is folded in."""
    checkpoint = load_checkpoint(tiny_vit)
    images = parity_images(2, (32, 32))
    centred = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - torch.tensor(checkpoint.mean).view(1, 3, 1, 1)
    graph = ExplainedViT(checkpoint, "rollout", input_kind="centred_nchw")
    with torch.no_grad():
        logits, _, heatmap = graph(centred)
    ref = reference_outputs(checkpoint, images, "rollout")
    np.testing.assert_allclose(logits.numpy(), ref["logits"], atol=1e-5)
    np.testing.assert_allclose(heatmap.numpy(), ref["rollout"], atol=1e-5)


def test_fp16_graph_raises_layernorm_epsilon(tiny_vit):
    checkpoint = load_checkpoint(tiny_vit)
    assert checkpoint.model.config.layer_norm_eps < 1e-7
    graph = ExplainedViT(checkpoint, "none", input_kind="centred_nchw", fp16_safe=True)
    assert min(m.eps for m in graph.modules() if isinstance(m, torch.nn.LayerNorm)) >= 1e-5
    assert min(m.eps for m in checkpoint.model.modules() if isinstance(m, torch.nn.LayerNorm)) < 1e-7


def test_parity_failure_lists_every_output_and_leaves_nothing(tmp_path, tiny_vit, monkeypatch):
    monkeypatch.setitem(TOLERANCES, "int8", {k: 0.0 for k in TOLERANCES["int8"]})
    with pytest.raises(ParityError) as e:
        export_model(tiny_vit, tmp_path / "q", ExportConfig(precision="int8"))
    message = str(e.value)
    assert all(name in message for name in ("logits", "probs", "rollout")) and "FAIL" in message
    assert [p.name for p in tmp_path.iterdir()] == [".q.lock"], "a failed export leaves nothing but its lock file"


def test_refusals(tmp_path, tiny_vit):
    from transformers import ViTConfig, ViTModel

    with pytest.raises(CheckpointError, match="does not exist"):
        export_model(tmp_path / "missing", tmp_path / "o")
    ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8)).save_pretrained(tmp_path / "backbone")
    with pytest.raises(CheckpointError, match="not an image classifier"):
        export_model(tmp_path / "backbone", tmp_path / "o")
    with pytest.raises(CheckpointError, match="Hugging Face hub"):
        export_model("google/vit-base-patch16-224", tmp_path / "o")
    with pytest.raises(ExportError) as e:
        export_model(tiny_vit, tmp_path / "o", ExportConfig(format="tflite", explain="gradcam", batch=0))
    assert "known: onnx, coreml" in str(e.value) and "known: rollout" in str(e.value) and "--batch" in str(e.value)
    export_model(tiny_vit, tmp_path / "o", ExportConfig(explain="none"))
    with pytest.raises(ExportError, match="--force"):
        export_model(tiny_vit, tmp_path / "o", ExportConfig())
    assert read_manifest(tmp_path / "o").explain == "none", "a refused export must not touch the old artifact"
    assert export_model(tiny_vit, tmp_path / "o", ExportConfig(force=True)).explain == "rollout"


def test_cli(tmp_path, tiny_vit):
    out = tmp_path / "cli"
    ok = subprocess.run([sys.executable, "-m", "export", "onnx", str(tiny_vit), "--out", str(out), "--precision",
                         "int8"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "parity with PyTorch: passed" in ok.stdout
    assert json.loads((out / "manifest.json").read_text())["precision"] == "int8"
    bad = subprocess.run([sys.executable, "-m", "export", "onnx", str(tmp_path / "nope"), "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.startswith("error: ")
