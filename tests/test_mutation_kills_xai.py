"""Fast tests that pin down the explanation metrics (`xai.metrics`), the bootstrap (`xai.stats`) and
the scoring and summary code of `xai.evaluate`, written against the mutants `make mutation` (mutmut)
left alive: each names what a wrong operator, constant or argument would break. numpy only, no
model: hand-built maps, boxes and `forward` functions whose answers are known."""
from __future__ import annotations

import numpy as np
import pytest

from xai import evaluate, stats
from xai.metrics import METRICS, Metric, Scoring

# ---- xai.evaluate: scoring one method, summarising every method --------------------------------------

FILL = np.array([10, 20, 30], np.uint8)


def scoring(n: int = 3, boxes: np.ndarray | None = None, randomised: tuple = ()) -> Scoring:
    return Scoring(lambda x: np.full((len(x), 2), 0.5), np.zeros((n, 4, 4, 3), np.uint8), np.ones((n, 2, 2)),
                   np.zeros(n, int), np.zeros(n, int), FILL, boxes, randomised)


def test_score_method_scores_what_applies_and_keeps_only_real_curves():
    seen = []

    def score(values, curve):
        def run(s: Scoring):
            seen.append(s)
            return np.asarray(values, np.float64), curve
        return run

    metrics = [Metric("plain", "higher", "", score=score([1, 2, 3], [0.5, 0.25])),
               Metric("boxed", "higher", "", "boxes", score=score([4, 5, 6], [1.0])),
               Metric("sane", "lower", "", "randomised", score=score([7, 8, 9], None)),
               Metric("flat", "lower", "", score=score([0, 0, 1], None))]
    bare = scoring()
    scores, curves = evaluate.score_method(metrics, bare)
    assert list(scores) == ["plain", "flat"] and scores["plain"].tolist() == [1, 2, 3]
    assert scores["flat"].tolist() == [0, 0, 1] and curves == {"plain": [0.5, 0.25]}
    assert seen == [bare, bare]  # each metric gets the batch as given
    full = scoring(boxes=np.zeros((3, 4)), randomised=(np.ones((3, 2, 2)),))
    scores, curves = evaluate.score_method(metrics, full)
    assert list(scores) == ["plain", "boxed", "sane", "flat"] and scores["sane"].tolist() == [7, 8, 9]
    assert curves == {"plain": [0.5, 0.25], "boxed": [1.0]}


def result(scores: dict[str, dict[str, np.ndarray]], chance: dict[str, float] | None = None) -> evaluate.EvalResult:
    metrics = [m for m in METRICS if any(m in s for s in scores.values())]
    n = len(next(iter(next(iter(scores.values())).values())))
    return evaluate.EvalResult(subject="s", n_images=n, accuracy=1.0, scores=scores,
                               described={m: evaluate.describe(m) for m in scores}, curves={}, maps={},
                               metrics=metrics, chance=chance or {})


RNG = np.random.default_rng(5)
N = 24
STEADY = {"grad": 0.9 + RNG.normal(0, 0.01, N), "random": 0.1 + RNG.normal(0, 0.01, N),
          "centre": 0.5 + RNG.normal(0, 0.01, N)}  # three methods, every pair far apart
INDICES = stats.resample_indices(N, 200, seed=4)


def expected_difference(a: np.ndarray, b: np.ndarray, better: str) -> dict:
    d = stats.paired_difference(a, b, INDICES)
    return {"mean": d.mean, "ci_low": d.low, "ci_high": d.high, "verdict": stats.verdict(d, better)}


@pytest.mark.parametrize("better", ["higher", "lower"])
def test_differences_pair_every_method_with_every_other_in_both_directions(better):
    tied = {**STEADY, "twin": STEADY["grad"] + 0.01 * (-1) ** np.arange(N)}  # not separated from grad
    got = evaluate.differences(tied, better, INDICES)
    assert list(got) == list(tied)
    for a in tied:
        assert list(got[a]) == [b for b in tied if b != a]
        for b in got[a]:
            assert got[a][b] == expected_difference(tied[a], tied[b], better)
    ahead, behind = ("better", "worse") if better == "higher" else ("worse", "better")
    assert got["grad"]["random"]["verdict"] == ahead and got["random"]["grad"]["verdict"] == behind
    assert got["grad"]["twin"]["verdict"] == "not separated"
    assert got["grad"]["random"]["mean"] == pytest.approx(0.8, abs=0.02)


