"""The Swift package's goldens stay what the Python side computes, and the overlay pixels follow
the pictures' rules (stretch, jet's 8-bit table, alpha blend rounded half up); the Swift image path
uses the runtime's cap and filters."""
from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from xai.plots import OVERLAY_ALPHA, overlay_pixels

ROOT = Path(__file__).resolve().parents[1]
GOLDENS = ROOT / "apple" / "Tests" / "ExplainableViTTests" / "Goldens"
# Re-running the same export on another CPU (AVX2 or AVX-512 BLAS kernels) sums in another order;
# the fp16 program rounds that 1e-7 apart to neighbouring fp16 values: a photo's logits one fp16
# step apart (1.2e-4 at 0.1), its grid and heatmap a few (5e-4), its overlay 3 levels (measured).
FP16_STEPS = 4 * 2.0 ** -10  # relative to max(1, |value|): four steps of fp16's 10-bit mantissa
OVERLAY_LEVELS = 4
GOLDEN_BUDGET_BYTES = 1_000_000  # committed goldens stay under 1 MB


def _script():
    spec = importlib.util.spec_from_file_location("apple_goldens", ROOT / "scripts" / "apple_goldens.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("goldens")
    _script().write_goldens(out, tmp_path_factory.mktemp("goldens-work"))
    return out


def test_committed_goldens_are_small():
    assert sum(p.stat().st_size for p in GOLDENS.glob("*.json")) < GOLDEN_BUDGET_BYTES


def _array(text: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


@pytest.mark.parametrize("name", ["images"] + sorted(_script().KINDS) + ["colourmap"])
def test_committed_goldens_match_a_fresh_export(regenerated, name):
    committed, fresh = (json.loads((folder / f"{name}.json").read_text()) for folder in (GOLDENS, regenerated))
    if name in ("colourmap", "images"):  # integer pixel work only: exactly equal on any host
        assert committed == fresh
        return
    volatile = "explainable_vit.manifest"  # carries library versions; its own keys are checked flat
    assert {k: v for k, v in committed["metadata"].items() if k != volatile} == \
           {k: v for k, v in fresh["metadata"].items() if k != volatile}
    assert len(committed["cases"]) == len(fresh["cases"])
    for a, b in zip(committed["cases"], fresh["cases"]):
        assert (a["name"], a["top3"], a["explain_class"]) == (b["name"], b["top3"], b["explain_class"])
        for key in ("logits", "probabilities", "grid", "heatmap"):
            x, y = (np.asarray(_array(c[key], "<f4") if key == "heatmap" else c[key], np.float64) for c in (a, b))
            assert x.shape == y.shape and (np.abs(x - y) <= FP16_STEPS * np.maximum(1.0, np.abs(x))).all(), (a["name"], key)
        overlays = [_array(c["overlay"], np.uint8).astype(int) for c in (a, b)]
        assert np.abs(overlays[0] - overlays[1]).max() <= OVERLAY_LEVELS


def test_golden_model_and_photos_are_not_square():
    images = json.loads((GOLDENS / "images.json").read_text())
    h, w = images["input_size"]
    assert h != w and h // images["patch"] != w // images["patch"]
    photos = images["photos"]
    assert all(p["width"] != p["height"] for p in photos)
    assert any(p["orientation"] in (5, 6, 7, 8) for p in photos) and any(p["alpha"] for p in photos)
    assert any(max(p["raw_width"], p["raw_height"]) > p["max_side"] for p in photos)  # the cap is exercised


def test_overlay_pixels_blend_jet_over_the_photo():
    photo = np.full((2, 3, 3), 100, np.uint8)
    heatmap = np.array([[0.0, 0.5, 1.0], [0.25, 0.75, 1.0]], np.float32)
    out = overlay_pixels(photo, heatmap)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8 and (out[..., 3] == 255).all()
    # jet's first entry is dark blue (0, 0, 127), its last dark red (127, 0, 0): blended half and half
    blend = lambda c: int(np.floor(OVERLAY_ALPHA * c + (1 - OVERLAY_ALPHA) * 100 + 0.5))  # noqa: E731
    assert out[0, 0, :3].tolist() == [blend(0), blend(0), blend(127)]
    assert out[0, 2, :3].tolist() == [blend(127), blend(0), blend(0)]
    flat = overlay_pixels(photo, np.full((2, 3), 0.7, np.float32))  # flat maps show as the lowest colour
    assert (flat[..., :3] == out[0, 0, :3]).all()


def _swift(name: str) -> str:
    return (ROOT / "apple" / "Sources" / "ExplainableViT" / name).read_text()


def test_swift_reads_the_keys_python_writes():
    import re

    from runtime.coreml import APP_KEYS, METADATA_PREFIX, METADATA_SCHEMA

    source = _swift("ModelMetadata.swift")
    read = set(re.findall(r'reader\.(?:string|json)\("(\w+)"', source))
    assert read and read <= set(APP_KEYS), sorted(read - set(APP_KEYS))
    assert f'prefix = "{METADATA_PREFIX}"' in source and f'schema = "{METADATA_SCHEMA}"' in source


def test_swift_compute_units_are_the_runtimes():
    import re

    from runtime.coreml import COMPUTE_UNITS

    assert re.findall(r'case \w+ = "([^"]+)"', _swift("ComputeUnits.swift")) == list(COMPUTE_UNITS)


def test_swift_image_path_uses_the_runtimes_cap_and_filters():
    import re

    from runtime.images import MAX_SIDE, RESAMPLE

    source = _swift("ImagePreprocessing.swift")
    assert f"public static let maxSide = {MAX_SIDE}" in source
    enum = re.search(r"enum ResampleFilter[^{]*\{\s*case ([^\n]+)", source).group(1)
    assert set(re.findall(r"\w+", enum)) == set(RESAMPLE) - {"nearest"}
