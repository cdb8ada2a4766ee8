"""Metrics on models whose answers are known exactly, the localization set, and `python -m xai eval`."""
from __future__ import annotations

import numpy as np
import pytest

from finetune.localization import INK, make_localization_set
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


FILL = np.array([128, 100, 80], np.uint8)  # the synthetic model's mean colour
REGION = (slice(8, 16), slice(16, 24))  # where its evidence lies: patches (2..3, 4..5) of 4 px


def region_evidence_model(images):
    """Class 1's probability grows with the evidence region's contrast: how far its pixels stray
    from the mean colour (what deletion removes and the blur flattens); class 0 otherwise."""
    contrast = np.abs(images[:, REGION[0], REGION[1]].astype(np.float64) - FILL).mean(axis=(1, 2, 3))
    p1 = 1 - np.exp(-contrast / 20)
    return np.stack([1 - p1, p1], axis=1)


def evidence_maps(n=8, seed=0):
    """Patch maps (8 x 8 on 32 px images): the region marked, its inverse, and uniform noise."""
    rng = np.random.default_rng(seed)
    correct = 0.1 * rng.random((n, 8, 8))
    correct[:, 2:4, 4:6] = 1
    return {"correct": correct, "inverted": 1 - correct, "random": rng.random((n, 8, 8))}


def test_deletion_and_insertion_rank_a_correct_map_above_random_above_an_inverted_one():
    rng = np.random.default_rng(1)
    images = np.clip(FILL + rng.uniform(-100, 100, (8, 32, 32, 3)), 0, 255).astype(np.uint8)
    classes = np.ones(8, int)
    auc = {kind: {name: di.curve_auc(curve(region_evidence_model, images, m, classes, FILL))
                  for name, m in evidence_maps().items()}
           for kind, curve in (("deletion", di.deletion_curve), ("insertion", di.insertion_curve))}
    assert auc["deletion"]["correct"] < auc["deletion"]["random"] < auc["deletion"]["inverted"], auc
    assert auc["insertion"]["correct"] > auc["insertion"]["random"] > auc["insertion"]["inverted"], auc


def test_deletion_uses_rises_step_and_the_mean_colour():
    images = white(2)
    curve = di.deletion_curve(key_pixel_model(), images, map_ranking_key(True, n=2), np.ones(2, int), FILL)
    assert curve.shape == (SIZE + 1, 2)  # one row's worth of pixels per step
    assert np.allclose(curve[0], 0.9) and np.allclose(curve[1:], 0.9)  # the mean colour still lights the key