def test_metric_rows_hold_the_interval_standing_baselines_chance_and_scores():
    scores = {m: {"pointing-game": v.copy(), "deletion": 1 - v} for m, v in STEADY.items()}
    scores["extra"] = {"deletion": np.full(N, 0.7)}  # scored on one metric only
    scores["grad"]["pointing-game"][0] = 0.123456789  # kept to 6 significant digits
    res = result(scores, chance={"pointing-game": 0.25})
    rows = evaluate.metric_rows(res, "pointing-game", INDICES)
    assert [r["method"] for r in rows] == ["grad", "random", "centre"]
    for row in rows:
        values = scores[row["method"]]["pointing-game"]
        ci = stats.bootstrap_interval(values, INDICES)
        others = {b: expected_difference(values, scores[b]["pointing-game"], "higher")
                  for b in STEADY if b != row["method"]}
        assert row == {"method": row["method"], "metric": "pointing-game", "better": "higher", "mean": ci.mean,
                       "ci_low": ci.low, "ci_high": ci.high,
                       "ahead_of": [d["verdict"] for d in others.values()].count("better"),
                       "behind": [d["verdict"] for d in others.values()].count("worse"),
                       **{f"vs_{b}": others[b]["verdict"] for b in ("random", "centre") if b in others},
                       "chance": 0.25, **evaluate.describe(row["method"]), "differences": others,
                       "scores": [float(f"{v:.6g}") for v in values]}
    grad, random, centre = rows
    assert (grad["ahead_of"], grad["behind"], random["ahead_of"], random["behind"]) == (2, 0, 0, 2)
    assert grad["vs_random"] == grad["vs_centre"] == "better" and centre["vs_random"] == "better"
    assert "vs_random" not in random and "vs_centre" not in centre
    assert grad["scores"][0] == 0.123457 and grad["baseline"] is False and random["baseline"] is True
    deletion = evaluate.metric_rows(res, "deletion", INDICES)
    assert [r["method"] for r in deletion] == ["grad", "random", "centre", "extra"]
    assert all("chance" not in r and r["better"] == "lower" for r in deletion)
    assert (deletion[0]["ahead_of"], deletion[0]["behind"]) == (3, 0)  # lowest deletion AUC: ahead of all three
    assert deletion[3]["summary"] == "the graph's own output"


def sanity_row(method: str, metric: str, high: float) -> dict:
    return {"method": method, "metric": metric, "ci_high": high}


def test_a_method_passes_the_sanity_check_only_when_both_upper_ends_are_below_the_limit():
    rank, ssim = "sanity-abs-rank-corr", "sanity-ssim"
    rows = [sanity_row("a", rank, 0.3), sanity_row("a", ssim, 0.49), sanity_row("a", "deletion", 0.9),
            sanity_row("b", rank, 0.3), sanity_row("b", ssim, 0.5),  # at the limit: fails
            sanity_row("c", rank, 0.6), sanity_row("c", ssim, 0.1),
            sanity_row("d", "deletion", 0.1), sanity_row("e", ssim, 0.2)]
    evaluate.mark_sanity(rows)
    assert [r.get("passes") for r in rows] == ["yes", "yes", None, "no", "no", "no", "no", None, "yes"]


def test_result_rows_go_metric_by_metric_with_the_asked_resamples_and_the_sanity_marks():
    scores = {m: {"deletion": 1 - v, "sanity-ssim": v * 0.6} for m, v in STEADY.items()}
    res = result(scores)
    rows = evaluate.result_rows(res, 300, seed=9)
    indices = stats.resample_indices(N, 300, 9)
    want = evaluate.metric_rows(res, "deletion", indices) + evaluate.metric_rows(res, "sanity-ssim", indices)
    evaluate.mark_sanity(want)
    assert rows == want and [r.get("passes") for r in rows] == [None] * 3 + ["no", "yes", "yes"]
    default = stats.resample_indices(N, stats.N_RESAMPLES, stats.SEED)
    assert evaluate.result_rows(res) == [*evaluate.metric_rows(res, "deletion", default),
                                         *[{**r, "passes": p} for r, p in zip(
                                             evaluate.metric_rows(res, "sanity-ssim", default), ["no", "yes", "yes"])]]
    assert rows != evaluate.result_rows(res, 300, seed=10) != evaluate.result_rows(res, 301, seed=9)


