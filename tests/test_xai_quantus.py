"""`road` and `faithfulness-correlation` against Quantus's `ROAD` and `FaithfulnessCorrelation` on the
same tiny ViT, the same images and the same maps (Quantus is a test-only dependency).

Like with like: Quantus 0.6 takes a pixel's channels as separate features (and its ROAD indexes out of
range for an RGB image with a one-channel map), so it sees images of one channel: grey images for
ROAD (our imputation runs per channel, so grey RGB is the same problem), and for faithfulness
correlation each RGB pixel packed into one exact float (so its features are our pixels, filled with
black). Maps are at full resolution with no ties (no upsampling, one order). Noise-free runs must
agree exactly; noisy runs (each library draws its own noise) agree in distribution within the
stated tolerances.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

# Quantus's layouts and our forward behind its torch interface, shared with the speed scenario
from bench.scenarios.xai_quantus_speed import from_grey, pack, quantus_model, unpack
from xai.metrics import faithfulness_correlation as fc, road

quantus = pytest.importorskip("quantus")

N, SIZE = 12, 32
NOISE_STD_RTOL = 0.05  # the imputation noise's std against the asked-for one, over ~10^4 draws
NOISY_ACCURACY_ATOL = 0.08  # mean ROAD accuracy, ours against Quantus, each with its own noise draws
CORRELATION_ATOL = 1e-4  # faithfulness correlation per image: float32 probabilities on both sides


@pytest.fixture(scope="module")
def subject(tmp_path_factory):
    """A tiny ViT with every weight drawn at std 0.5, so its prediction moves with the pixels."""
    from conftest import save_tiny_checkpoint
    from runtime.checkpoint import load_checkpoint
    from xai.subjects import ModelSubject, randomise_weights

    ck = load_checkpoint(save_tiny_checkpoint(tmp_path_factory.mktemp("vit-q"), "vit", initializer_range=0.5))
    return ModelSubject(randomise_weights(ck.model, seed=3), ck.patch_grid, ck.n_special_tokens, ck.mean, ck.std)


def smooth_images(n: int, grey: bool, seed: int = 0) -> np.ndarray:
    """uint8 `(n, SIZE, SIZE, 3)`: blurred noise (structure to impute from), grey or colour."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    x = gaussian_filter(rng.random((n, SIZE, SIZE, 1 if grey else 3)), (0, 2, 2, 0))
    x = (x - x.min()) / (x.max() - x.min())
    return np.repeat((x * 255).round().astype(np.uint8), 3 if grey else 1, axis=-1)


def full_maps(n: int, seed: int = 1) -> np.ndarray:
    """Pixel-level maps `(n, SIZE, SIZE)` without ties."""
    return np.random.default_rng(seed).random((n, SIZE, SIZE)).astype(np.float32)


def test_imputation_equals_quantus_without_noise():
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(0)
    images = rng.random((3, 16, 20, 3))
    for fraction in (0.05, 0.5, 0.95):
        removed = rng.random((3, 16, 20)) < fraction
        ours = road.noisy_linear_imputation(images, removed, noise=0.0)
        for b in range(3):
            theirs = noisy_linear_imputation(images[b].transpose(2, 0, 1), np.flatnonzero(removed[b]), noise=0.0)
            np.testing.assert_allclose(ours[b], theirs.transpose(1, 2, 0), atol=1e-12)


def test_imputation_noise_has_quantus_distribution():
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(1)
    image, removed = rng.random((1, 40, 40, 3)), rng.random((1, 40, 40)) < 0.9
    clean = road.noisy_linear_imputation(image, removed, noise=0.0)
    ours = road.noisy_linear_imputation(image, removed, noise=road.NOISE, rng=rng) - clean
    np.random.seed(1)
    theirs = noisy_linear_imputation(image[0].transpose(2, 0, 1), np.flatnonzero(removed[0]),
                                     noise=road.NOISE).transpose(1, 2, 0) - clean[0]
    for residual in (ours[removed], theirs[removed[0]]):
        assert residual.std() == pytest.approx(road.NOISE, rel=NOISE_STD_RTOL)
        assert abs(residual.mean()) < 4 * road.NOISE / np.sqrt(residual.size)
    assert (ours[~removed] == 0).all() and (theirs[~removed[0]] == 0).all()  # kept pixels untouched