def folded_gaussian(size=11, sigma=5.0):
    """RISE's `gkern` taps worked out by hand: scipy's Gaussian filter (taps to 4 sigma, normalised)
    of an impulse at the window's centre, its border mode 'reflect' (d c b a | a b c d) folding the
    tails back in; the impulse's mirror images sit at c + 2 * size * k and -1 - c + 2 * size * k."""
    radius = int(4 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    taps /= taps.sum()
    c = size // 2
    images = [c + 2 * size * k for k in range(-3, 4)] + [-1 - c + 2 * size * k for k in range(-3, 4)]
    return np.array([sum(taps[p - i + radius] for p in images if abs(p - i) <= radius) for i in range(size)])


def test_insertion_blurs_with_rises_own_kernel():
    from scipy.ndimage import gaussian_filter

    taps = di.blur_kernel()
    assert taps.shape == (11,) and taps.sum() == pytest.approx(1)
    np.testing.assert_allclose(taps, folded_gaussian(), rtol=1e-12)
    impulse = np.zeros((11, 11))
    impulse[5, 5] = 1
    np.testing.assert_allclose(np.outer(taps, taps), gaussian_filter(impulse, 5.0), atol=1e-15)  # their gkern(11, 5)
    image = np.zeros((1, 32, 32, 3), np.uint8) + FILL
    image[0, 16, 16] = 255
    out = di.blurred(image, FILL.astype(float))
    assert out[0, 16, 16, 0] < 255 and out[0, 11, 16, 0] > FILL[0] and out[0, 16, 21, 0] > FILL[0]  # 5 px each way
    assert (out[0, 10] == FILL).all() and (out[0, :, 22] == FILL).all()  # nothing beyond the 11 px window
    assert (di.blurred(np.zeros((1, 32, 32, 3), np.uint8) + FILL, FILL.astype(float)) == FILL).all()  # border: mean


def test_per_image_aucs_average_to_the_metric():
    rng = np.random.default_rng(0)
    curve = rng.random((9, 5))
    assert di.curve_aucs(curve).mean() == pytest.approx(di.curve_auc(curve))
    hits = (rng.random((10, 5)) > 0.5).astype(float)
    assert perturbation.per_image_auc(hits).mean() == pytest.approx(perturbation.perturbation_auc(hits))


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


def test_a_constant_map_points_at_chance_not_at_the_top_left_cell():
    flat = np.zeros((2, SIZE, SIZE), np.float32)  # 8 x 8 cells of 1 px
    boxes = np.array([[0, 0, 1, 1], [4, 4, 8, 8]])  # the top-left cell only; a quarter, elsewhere
    assert localization.pointing_hits(flat, boxes, (SIZE, SIZE)).tolist() == [1 / 64, 16 / 64]
    two = np.zeros((1, SIZE, SIZE), np.float32)
    two[0, 0, 0] = two[0, 7, 7] = 1  # a tie between two cells, one in the box
    assert localization.pointing_hits(two, boxes[:1], (SIZE, SIZE)).tolist() == [0.5]


CENTRE_CHANCE_ATOL = 0.05  # an image-agnostic centre blob's pointing game against the reported chance


def test_a_centre_blob_points_at_the_box_about_as_often_as_chance():
    """Digits placed uniformly over the whole canvas: the layout alone does not win the pointing game."""
    from xai.methods.centre import centre_maps

    loc = make_localization_set(per_digit=1, seed=5)
    size = loc.images.shape[1:3]
    centre = localization.pointing_hits(centre_maps(len(loc.boxes), (8, 8)), loc.boxes, size).mean()
    chance = localization.chance_level(loc.boxes, size)
    assert abs(centre - chance) < CENTRE_CHANCE_ATOL, (centre, chance)
    x0, y0, x1, y1 = loc.boxes.T
    assert (x0 == 0).any() and (y0 == 0).any() and (x1 == 32).any() and (y1 == 32).any()  # borders included


def test_rank_correlation():
    a = np.random.default_rng(0).random((3, 4, 4))
    assert np.allclose(sanity.rank_correlations(a, a), 1)
    assert np.allclose(sanity.rank_correlations(a, -a), -1)
    assert np.allclose(sanity.rank_correlations(a, np.ones_like(a)), 0)


def test_a_map_that_turns_into_its_inverse_fails_the_sanity_check():
    """The sign does not count: an anticorrelated map kept its structure (Adebayo et al. use |rho|)."""
    from xai.evaluate import score_method
    from xai.metrics import METRICS, Scoring

    maps = np.random.default_rng(0).random((6, 8, 8))
    scoring = Scoring(None, np.zeros((6, 32, 32, 3), np.uint8), maps, np.zeros(6), np.zeros(6), np.zeros(3, np.uint8),
                      randomised=(1 - maps, 1 - maps))
    scores, _ = score_method([METRICS["sanity-abs-rank-corr"], METRICS["sanity-ssim"]], scoring)
    assert np.allclose(scores["sanity-abs-rank-corr"], 1)
    assert (scores["sanity-abs-rank-corr"] >= sanity.PASS_BELOW).all()


def test_ssim_is_one_for_identical_maps_near_zero_for_unrelated_ones_and_matches_scikit_image():
    rng = np.random.default_rng(0)
    a, noise = rng.random((4, 32, 32)), rng.random((4, 32, 32))
    assert np.allclose(sanity.ssim(a, a), 1)
    assert np.abs(sanity.ssim(a, noise)).max() < 0.1
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    mixed = 0.6 * a + 0.4 * noise
    expected = [structural_similarity(a[i], mixed[i], data_range=1.0) for i in range(4)]
    np.testing.assert_allclose(sanity.ssim(a, mixed), expected, rtol=1e-10)
    maps = rng.random((4, 8, 8))
    assert np.allclose(sanity.map_ssim(maps, 3 * maps + 1, (32, 32)), 1)  # scale and offset do not count


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


def test_every_metric_holds_its_scoring_and_the_loop_calls_what_the_registry_names():
    """The evaluation loop has no list of its own: a metric registered with a scorer is scored, and
    one whose needs the batch lacks (boxes, randomised maps) is skipped."""
    from xai.evaluate import default_metrics, score_method
    from xai.metrics import METRICS, Metric, Scoring

    assert all(callable(m.score) for m in METRICS.values())
    assert {"road-morf", "faithfulness-correlation"}.isdisjoint(m.name for m in default_metrics())
    probe = Metric("probe", "higher", "the first pixel's red", score=lambda s: (s.images[:, 0, 0, 0] / 255.0, [1.0]))
    boxed = Metric("boxed", "higher", "needs boxes", "boxes", score=lambda s: (np.ones(len(s.images)), None))
    images = np.zeros((3, 8, 8, 3), np.uint8)
    images[:, 0, 0, 0] = (0, 51, 255)
    scoring = Scoring(None, images, np.zeros((3, 2, 2)), np.zeros(3), np.zeros(3), np.zeros(3, np.uint8))
    scores, curves = score_method([probe, boxed], scoring)
    assert list(scores) == ["probe"] and np.allclose(scores["probe"], (0, 0.2, 1)) and curves == {"probe": [1.0]}



def test_the_unperturbed_images_are_forwarded_once_for_every_method_of_a_batch():
    """Perturbation (both orders) and faithfulness correlation read the unperturbed probabilities:
    one forward for the batch, however many methods, and the scores a forward each gives."""
    from xai.evaluate import score_method
    from xai.metrics import Scoring

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    weights = rng.normal(size=(16 * 16 * 3, 5))
    clean_calls = []

    def forward(x: np.ndarray) -> np.ndarray:
        clean_calls.append(np.array_equal(x, images))
        logits = x.reshape(len(x), -1).astype(np.float64) @ weights / 1e3
        return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)

    metrics = [METRICS[n] for n in ("perturbation-pos", "perturbation-neg", "faithfulness-correlation")]
    labels, fill, shared = forward(images).argmax(-1), np.zeros(3, np.uint8), {}
    methods = [rng.random((4, 4, 4)) for _ in range(3)]
    clean_calls.clear()
    together = [score_method(metrics, Scoring(forward, images, m, labels, labels, fill, shared=shared))
                for m in methods]
    assert sum(clean_calls) == 1
    for (scores, curves), m in zip(together, methods):
        alone_scores, alone_curves = score_method(metrics, Scoring(forward, images, m, labels, labels, fill))
        assert curves == alone_curves
        for name in scores:
            np.testing.assert_array_equal(scores[name], alone_scores[name])