# ---- xai.stats ---------------------------------------------------------------------------------------

def test_an_interval_excludes_only_values_strictly_outside_it():
    ci = stats.Interval(1.0, 0.5, 1.5)
    assert ci.excludes() and ci.excludes(0.49) and ci.excludes(1.51)  # 0 by default
    assert not ci.excludes(0.5) and not ci.excludes(1.5) and not ci.excludes(1.0)
    assert not stats.Interval(0.0, -1.0, 1.0).excludes()


def test_paired_difference_subtracts_in_float_with_the_given_resamples_and_level():
    a, b = np.array([1, 2, 3, 9], np.uint8), np.array([2, 2, 2, 2], np.uint8)  # uint8 a - b would wrap to 255
    d = stats.paired_difference(a, b)
    assert d.mean == 1.75 and d.low < 0 < d.high
    indices = stats.resample_indices(4, 300, seed=2)
    want = stats.bootstrap_interval(np.array([-1.0, 0.0, 1.0, 7.0]), indices, 0.5)
    assert stats.paired_difference(a, b, indices, 0.5) == want != stats.paired_difference(a, b, indices)
    assert want.high - want.low < d.high - d.low
    assert stats.paired_difference(list(a), list(b), indices) == stats.bootstrap_interval([-1, 0, 1, 7], indices)


# ---- xai.metrics: deletion and insertion ---------------------------------------------------------------

from xai.metrics import deletion_insertion as di, localization, pixel_order, sanity, trapezoid, upsample  # noqa: E402


class Recorder:
    """A `forward` that keeps every batch it is given and answers float32 probabilities read from
    the pixels (class 0: the batch's mean red level, class 1: the rest)."""

    def __init__(self):
        self.calls: list[np.ndarray] = []

    def __call__(self, images: np.ndarray) -> np.ndarray:
        assert images.dtype == np.uint8 and images.ndim == 4
        self.calls.append(images.copy())
        red = images[..., 0].reshape(len(images), -1).mean(1) / 255
        return np.stack([red, 1 - red], axis=1).astype(np.float32)


def test_deletion_changes_one_rows_worth_of_pixels_per_step_most_relevant_first():
    """A 3 x 5 image (H steps, not W) of two images: frame k holds the first round(k * 15 / 3)
    pixels of each image's order at the fill colour, the rest untouched."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3, 5, 3), dtype=np.uint8)
    maps = rng.random((2, 3, 5))
    forward = Recorder()
    curve = di.deletion_curve(forward, images, maps, np.array([0, 1]), FILL)
    assert curve.dtype == np.float64 and curve.shape == (4, 2)
    frames = np.concatenate(forward.calls).reshape(4, 2, 3, 5, 3)
    order = pixel_order(maps, (3, 5))
    for k, count in enumerate([0, 5, 10, 15]):
        want = images.reshape(2, 15, 3).copy()
        for i in range(2):
            want[i, order[i, :count]] = FILL
        assert np.array_equal(frames[k], want.reshape(2, 3, 5, 3)), k
    red = frames[..., 0].reshape(4, 2, -1).mean(-1) / 255
    np.testing.assert_allclose(curve, np.stack([red[:, 0], 1 - red[:, 1]], 1), rtol=1e-6)
    assert di.deletion_curve(forward, images, maps, np.array([0, 1]), [10, 20, 30]).tolist() == curve.tolist()


@pytest.mark.parametrize("batch, calls", [(3, [63, 12]), (di.MIN_BATCH, [2 * di.MIN_BATCH] + [di.MIN_BATCH] * 23),
                                          (40, [80] + [40] * 23)])
def test_steps_are_forwarded_in_groups_of_about_min_batch_images(batch, calls):
    """24 rows: 25 frames. 3 images: 21 frames (63 images) per call, then the other 4; a batch of
    MIN_BATCH or more (or over half of it): one step per call (the first with the unchanged image),
    nothing left over."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (batch, 24, 2, 3), dtype=np.uint8)
    forward = Recorder()
    curve = di.insertion_curve(forward, images, rng.random((batch, 24, 2)), np.zeros(batch, int), FILL)
    assert [len(c) for c in forward.calls] == calls and curve.shape == (25, batch)
    assert np.array_equal(forward.calls[-1][-batch:], images)  # the last frame: every pixel restored


