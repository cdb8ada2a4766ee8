"""Gradient-weighted rollout inside the exported graphs: ONNX and Core ML against PyTorch autograd
(`xai`'s method on the checkpoint), for the predicted class and for named classes."""
from __future__ import annotations

import numpy as np
import pytest

import runtime
from conftest import LABELS, save_tiny_checkpoint
from export import ExportConfig, export_model
from export.parity import parity_images
from runtime.checkpoint import load_checkpoint
from runtime.torch import run_checkpoint

FP32_TOLERANCE = 1e-4  # the bar for relevance at fp32
FORMATS = ("onnx", "coreml")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("gradrollout")
    return {"vit": save_tiny_checkpoint(root / "vit", "vit", seed=3),
            "deit-distilled": save_tiny_checkpoint(root / "deit", "deit", distilled=True, seed=4)}


@pytest.fixture(scope="module")
def artifacts(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("gradrollout-artifacts")
    return {(kind, fmt): export_model(models[kind], root / f"{kind}-{fmt}",
                                      ExportConfig(format=fmt, precision="fp32", explain="gradrollout")) and root / f"{kind}-{fmt}"
            for kind in models for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", ["vit", "deit-distilled"])
@pytest.mark.parametrize("batch", [1, 3])
def test_relevance_matches_autograd_for_each_class(models, artifacts, kind, fmt, batch):
    predictor = runtime.load(artifacts[kind, fmt])
    checkpoint = load_checkpoint(models[kind])
    images = parity_images(batch, (32, 32), seed=11)
    maps = {}
    for target in (-1, 0, 1, 3):
        targets = np.full(batch, target)
        ours = predictor.backend.run_batched(images, targets)
        reference = run_checkpoint(checkpoint, images, "gradrollout", targets)
        assert ours["relevance"].shape == (batch, 4, 4)
        np.testing.assert_allclose(ours["relevance"], reference["relevance"], atol=FP32_TOLERANCE)
        np.testing.assert_allclose(ours["logits"], reference["logits"], atol=FP32_TOLERANCE)
        maps[target] = ours["relevance"]
    assert not np.allclose(maps[0], maps[1], atol=1e-3) and not np.allclose(maps[1], maps[3], atol=1e-3)
    predicted = run_checkpoint(checkpoint, images, "gradrollout")["logits"].argmax(-1)
    for i, c in enumerate(predicted):  # -1 is the predicted class
        if c in maps:
            np.testing.assert_allclose(maps[-1][i], maps[c][i], atol=FP32_TOLERANCE)


def test_predict_explains_a_named_class(artifacts):
    predictor = runtime.load(artifacts["vit", "onnx"])
    images = list(parity_images(2, (32, 32), seed=2))
    by_name = predictor.predict(images, explain_class=LABELS[2]).heatmaps
    by_index = predictor.predict(images, explain_class=2).heatmaps
    np.testing.assert_array_equal(by_name, by_index)
    assert not np.allclose(by_name, predictor.predict(images, explain_class=0).heatmaps, atol=1e-3)
    with pytest.raises(ValueError, match="unknown class 'zebra'"):
        predictor.predict(images, explain_class="zebra")
    with pytest.raises(ValueError, match="out of range"):
        predictor.predict(images, explain_class=9)


def test_rollout_artifacts_refuse_a_named_class(tmp_path, models):
    export_model(models["vit"], tmp_path / "r", ExportConfig(format="onnx"))
    with pytest.raises(ValueError, match="--explain gradrollout"):
        runtime.load(tmp_path / "r").predict(list(parity_images(1, (32, 32))), explain_class=1)


def test_torch_backend_serves_gradrollout(models):
    predictor = runtime.load(models["vit"], explain="gradrollout")
    assert predictor.manifest.heatmap_output == "relevance" and predictor.manifest.class_input
    heatmaps = predictor.predict(list(parity_images(2, (32, 32))), explain_class=1).heatmaps
    assert heatmaps.shape == (2, 4, 4) and np.isclose(heatmaps.max(axis=(1, 2)), 1).all()


def test_predict_cli_draws_one_panel_per_named_class(artifacts, tmp_path):
    from PIL import Image

    from runtime.__main__ import main

    Image.fromarray(parity_images(1, (40, 30))[0]).save(tmp_path / "photo.png")
    code = main(["predict", str(artifacts["vit", "onnx"]), str(tmp_path / "photo.png"), "--out", str(tmp_path / "p"),
                 "--explain-class", LABELS[0], "2"])
    assert code == 0
    assert (tmp_path / "p" / "000_photo_classes.png").stat().st_size > 0
