"""`bench scenario xai-quantus-speed`: its rows from the timed seconds (the run itself is the SMOKE
run of tests/test_bench_scenarios.py), Quantus's layouts, and its refusals before any work."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from bench.__main__ import main
from bench.scenarios import xai_quantus_speed as scenario


def test_a_row_is_images_per_second_from_the_median_and_ours_over_quantus():
    seconds = {"ours": [1.0, 9.0, 2.0], "quantus": [8.0, 4.0, 5.0]}  # medians 2 s and 5 s
    row = scenario.row("linear, patch 16", "road (MoRF, 9 steps)", seconds, images=10, image_size=224)
    assert row["ours_ips"] == pytest.approx(5.0) and row["quantus_ips"] == pytest.approx(2.0)
    assert row["ratio"] == pytest.approx(2.5), "ours / Quantus: above 1 when ours is faster"
    assert (row["images"], row["image_size"]) == (10, 224)
    assert {c["key"] for c in scenario.columns()} == set(row)


def test_packing_a_pixel_into_one_float_is_exact_and_grey_rounds_as_road():
    images = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    assert np.array_equal(scenario.unpack(scenario.pack(images).astype(np.float32)), images)
    grey = np.array([0.0, 0.5 / 255, 1.5 / 255, 1.0]).reshape(1, 1, 1, 4)
    assert scenario.from_grey(grey)[0, 0, :, 0].tolist() == [0, 0, 2, 255]


def test_sizes_not_a_multiple_of_the_patch_are_listed_together():
    args = SimpleNamespace(models=["vit", "linear"], vit_size=30, vit_patch=4, linear_size=224, linear_patch=15)
    assert scenario.problems(args) == ["--vit-size 30 is not a multiple of --vit-patch 4",
                                       "--linear-size 224 is not a multiple of --linear-patch 15"]
    assert scenario.problems(SimpleNamespace(**{**vars(args), "models": ["vit"], "vit_size": 32})) == []


def test_without_quantus_it_says_what_to_install_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "quantus", None)  # `import quantus` raises ModuleNotFoundError
    status = main(["scenario", scenario.NAME, *scenario.SMOKE, "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "quantus" in err and 'pip install "explainable-vit[test]"' in err, err
    assert not list(tmp_path.iterdir())


def test_another_quantus_version_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "quantus", SimpleNamespace(__version__="0.7.1"))
    assert main(["scenario", scenario.NAME, *scenario.SMOKE, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Quantus 0.6, found 0.7.1" in err and len(err.strip().splitlines()) == 1, err
