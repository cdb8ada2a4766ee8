"""Metrics on models whose answers are known exactly, the localization set, and `python -m xai eval`."""
from __future__ import annotations

import numpy as np
import pytest

from xai.localization import INK, make_localization_set
from xai.metrics import METRICS, deletion_insertion as di, localization, perturbation, sanity

SIZE = 8


def key_pixel_model(key=(2, 5)):
    """Class 1 while the key pixel is lit, else class 0 (probabilities 0.9 / 0.1)."""
    def forward(images):
        lit = images[:, key[0], key[1]].max(-1) > 0
        p1 = np.where(lit, 0.9, 0.1)
        return np.stack([1 - p1, p1], axis=1)
    return forward


def white(n=4):
    return np.full((n, SIZE, SIZE, 3), 255, np.uint8)


def map_ranking_key(first: bool, key=(2, 5), n=4):
    """Pixel-level maps at full resolution, so upsampling keeps them exact."""
    maps = np.tile(np.linspace(0.1, 0.5, SIZE * SIZE).reshape(SIZE, SIZE), (n, 1, 1))
    maps[:, key[0], key[1]] = 1.0 if first else 0.0
    return maps


def test_remove_pixels_blacks_out_exactly_the_first_k():
    images = white(1)
    order = np.arange(SIZE * SIZE)[None, ::-1]
    out = perturbation.remove_pixels(images, order, 5)
    assert (out.reshape(-1, 3)[-5:] == 0).all() and (out.reshape(-1, 3)[:-5] == 255).all()
    assert (images == 255).all()  # the input is untouched


def test_perturbation_rewards_the_map_that_finds_the_evidence():
    forward, labels = key_pixel_model(), np.ones(4, int)
    good = perturbation.perturbation_curve(forward, white(), map_ranking_key(True), labels, positive=True)
    assert good[0].all() and not good[1:].any()  # right after the first step the key pixel is gone
    bad = perturbation.perturbation_curve(forward, white(), map_ranking_key(False), labels, positive=True)
    assert perturbation.perturbation_auc(good) == pytest.approx(5.0)  # one trapezoid of height 1 -> 0, width 0.1
    assert perturbation.perturbation_auc(bad) > 50
    neg = perturbation.perturbation_curve(forward, white(), map_ranking_key(True), labels, positive=False)
    assert perturbation.perturbation_auc(neg) == pytest.approx(90.0)  # never removed: accuracy 1 throughout


def test_deletion_and_insertion_curves():
    forward, classes = key_pixel_model(), np.ones(4, int)
    good, bad = map_ranking_key(True), map_ranking_key(False)
    dele_good = di.deletion_curve(forward, white(), good, classes)
    assert dele_good.shape == (di.N_STEPS + 1, 4) and np.allclose(dele_good[1:], 0.1)
    assert di.curve_auc(dele_good) < di.curve_auc(di.deletion_curve(forward, white(), bad, classes))
    ins_good = di.insertion_curve(forward, np.zeros((4, SIZE, SIZE, 3), np.uint8) + white(), good, classes)
    assert di.curve_auc(ins_good) >= di.curve_auc(di.insertion_curve(forward, white(), bad, classes))


def test_insertion_starts_from_a_blur():
    image = np.zeros((1, 32, 32, 3), np.uint8)
    image[0, 16, 16] = 255
    out = di.blurred(image)
    assert out[0, 16, 16, 0] < 255 and out[0, 14, 16, 0] > 0


def test_pointing_game_and_energy_in_box():
    maps = np.zeros((2, SIZE, SIZE), np.float32)
    maps[0, 1, 1] = 1  # inside the box
    maps[1, 6, 6] = 1  # outside
    boxes = np.array([[0, 0, 3, 3], [0, 0, 3, 3]])
    hits = localization.pointing_hits(maps, boxes, (SIZE, SIZE))
    assert hits.tolist() == [True, False]
    energy = localization.energy_in_box(maps, boxes, (SIZE, SIZE))
    assert energy[0] == pytest.approx(1.0) and energy[1] == pytest.approx(0.0)
    half = np.ones((1, SIZE, SIZE), np.float32)
    assert localization.energy_in_box(half, np.array([[0, 0, 4, 8]]), (SIZE, SIZE))[0] == pytest.approx(0.5)


POINTING_CHANCE_ATOL = 0.03  # noise maps' pointing game against the boxes' area share


def test_noise_maps_point_at_the_box_as_often_as_it_covers_the_image():
    loc = make_localization_set(per_digit=1, seed=5)
    size, grid = loc.images.shape[1:3], (8, 8)  # cifar-tiny's patch grid on the 32 px canvases
    noise = np.random.default_rng(0).random((len(loc.boxes), *grid))
    hits = localization.pointing_hits(noise, loc.boxes, size).mean()
    chance = localization.chance_level(loc.boxes, size)
    assert 0.1 < chance < 0.3
    assert abs(hits - chance) < POINTING_CHANCE_ATOL


def test_rank_correlation():
    a = np.random.default_rng(0).random((3, 4, 4))
    assert np.allclose(sanity.rank_correlations(a, a), 1)
    assert np.allclose(sanity.rank_correlations(a, -a), -1)
    assert np.allclose(sanity.rank_correlations(a, np.ones_like(a)), 0)


def test_localization_set_boxes_hold_the_ink_and_are_reproducible():
    a, b = make_localization_set(per_digit=1, seed=3), make_localization_set(per_digit=1, seed=3)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.boxes, b.boxes)
    assert a.images.shape == (1797, 32, 32, 3)
    x0, y0, x1, y1 = a.boxes.T
    assert (x0 < x1).all() and (y0 < y1).all() and (x1 <= 32).all() and (y1 <= 32).all()
    assert INK > 0 and (x1 - x0 <= 16).all()


def test_digits_clutter_split_shares_no_digit():
    from finetune.data import load_data

    data = load_data("digits-clutter")
    assert data.test.boxes is not None and len(data.test.boxes) == len(data.test)
    assert len(data.train) + len(data.test) == 6 * 1797
    image, label = data.test[0]
    assert image.size == (32, 32) and 0 <= label <= 9


def test_metrics_registry_lists_directions():
    assert {m.better for m in METRICS.values()} == {"higher", "lower"}