def padded_blur(images: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """RISE's insertion substrate written out: the 2-D kernel (outer product) over the image padded
    with the fill colour by half the kernel on each side."""
    k = np.outer(di.blur_kernel(), di.blur_kernel())
    r = len(k) // 2
    b, h, w, c = images.shape
    padded = np.broadcast_to(np.asarray(fill, np.float64), (b, h + 2 * r, w + 2 * r, c)).copy()
    padded[:, r:r + h, r:r + w] = images
    out = np.zeros((b, h, w, c))
    for dy in range(len(k)):
        for dx in range(len(k)):
            out += k[dy, dx] * padded[:, dy:dy + h, dx:dx + w]
    return out


def test_the_blur_is_padded_with_the_fill_colour_and_stays_in_range():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (2, 9, 14, 3), dtype=np.uint8)
    fill = np.array([250.0, 0.0, 128.0])
    got = di.blurred(images, fill)
    assert got.dtype == np.uint8
    assert np.abs(got.astype(float) - padded_blur(images, fill)).max() <= 0.5 + 1e-9
    black = di.blurred(np.zeros((1, 4, 4, 3), np.uint8), np.zeros(3))
    white = di.blurred(np.full((1, 4, 4, 3), 255, np.uint8), np.full(3, 255.0))
    assert (black == 0).all() and (white == 255).all()


def test_an_auc_is_over_the_fraction_changed_zero_to_one():
    assert di.curve_auc(np.ones((5, 2))) == 1.0 and di.curve_auc(np.linspace(0, 1, 11)[:, None]) == pytest.approx(0.5)
    assert di.curve_aucs(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])).tolist() == [0.75, 0.25]


# ---- xai.metrics: localization -------------------------------------------------------------------------

def test_box_masks_exclude_the_right_and_bottom_edges():
    masks = localization.box_masks(np.array([[1, 2, 3, 4], [0, 0, 5, 6]]), (6, 5))
    want = np.zeros((6, 5), bool)
    want[2:4, 1:3] = True
    assert masks.shape == (2, 6, 5) and np.array_equal(masks[0], want) and masks[1].all()


def test_energy_in_box_ignores_negative_relevance_and_small_totals():
    maps = np.full((2, 2, 2), 0.01)
    maps[1] = [[-5.0, 0.01], [0.01, 0.01]]  # negative outside the box: no mass, not less mass
    boxes = np.array([[0, 0, 2, 2], [2, 2, 4, 4]])  # (4, 4) images: top-left quarter, bottom-right quarter
    energy = localization.energy_in_box(maps, boxes, (4, 4))
    up = np.clip(upsample(maps, (4, 4)), 0, None)
    assert energy[0] == pytest.approx(0.25) and energy[1] == pytest.approx(up[1, 2:, 2:].sum() / up[1].sum())
    assert energy[1] > 0.3 and localization.energy_in_box(np.zeros((1, 2, 2)), boxes[:1], (4, 4)).tolist() == [0.0]


# ---- xai.metrics: sanity -------------------------------------------------------------------------------

def test_rank_correlation_of_two_pixel_maps_is_plus_or_minus_one():
    maps = np.array([[[0.0, 1.0]], [[0.0, 1.0]], [[2.0, 2.0]]])
    other = np.array([[[3.0, 5.0]], [[5.0, 3.0]], [[1.0, 0.0]]])
    assert sanity.rank_correlations(maps, other).tolist() == [1.0, -1.0, 0.0]