def quantus_road(subject, images, maps, labels, noise):
    metric = quantus.ROAD(percentages=list(road.PERCENTAGES), noise=noise, disable_warnings=True)
    x = images[..., :1].transpose(0, 3, 1, 2).astype(np.float64) / 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = metric(model=quantus_model(subject.forward, from_grey), x_batch=x, y_batch=labels,
                        a_batch=maps[:, None], channel_first=True, device="cpu")
    return np.array([scores[p] for p in road.PERCENTAGES])


@pytest.mark.parametrize("morf", [True, False], ids=["morf", "lerf"])
def test_road_equals_quantus_without_noise(subject, morf):
    images, maps = smooth_images(N, grey=True), full_maps(N)
    labels = subject.forward(images).argmax(-1)
    curve = road.road_curve(subject.forward, images, maps, labels, morf=morf, noise=0.0)
    theirs = quantus_road(subject, images, maps if morf else 1 - maps, labels, noise=0.0)  # LeRF: order reversed
    assert 0 < curve.mean(axis=1).min() < 1  # the curve moves: the comparison can fail
    np.testing.assert_array_equal(curve.mean(axis=1), theirs)
    assert road.road_scores(curve).mean() == pytest.approx(100 * theirs.mean())


def test_road_with_noise_agrees_with_quantus_in_the_mean(subject):
    images, maps = smooth_images(N, grey=True), full_maps(N)
    labels = subject.forward(images).argmax(-1)
    ours = road.road_curve(subject.forward, images, maps, labels, morf=True, seed=5).mean()
    np.random.seed(5)
    theirs = quantus_road(subject, images, maps, labels, noise=road.NOISE).mean()
    assert ours == pytest.approx(theirs, abs=NOISY_ACCURACY_ATOL)


def quantus_subsets(runs: int, n: int, size: int, seed: int) -> np.ndarray:
    """The subsets Quantus's FaithfulnessCorrelation draws after `np.random.seed(seed)`."""
    np.random.seed(seed)
    return np.stack([np.stack([np.random.choice(SIZE * SIZE, size, replace=False) for _ in range(n)])
                     for _ in range(runs)])


def test_faithfulness_correlation_equals_quantus(subject):
    images, maps, runs, size = smooth_images(N, grey=False), full_maps(N), 30, 64
    classes = subject.forward(images).argmax(-1)
    metric = quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=size, perturb_baseline=0.0,
                                            return_aggregate=False, disable_warnings=True)
    np.random.seed(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.array(metric(model=quantus_model(subject.forward, unpack), x_batch=pack(images), y_batch=classes,
                                 a_batch=maps[:, None], channel_first=True, softmax=True, device="cpu"))
    ours = fc.faithfulness_correlation(subject.forward, images, maps, classes, np.zeros(3, np.uint8),
                                       subsets=quantus_subsets(runs, N, size, seed=7))
    assert np.ptp(ours) > 0.1  # the images differ: the comparison can fail
    np.testing.assert_allclose(ours, theirs, atol=CORRELATION_ATOL)


def test_a_constant_map_scores_zero_correlation(subject):
    """Every subset of one size has the same sum: no correlation to speak of (Quantus gives NaN)."""
    images = smooth_images(3, grey=False)
    maps = np.full((3, SIZE, SIZE), 0.5, np.float32)
    r = fc.faithfulness_correlation(subject.forward, images, maps, np.zeros(3, int), np.zeros(3, np.uint8))
    np.testing.assert_array_equal(r, 0.0)
