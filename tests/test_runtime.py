"""runtime: one Predictor over the backend registry; any image in; bad images never stop a batch."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from export import ExportConfig, export_model
from runtime import BACKENDS, ManifestError, load
from runtime.images import MAX_SIDE, ImageLoadError, to_rgb, upsample_all

ROOT = Path(__file__).resolve().parents[1]
HEATMAP_TOLERANCE = 1e-4  # fp32 export tolerance, as in export.parity
ON_MAC = platform.system() == "Darwin"


@pytest.fixture(scope="module")
def artifacts(tiny_vit, tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    return {"torch": tiny_vit,
            "onnx": export_model(tiny_vit, root / "onnx", ExportConfig()) and root / "onnx",
            "onnx-attentions": export_model(tiny_vit, root / "att", ExportConfig(explain="attentions")) and root / "att",
            "coreml": export_model(tiny_vit, root / "coreml", ExportConfig(format="coreml", precision="fp32"))
            and root / "coreml",
            "openvino": root / "onnx"}  # OpenVINO reads the ONNX artifact


def sample_images(tmp_path: Path) -> list:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.jpg")
    return [tmp_path / "photo.jpg", Image.fromarray(rgb).convert("L"), rgb, Image.fromarray(rgb).convert("P")]


def test_every_backend_is_tested():
    assert set(BACKENDS) == {"torch", "onnx", "coreml", "openvino"}, "add the new backend to test_backends_agree"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_backends_agree_with_torch(artifacts, tmp_path, backend):
    images = sample_images(tmp_path)
    reference = load(artifacts["torch"]).predict(images)
    if backend == "openvino":
        pytest.importorskip("openvino", reason="optional dependency")
    predictor = load(artifacts[backend], backend=backend)
    if backend == "coreml" and not ON_MAC:
        assert "reference executor" in predictor.backend.label
    got = predictor.predict(images)
    assert got.top1 == reference.top1
    np.testing.assert_allclose(got.probs, reference.probs, atol=1e-4)
    np.testing.assert_allclose(got.heatmaps, reference.heatmaps, atol=HEATMAP_TOLERANCE)
    assert [h.shape for h in got.heatmaps_full] == [(37, 53)] * 4


def test_attentions_artifact_gets_rollout_from_xai(artifacts, tmp_path):
    images = sample_images(tmp_path)
    a, b = load(artifacts["onnx"]).predict(images), load(artifacts["onnx-attentions"]).predict(images)
    np.testing.assert_allclose(a.heatmaps, b.heatmaps, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda: Image.new("RGB", (1, 1), (200, 10, 10)),
    lambda: Image.new("RGB", (4000, 3000), (10, 200, 10)),
    lambda: Image.new("RGBA", (40, 30), (0, 0, 255, 128)),
    lambda: Image.new("L", (30, 40), 128),
    lambda: Image.new("P", (30, 40), 3),
    lambda: Image.new("CMYK", (30, 40), (0, 255, 255, 0)),
    lambda: Image.new("I;16", (30, 40), 30000),
    lambda: np.zeros((20, 10), np.uint8),
    lambda: np.zeros((20, 10, 4), np.uint8),
], ids=["1x1", "4000x3000", "RGBA", "L", "P", "CMYK", "I16", "gray-array", "rgba-array"])
def test_unusual_sizes_and_modes(artifacts, make):
    item = make()
    prediction = load(artifacts["onnx"]).predict(item)
    assert not prediction.errors and prediction.probs.shape == (1, 4)
    w, h = item.size if isinstance(item, Image.Image) else item.shape[1::-1]
    scale = min(1.0, MAX_SIDE / max(w, h))  # large images are reduced to MAX_SIDE for the heatmap and pictures
    assert prediction.heatmaps_full[0].shape == (round(h * scale), round(w * scale)) == prediction.images[0].size[::-1]


def test_batched_upsampling_matches_pil_per_image():
    rng = np.random.default_rng(0)
    maps = rng.random((6, 4, 6)).astype(np.float32)
    sizes = [(32, 32), (7, 300), (1, 1), (32, 32), (61, 13), (3, 2)]  # (W, H): enlarging, shrinking, repeated
    got = upsample_all(maps, sizes)
    for m, size, g in zip(maps, sizes, got):
        want = np.asarray(Image.fromarray(m, mode="F").resize(size, Image.Resampling.BILINEAR))
        assert g.shape == want.shape and np.abs(g - want).max() < 1e-6


def test_rgba_is_composited_on_white_and_exif_orientation_applied(tmp_path):
    assert to_rgb(Image.new("RGBA", (2, 2), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)
    image = Image.new("RGB", (40, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert to_rgb(tmp_path / "rotated.jpg").size == (20, 40)


def test_bad_files_never_stop_the_batch(artifacts, tmp_path):
    good = sample_images(tmp_path)[0]
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    data = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    bad = [tmp_path / "empty.jpg", tmp_path / "text.png", tmp_path / "truncated.jpg", tmp_path / "missing.jpg",
           np.zeros((5, 5), np.float32)]
    prediction = load(artifacts["onnx"]).predict([bad[0], good, *bad[1:]])
    assert prediction.predicted == [1] and prediction.sources[1] == str(good)  # each input keeps its place
    assert [Path(s).name for s, _ in prediction.errors[:4]] == ["empty.jpg", "text.png", "truncated.jpg", "missing.jpg"]
    assert len(prediction.errors) == 5
    with pytest.raises(ImageLoadError):
        to_rgb(tmp_path / "truncated.jpg")


def test_manifest_that_disagrees_with_its_model_is_refused(artifacts, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(artifacts["onnx"], broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["labels"].append("extra")
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="5 labels"):
        load(broken)
    manifest["outputs"]["heatmap"] = manifest["outputs"].pop("rollout")
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"outputs \['heatmap', 'logits', 'probs'\]; onnx rollout graphs"):
        load(broken)
    (broken / "manifest.json").write_text("{")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load(broken)


def test_cli_predict_writes_pictures_and_reports_failures(artifacts, tmp_path):
    good = sample_images(tmp_path)[0]
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    proc = subprocess.run([sys.executable, "-m", "runtime", "predict", str(artifacts["onnx"]), str(good),
                           str(tmp_path / "bad.jpg"), "--out", str(tmp_path / "pics")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "ERROR" in proc.stdout and "photo.jpg" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "pics").iterdir()) == ["000_photo_explain.png", "000_photo_probs.png",
                                                                 "predictions.json"]
    compare = subprocess.run([sys.executable, "-m", "runtime", "compare", str(artifacts["onnx"]),
                              str(artifacts["torch"]), str(good), "--out", str(tmp_path / "cmp")],
                             capture_output=True, text=True, cwd=ROOT)
    assert compare.returncode == 0, compare.stderr[-2000:]
    assert (tmp_path / "cmp" / "000_photo_compare.png").is_file()
