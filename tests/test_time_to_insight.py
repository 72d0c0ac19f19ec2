"""The measuring functions of benchmarks/time_to_insight.py, and the digits classifier it uses.

Every criterion is tried on a synthetic input that passes and on one that must fail.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from visgen import Field2D, ImageGrid, PointSet, Scatter, tile
from visgen.metrics.insight import (digits_shown, grid_images, knn_accuracy, latent_sorted, modes_shown,
                                    picture_age, shown_samples, untile)

RING = np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]) * 2.0
STD = 0.02


# -- 5-NN accuracy of the latent points ----------------------------------------------------------
def test_knn_accuracy_is_one_on_separated_classes_and_low_on_random_labels():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, (10, 2))
    labels = np.repeat(np.arange(10), 50)
    points = centres[labels] + rng.normal(0, 0.1, (500, 2))
    assert knn_accuracy(points, labels) == 1.0
    assert latent_sorted(points, labels)[0]
    shuffled = rng.permutation(labels)
    assert knn_accuracy(points, shuffled) < 0.3
    assert not latent_sorted(points, shuffled)[0]


def test_knn_accuracy_leaves_the_point_itself_out():
    """Alternating labels on a line: each point's nearest others are mostly of the other class.
    Counting the point as its own neighbour would lift the accuracy."""
    points = np.stack([np.arange(20.0), np.zeros(20)], 1)
    labels = np.arange(20) % 2
    assert knn_accuracy(points, labels, k=1) == 0.0
    assert knn_accuracy(points, labels) < 0.5


def test_knn_accuracy_breaks_a_tie_towards_the_nearer_class():
    points = np.array([[0.0, 0], [1, 0], [-3, 0], [10, 0], [13, 0]])
    labels = np.array([0, 0, 1, 1, 1])
    # point 0's two nearest: 1 (class 0, at 1) and 2 (class 1, at 3): one vote each, the nearer wins
    acc = knn_accuracy(points, labels, k=2)
    flipped = knn_accuracy(points, np.array([0, 1, 0, 1, 1]), k=2)
    assert acc == pytest.approx(4 / 5)      # only point 2 is outvoted (both its neighbours are class 0)
    # now point 0's nearer neighbour is of the other class: one vote each, and it loses the tie
    assert flipped == pytest.approx(3 / 5)


def test_knn_accuracy_counts_points_that_are_not_finite_as_wrong():
    points = np.array([[0.0, 0], [0.1, 0], [0.2, 0], [np.nan, 0]])
    assert knn_accuracy(points, np.zeros(4, int), k=2) == 0.75


def test_latent_sorted_has_its_threshold_at_0_8():
    points = np.stack([np.arange(10.0) * 100, np.zeros(10)], 1)
    labels = np.zeros(10, int)
    ok, numbers = latent_sorted(points, labels)
    assert ok and numbers["knn_accuracy"] == 1.0
    assert not latent_sorted(points, labels, goal=1.01)[0]


# -- modes on a 2D mixture ----------------------------------------------------------------------
def _near(centres, n_each, rng, spread=STD):
    return np.concatenate([c + rng.normal(0, spread, (n_each, 2)) for c in centres])


def test_modes_shown_wants_every_mode_and_half_high_quality():
    rng = np.random.default_rng(1)
    ok, cov = modes_shown(_near(RING, 60, rng), RING, STD)
    assert ok and cov["modes_covered"] == 8 and cov["high_quality"] > 0.9
    ok, cov = modes_shown(_near(RING[:7], 60, rng), RING, STD)  # one mode dropped
    assert not ok and cov["modes_covered"] == 7
    far = rng.normal(0, 3.0, (800, 2))  # 8 good points per mode among many far from any mode
    ok, cov = modes_shown(np.concatenate([_near(RING, 8, rng), far]), RING, STD)
    assert cov["modes_covered"] == 8 and cov["high_quality"] < 0.5 and not ok


def test_shown_samples_finds_the_points_a_view_draws():
    pts = np.ones((5, 2))
    scatter = Scatter([PointSet("data", np.zeros((3, 2))), PointSet("samples", pts)])
    field = Field2D(np.zeros((4, 4)), (0, 1, 0, 1),
                    points=[PointSet("real", np.zeros((3, 2))), PointSet("fake G(z)", pts)])
    assert np.array_equal(shown_samples(scatter), pts)
    assert np.array_equal(shown_samples(field), pts)
    assert shown_samples(Scatter([PointSet("posterior means", pts)])) is None


# -- the sample grid ----------------------------------------------------------------------------
def test_untile_gives_back_what_tile_tiled():
    rng = np.random.default_rng(2)
    images = rng.random((64, 8, 8)).astype(np.float32)
    assert np.array_equal(untile(tile(images, nrow=8), 8, 8), images)
    ten = rng.random((10, 8, 8)).astype(np.float32) * 0.9  # never the padding value 1.0
    assert np.array_equal(untile(tile(ten, nrow=4), 8, 8), ten)  # 3 rows, 2 empty cells dropped
    assert untile(tile(ten, nrow=4), 8, 8, n=12).shape == (12, 8, 8)


def test_untile_refuses_a_picture_that_is_no_such_grid():
    with pytest.raises(ValueError):
        untile(np.zeros((30, 30)), 8, 8)


def test_grid_images_reads_the_images_or_cuts_a_tiled_picture():
    rng = np.random.default_rng(3)
    images = rng.random((16, 8, 8)).astype(np.float32) * 0.9
    assert np.array_equal(grid_images(ImageGrid(images, nrow=8)), images)
    assert np.array_equal(grid_images(ImageGrid(tile(images, nrow=4)[None])), images)
    with pytest.raises(ValueError):
        grid_images(ImageGrid(rng.random((4, 10, 10))))


def _probs(classes, confidence):
    p = np.full((len(classes), 10), (1 - confidence) / 9)
    p[np.arange(len(classes)), classes] = confidence
    return p


def test_digits_shown_wants_confidence_and_variety():
    assert digits_shown(_probs(np.arange(64) % 10, 0.9))[0]
    ok, numbers = digits_shown(_probs(np.arange(64) % 5, 0.99))  # sure, but only 5 digits
    assert not ok and numbers["classes"] == 5
    ok, numbers = digits_shown(_probs(np.arange(64) % 10, 0.7))  # every digit, unsure
    assert not ok and numbers["confidence"] == pytest.approx(0.7)
    assert not digits_shown(np.zeros((0, 10)))[0]


def test_picture_age_is_seconds_since_taken_at():
    assert picture_age(ImageGrid(np.zeros((1, 8, 8)), taken_at=100.0), 103.5) == 3.5
    assert np.isnan(picture_age(ImageGrid(np.zeros((1, 8, 8))), 103.5))


# -- the script's own arguments -------------------------------------------------------------------
def _script():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_insight.py"
    spec = importlib.util.spec_from_file_location("time_to_insight", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_script_arguments_and_goals():
    tti = _script()
    args = tti.parse_args(["--models", "gan:ring8, vae:digits", "--size", "800x600"])
    assert args.models == ["gan:ring8", "vae:digits"] and args.size == (800, 600) and args.limit is None
    with pytest.raises(SystemExit):
        tti.parse_args(["--size", "big"])
    assert tti.goal_for("ddpm", "images") == 120 and tti.goal_for("ddpm", "points") == 60
    assert tti.criterion("VAE", "images", "digits") == "latent"
    assert tti.criterion("GAN", "points", "ring8") == "modes"
    assert tti.criterion("GAN", "images", "digits") == "digits"


# -- the digits classifier ----------------------------------------------------------------------
@pytest.mark.slow
def test_digits_classifier_is_accurate_sure_of_digits_unsure_of_noise_and_cached(tmp_path, monkeypatch):
    from visgen.data.digits import load_digits
    from visgen.metrics import digits_classifier as dc

    monkeypatch.setenv("VISGEN_CACHE_DIR", str(tmp_path))
    data = load_digits()
    clf = dc.load_digits_classifier(data)
    assert clf.heldout_accuracy >= 0.95
    cached = list(tmp_path.glob("digits-classifier-*.pt"))
    assert len(cached) == 1
    _, test = dc.heldout_split(data.labels)
    assert digits_shown(clf.probabilities(data.x[test][:64]))[0]  # real held-out digits pass
    noise = np.random.default_rng(0).random((64, 8, 8))
    assert not digits_shown(clf.probabilities(noise))[0]          # noise does not
    assert clf.features(data.x[:3]).shape == (3, dc.FEATURES)
    again = dc.load_digits_classifier(data)                      # from the cache: the same net
    assert again.heldout_accuracy == clf.heldout_accuracy
    assert np.allclose(again.probabilities(data.x[:32]), clf.probabilities(data.x[:32]), atol=1e-6)
    assert dc.cache_key(data.x[:100], data.labels[:100]) != dc.cache_key(data.x, data.labels)
