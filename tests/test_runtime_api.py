"""The Python API as a caller meets it: one entry per input in order (a failed input keeps its place),
the overlay as a Pillow image (matplotlib's jet, no matplotlib needed), typed load options whose
misspelling is the caller's TypeError."""
from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from export import ExportConfig, export_model
from runtime import ToolkitError, load
from runtime.predictor import UnknownOption

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def artifacts(tiny_vit, tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    return {explain: export_model(tiny_vit, root / explain, ExportConfig(explain=explain, parity_images=1))
            and root / explain for explain in ("rollout", "none")}


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(1)
    good = tmp_path / "good.png"
    Image.fromarray(rng.integers(0, 256, (30, 44, 3), dtype=np.uint8)).save(good)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    array = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    return good, tmp_path / "broken.jpg", array


def test_each_input_keeps_its_place_with_its_error(artifacts, photos):
    good, broken, array = photos
    predictor = load(artifacts["rollout"])
    p = predictor.predict([broken, good, np.zeros((4, 4), np.float32), array], top_k=2)
    alone = [predictor.predict(good, top_k=2), predictor.predict(array, top_k=2)]
    assert len(p) == 4 and p.predicted == [1, 3]
    assert p.sources[0] == str(broken) and p.sources[1] == str(good)
    assert "broken.jpg" in p.error[0] and "dtype float32" in p.error[2] and p.error[1] is None
    assert p.top_k[0] == [] and p.top_k[1] == alone[0].top_k[0] and p.top_k[3] == alone[1].top_k[0]
    assert p.top1 == [None, alone[0].top1[0], None, alone[1].top1[0]]
    assert np.isnan(p.probs[[0, 2]]).all() and np.isnan(p.heatmaps[[0, 2]]).all()
    np.testing.assert_allclose(p.probs[[1, 3]], np.concatenate([a.probs for a in alone]), atol=1e-6)
    assert p.images[0] is None and p.heatmaps_full[2] is None and p.heatmaps_full[3].shape == (20, 24)
    assert [s for s, _ in p.errors] == [str(broken), "<ndarray #2>"]


def test_only_failed_inputs_still_give_one_entry_each(artifacts, photos):
    _, broken, _ = photos
    p = load(artifacts["rollout"]).predict([broken, broken])
    assert len(p) == 2 and p.predicted == [] and p.probs.shape == (2, 4) and p.heatmaps.shape == (2, 4, 4)


def test_overlay_is_matplotlibs_jet_blended_over_the_photo(artifacts, photos):
    """The overlay against matplotlib's own colour map, computed here independently."""
    from matplotlib import colormaps

    good, broken, _ = photos
    p = load(artifacts["rollout"]).predict([broken, good])
    overlay = p.overlay(1)
    assert isinstance(overlay, Image.Image) and overlay.mode == "RGB" and overlay.size == (44, 30)
    heatmap = p.heatmaps_full[1]
    stretched = (heatmap - heatmap.min()) / (heatmap.max() - heatmap.min())
    jet = colormaps["jet"](stretched.astype(np.float32), bytes=True)[..., :3].astype(np.float64)
    expected = np.floor(0.5 * jet + 0.5 * np.asarray(p.images[1], np.float64) + 0.5).astype(np.uint8)
    assert np.array_equal(np.asarray(overlay), expected)
    picture = p.picture(1)
    assert isinstance(picture, Image.Image) and picture.width > 2 * picture.height * 0.9


def test_overlay_says_why_there_is_none(artifacts, photos):
    good, broken, _ = photos
    p = load(artifacts["rollout"]).predict([broken, good])
    with pytest.raises(ToolkitError, match=r"input 0 \(.*broken.jpg\) was not predicted"):
        p.overlay(0)
    plain = load(artifacts["none"]).predict(good)
    assert plain.heatmaps is None and plain.heatmaps_full == []
    with pytest.raises(ToolkitError, match="--explain none: there is no heatmap"):
        plain.overlay(0)


def test_overlay_needs_no_matplotlib(artifacts, photos):
    good = photos[0]
    script = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("matplotlib is not installed in this test")
sys.meta_path.insert(0, Block())
import runtime
p = runtime.load({str(artifacts['rollout'])!r}).predict({str(good)!r})
print(p.overlay(0).size, p.picture(0).mode)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "(44, 30) RGB", done.stderr[-2000:]


def test_load_options_are_typed_keywords():
    parameters = inspect.signature(load).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    options = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert {"threads", "providers", "compute_units", "reference", "precision", "explain", "revision"} <= set(options)
    assert all(parameters[name].annotation != inspect.Parameter.empty for name in options)


def test_a_misspelt_option_is_the_callers_mistake(artifacts):
    with pytest.raises(TypeError, match=r"unknown option 'thread' \(did you mean 'threads'\?\)") as caught:
        load(artifacts["rollout"], thread=2)
    assert isinstance(caught.value, ToolkitError) and "cannot load it" not in str(caught.value)
    with pytest.raises(UnknownOption, match=r"'compute_units' is not one the onnx backend takes.*for: coreml"):
        load(artifacts["rollout"], compute_units="cpu")
    with pytest.raises(UnknownOption, match="'revision' is for a hub id"):
        load(artifacts["rollout"], revision="main")
    assert load(artifacts["rollout"], threads=1).backend.session.get_session_options().intra_op_num_threads == 1


def test_a_misspelt_option_on_the_command_line_path_is_one_line(artifacts, capsys):
    from _infra.cli import run_cli

    assert run_cli(lambda: load(artifacts["rollout"], thraeds=1) and 0) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: load(): unknown option 'thraeds' (did you mean 'threads'?)"
