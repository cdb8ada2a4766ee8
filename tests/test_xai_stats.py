"""Bootstrap intervals (`xai.stats`) on distributions whose mean is known."""
from __future__ import annotations

import numpy as np
import pytest

from xai import stats

COVERAGE = (0.92, 0.975)  # a 95% interval's share of samples whose interval holds the true mean
SAMPLES, N = 400, 60


def test_the_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    indices = stats.resample_indices(N, 1000, seed=1)
    intervals = [stats.bootstrap_interval(rng.exponential(1.0, N), indices) for _ in range(SAMPLES)]
    covered = [ci.low <= 1.0 <= ci.high for ci in intervals]  # the exponential's mean is 1
    assert COVERAGE[0] <= np.mean(covered) <= COVERAGE[1], np.mean(covered)


def test_intervals_are_seeded_and_hold_the_mean():
    scores = np.random.default_rng(3).random(50)
    a, b = stats.bootstrap_interval(scores), stats.bootstrap_interval(scores)
    assert a == b and a.low < a.mean < a.high and a.mean == pytest.approx(scores.mean())
    other = stats.bootstrap_interval(scores, stats.resample_indices(50, seed=7))
    assert other.mean == a.mean and other != a


def test_pairing_separates_what_separate_intervals_cannot():
    """Two methods on the same images: a large per-image spread they share hides a small, steady gap
    from separate intervals, not from the paired difference."""
    rng = np.random.default_rng(0)
    hardness = rng.normal(0, 1, 200)
    a, b = hardness + 0.1 + rng.normal(0, 0.02, 200), hardness
    ia, ib = stats.bootstrap_interval(a), stats.bootstrap_interval(b)
    assert ia.low < ib.high  # the separate intervals overlap
    d = stats.paired_difference(a, b)
    assert d.excludes(0) and d.mean == pytest.approx(0.1, abs=0.01)
    assert stats.verdict(d, "higher") == "better" and stats.verdict(d, "lower") == "worse"
    same = stats.paired_difference(b + rng.normal(0, 0.02, 200), b)
    assert not same.excludes(0) and stats.verdict(same, "higher") == "not separated"


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        stats.bootstrap_interval(np.array([]))
    with pytest.raises(ValueError, match="one shape"):
        stats.paired_difference(np.ones(3), np.ones(4))