def test_unit_range_scales_each_image_on_its_own():
    x = np.stack([np.array([[1.0, 3.0], [2.0, 5.0]]), np.array([[10.0, 30.0], [20.0, 10.0]]), np.full((2, 2), 7.0)])
    got = sanity.unit_range(x)
    assert got.dtype == np.float64
    assert got.tolist() == [[[0.0, 0.5], [0.25, 1.0]], [[0.0, 1.0], [0.5, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]


@pytest.mark.parametrize("shape, window", [((2, 3, 20), 3), ((2, 5, 9), 5), ((2, 6, 9), 5), ((2, 12, 8), 7)])
def test_ssim_window_is_odd_and_fits_the_shorter_side(shape, window):
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(3)
    a, b = rng.random(shape), rng.random(shape)
    want = [structural_similarity(x, y, win_size=window, data_range=1.0) for x, y in zip(a, b)]
    np.testing.assert_allclose(sanity.ssim(a, b), want, rtol=1e-9)
    assert sanity.ssim(a.astype(np.float32), b.astype(np.float32)).tolist() == sanity.ssim(
        a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)).tolist()


def test_sanity_scores_average_over_randomisations_image_by_image():
    rng = np.random.default_rng(4)
    maps = rng.random((3, 4, 4))
    randomised = (rng.random((3, 4, 4)), maps + rng.normal(0, 0.1, (3, 4, 4)))
    s = scoring(3, randomised=randomised)
    s = Scoring(s.forward, np.zeros((3, 16, 16, 3), np.uint8), maps, s.labels, s.predicted, s.fill, None, randomised)
    rank, curve = sanity.score_rank(s)
    assert curve is None and rank.shape == (3,)
    np.testing.assert_allclose(rank, np.mean([np.abs(sanity.rank_correlations(maps, r)) for r in randomised], 0))
    similar, curve = sanity.score_ssim(s)
    assert curve is None and similar.shape == (3,)
    np.testing.assert_allclose(similar, np.mean([sanity.map_ssim(maps, r, (16, 16)) for r in randomised], 0))


def test_cell_centres_are_per_axis_on_a_grid_that_is_not_square():
    xs, ys = localization.cell_centres((2, 3), (8, 12))  # grid (gh, gw), image (H, W)
    assert xs.tolist() == [[2.0, 6.0, 10.0]] * 2 and ys.tolist() == [[2.0] * 3, [6.0] * 3]


def test_a_cell_centre_on_the_boxs_left_or_top_edge_is_in_it_on_the_right_or_bottom_edge_is_not():
    maps = np.zeros((4, 2, 2))
    maps[:, 0, 0] = 1  # maximal cell centred at (1, 1) of a 4 x 4 image
    boxes = np.array([[1, 1, 3, 3], [0, 0, 1, 3], [0, 0, 3, 1], [0, 0, 2, 2]])
    assert localization.pointing_hits(maps, boxes, (4, 4)).tolist() == [1.0, 0.0, 0.0, 1.0]


def test_chance_level_is_the_boxes_mean_area_share():
    boxes = np.array([[1, 2, 4, 3], [0, 0, 2, 6]])  # 3 x 1 and 2 x 6 in a 6 (high) x 8 (wide) image
    assert localization.chance_level(boxes, (6, 8)) == pytest.approx((3 / 48 + 12 / 48) / 2)


# ---- xai.stats: the bootstrap itself --------------------------------------------------------------------

def test_resamples_draw_every_image_including_the_first():
    indices = stats.resample_indices(3, 500, seed=0)
    assert indices.shape == (500, 3) and set(indices.ravel().tolist()) == {0, 1, 2}


def test_the_interval_is_the_2_5th_and_97_5th_percentile_of_the_resampled_means():
    scores = np.random.default_rng(6).random(30)
    indices = stats.resample_indices(30, 400, seed=1)
    means = scores[indices].mean(axis=1)
    ci = stats.bootstrap_interval(scores, indices)
    assert [ci.low, ci.high] == pytest.approx(np.percentile(means, [2.5, 97.5]), rel=1e-12, abs=0)
    assert ci.mean == scores.mean()
    half = stats.bootstrap_interval(scores, indices, level=0.5)
    assert [half.low, half.high] == pytest.approx(np.percentile(means, [25, 75]), rel=1e-12, abs=0)
    assert stats.bootstrap_interval(scores.astype(np.float32), indices) == stats.bootstrap_interval(
        scores.astype(np.float32).astype(np.float64), indices)  # averaged in float64
    with pytest.raises(ValueError, match=r"^resamples of 30 images for 29 scores$"):
        stats.bootstrap_interval(scores[:29], indices)
    with pytest.raises(ValueError, match=r"^scores must be a non-empty \(N,\) array, got shape \(2, 15\)$"):
        stats.bootstrap_interval(scores.reshape(2, 15), indices)


# ---- xai.metrics: the shared helpers and the registry ---------------------------------------------------

def test_upsample_is_bilinear_with_half_pixel_centres_per_axis():
    maps = np.array([[[0.0, 4.0]]])  # (1, gh=1, gw=2) -> (1, H=2, W=4)
    got = upsample(maps, (2, 4))
    assert got.dtype == np.float32 and got.tolist() == [[[0.0, 1.0, 3.0, 4.0]] * 2]
    assert upsample(maps.transpose(0, 2, 1), (4, 1)).tolist() == [[[0.0], [1.0], [3.0], [4.0]]]


def test_pixel_order_is_most_relevant_first_ties_in_raster_order():
    maps = np.array([[[1.0, 3.0], [3.0, 2.0]], [[0.0, 0.0], [0.0, 0.0]]])
    assert pixel_order(maps, (2, 2)).tolist() == [[1, 2, 3, 0], [0, 1, 2, 3]]


def test_trapezoid_integrates_y_over_x():
    assert trapezoid(np.array([0.0, 2.0, 2.0]), np.array([0.0, 1.0, 3.0])) == 5.0


def test_a_metric_applies_when_the_batch_has_what_it_needs():
    bare, boxed = scoring(), scoring(boxes=np.zeros((3, 4)))
    randomised = scoring(randomised=(np.ones((3, 2, 2)),))
    table = {need: [Metric("m", "higher", "", need).applies(s) for s in (bare, boxed, randomised)]
             for need in ("", "boxes", "randomised")}
    assert table == {"": [True] * 3, "boxes": [False, True, False], "randomised": [False, False, True]}


def test_a_registered_metric_is_listed_and_its_name_refused_twice():
    from _infra.registry import DuplicateName
    from xai.metrics import register_metric

    metric = Metric("test-only-metric", "higher", "")
    try:
        assert register_metric(metric) is metric and METRICS["test-only-metric"] is metric
        with pytest.raises(DuplicateName, match="^metric 'test-only-metric' is registered twice"):
            register_metric(Metric("test-only-metric", "lower", ""))
    finally:
        METRICS.pop("test-only-metric", None)


def test_the_fill_is_the_normalisation_mean_as_a_uint8_colour():
    fill = di.mean_colour([0.485, 0.456, 0.406])  # ImageNet's: 123.675, 116.28, 103.53
    assert fill.dtype == np.uint8 and fill.tolist() == [124, 116, 104]
    assert di.mean_colour((0.0, 0.5, 1.0)).tolist() == [0, 128, 255]


@pytest.mark.parametrize("name, curve", [("deletion", di.deletion_curve), ("insertion", di.insertion_curve)])
def test_deletion_and_insertion_score_the_predicted_class_per_image(name, curve):
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    maps, predicted = rng.random((3, 4, 4)), np.array([1, 0, 1])
    s = Scoring(Recorder(), images, maps, np.array([0, 0, 0]), predicted, FILL)
    scores, mean = METRICS[name].score(s)
    want = curve(Recorder(), images, maps, predicted, FILL)
    assert scores.tolist() == di.curve_aucs(want).tolist() and mean == want.mean(1).tolist() and len(mean) == 5
    assert scores.tolist() != di.curve_aucs(curve(Recorder(), images, maps, s.labels, FILL)).tolist()


def test_pixel_order_keeps_raster_order_among_many_ties():
    """A sort that is not stable reorders equal values once there are more than a few (introsort)."""
    maps = np.zeros((2, 16, 16))
    maps[1, 3, 5] = 1.0
    order = pixel_order(maps, (16, 16))
    assert order[0].tolist() == list(range(256))
    assert order[1, 0] == 3 * 16 + 5 and order[1, 1:].tolist() == [i for i in range(256) if i != 3 * 16 + 5]


def test_perturbation_scores_the_true_label_in_either_direction():
    from xai.metrics import perturbation

    rng = np.random.default_rng(8)
    images = rng.integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    maps, labels = rng.random((3, 4, 4)), np.array([0, 1, 1])

    def forward(x):  # class 1 while the image is bright on average
        bright = (x.reshape(len(x), -1).mean(1) > 100).astype(float)
        return np.stack([1 - bright, bright], 1)

    s = Scoring(forward, images, maps, labels, 1 - labels, FILL)
    for name, positive in (("perturbation-pos", True), ("perturbation-neg", False)):
        curve = perturbation.perturbation_curve(forward, images, maps, labels, positive=positive)
        scores, mean = METRICS[name].score(s)
        assert scores.tolist() == perturbation.per_image_auc(curve).tolist() and mean == curve.mean(1).tolist()
