"""Sample-quality metrics (issue 12): each number moves the way its definition says, on real
digits, noisy digits, noise and 2D mixtures, and each comes with what real data scores.

Margins sit well inside the values measured (given in comments) with visgen's cached digits
classifier (CODE_VERSION 2) and torchmetrics 1.9.0. The classifier's own held-out accuracy and
its doubt about noise are tested in test_time_to_insight.py."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from visgen.core.likelihood import split_heldout
from visgen.data.digits import load_digits
from visgen.data.toy2d import ring8
from visgen.metrics import (class_histogram, classifier_score, confident_fraction, energy_distance,
                            frechet_distance, kernel_distance, load_digits_classifier,
                            nearest_training_neighbours, precision_recall_density_coverage,
                            sample_metrics)

NEW_MODULES = ("feature_distances", "manifold", "point_distances", "memorisation",
               "classifier_scores", "sample_report")


@pytest.fixture(scope="module")
def digits():
    """``(train, heldout, classifier)``: the run-style split of the digits (seed 0: 1618 / 179)."""
    train, heldout = split_heldout(load_digits(), 0)
    return train, heldout, load_digits_classifier()


def noisy(x, std, seed=0):
    return np.clip(x + std * np.random.default_rng(seed).standard_normal(x.shape), 0, 1).astype(np.float32)


# -- Frechet distance and KID -------------------------------------------------------------------
def test_feature_distances_are_zero_on_self_symmetric_and_grow_with_noise(digits):
    train, heldout, clf = digits
    real, held = clf.features(train.x), clf.features(heldout.x)
    # measured: FD 4.44, 12.1, 38.8, 124, 256; KID -0.19, 4.6, 16.1, 38.6, 57.8 for noise std 0 .. 0.4
    fd, kid = [], []
    for std in (0.0, 0.05, 0.1, 0.2, 0.4):
        f = held if std == 0 else clf.features(noisy(heldout.x, std))
        fd.append(frechet_distance(f, real))
        kid.append(kernel_distance(f, real)[0])
    assert all(b > 1.5 * a for a, b in zip(fd, fd[1:])), fd
    assert all(b > a + 2.0 for a, b in zip(kid, kid[1:])), kid
    assert abs(kid[0]) < 1.5  # two real samples: unbiased, about 0 (measured -0.19 +- 0.41)

    assert frechet_distance(held, held) < 1e-6                      # measured 0.0
    # a set against itself is no pair of independent samples: the unbiased KID goes below 0 by
    # about 2/(m-1) of the kernel's diagonal gap (measured -1.68 for these 179, -0.18 for 1618)
    assert abs(kernel_distance(held, held)[0]) < 0.1 * kid[-1]
    assert abs(kernel_distance(real, real)[0]) < 0.02 * kid[-1]

    assert frechet_distance(real, held) == pytest.approx(fd[0], rel=1e-6)
    # KID swaps which set is subsampled: equal within its spread (measured -0.19 and -0.15, std 0.41)
    mean, std = kernel_distance(real, held)
    assert abs(mean - kid[0]) < 1.0 and 0 < std < 2.0


def test_kernel_distance_clamps_its_subset_size_and_is_reproducible(digits):
    _, heldout, clf = digits
    a = clf.features(heldout.x[:40])
    b = clf.features(noisy(heldout.x[40:100], 0.2))
    # torchmetrics raises for subset_size 1000 > 40 vectors; clamped here to 40
    torch.manual_seed(1)
    first = kernel_distance(a, b, subsets=20, subset_size=1000, seed=3)
    torch.manual_seed(2)
    assert first == kernel_distance(a, b, subsets=20, subset_size=1000, seed=3)  # ``seed`` decides
    assert first != kernel_distance(a, b, subsets=20, subset_size=1000, seed=4)
    assert first[0] > 5 and first[1] > 0   # measured 41.4 +- 1.3
    torch.manual_seed(5)
    kernel_distance(a, b, subsets=20)
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))  # the caller's random stream is left as it was
    assert np.isnan(frechet_distance(np.full((5, 3), np.nan), np.zeros((5, 3))))
    with pytest.raises(ValueError, match="widths"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


# -- precision, recall, density, coverage -------------------------------------------------------
def test_precision_falls_for_noise_and_recall_for_one_repeated_image(digits):
    train, heldout, clf = digits
    rng = np.random.default_rng(0)
    real = clf.features(train.x[rng.choice(len(train), len(heldout), replace=False)])
    good = precision_recall_density_coverage(real, clf.features(heldout.x))
    # measured: precision 0.99, recall 0.97, density 0.99, coverage 0.98
    assert good["precision"] > 0.85 and good["recall"] > 0.85 and good["coverage"] > 0.85
    assert 0.7 < good["density"] < 1.3
    noise = precision_recall_density_coverage(real, clf.features(rng.random(heldout.x.shape)))
    assert noise["precision"] < 0.1 and noise["density"] < 0.1      # measured 0.0 and 0.0
    one = precision_recall_density_coverage(real, clf.features(np.repeat(heldout.x[:1], len(heldout), 0)))
    assert one["recall"] < 0.1 and one["coverage"] < 0.15           # measured 0.0 and 0.04
    assert one["precision"] > 0.9                                   # it is a real digit: measured 1.0
    # recall uses the samples' own balls, coverage the real ones: 20 spread-out digits have wide
    # balls that reach most real digits, but sit in few real balls (measured recall 1.0, coverage 0.39)
    sparse = precision_recall_density_coverage(real, clf.features(heldout.x[:20]))
    assert sparse["recall"] > 0.9 and sparse["coverage"] < 0.6


# -- energy distance ----------------------------------------------------------------------------
def test_energy_distance_is_about_zero_for_one_distribution_and_grows_with_a_shift():
    a, b = ring8(n=2000, seed=1).x, ring8(n=2000, seed=2).x
    # measured: -0.0013 for two draws; 0.044, 0.151, 0.403 shifted by 0.2, 0.5, 1.0
    assert abs(energy_distance(a, b)) < 0.01
    shifted = [energy_distance(a, b + [s, 0]) for s in (0.2, 0.5, 1.0)]
    assert shifted[0] > 0.02 and all(y > 2 * x for x, y in zip(shifted, shifted[1:])), shifted
    assert energy_distance(a, b + [0.5, 0]) == pytest.approx(energy_distance(b + [0.5, 0], a), abs=0.01)
    assert abs(energy_distance(ring8(n=20000, seed=1).x, ring8(n=20000, seed=2).x)) < 0.01  # subsampled


# -- memorisation and classifier scores ---------------------------------------------------------
def test_copies_of_training_images_are_nearer_than_heldout_images_ever_are(digits):
    train, heldout, _ = digits
    copies = noisy(train.x[:50], 0.01)
    nn = nearest_training_neighbours(copies, train.x, heldout=heldout.x)
    # measured: copies 0.08 from their original, held-out digits a median 1.02 from theirs
    assert nn["median_distance"] < 0.3 < 0.8 < nn["heldout_median_distance"]
    assert nn["closer_than_heldout"] == 1.0
    assert (nn["indices"][:, 0] == np.arange(50)).all()
    assert len(nn["closest"]) == 8 and nn["closest"][0][2] <= nn["closest"][-1][2]
    fresh = nearest_training_neighbours(heldout.x, train.x, heldout=heldout.x)
    assert fresh["closer_than_heldout"] < 0.05                      # measured 0.011 (the 1 % quantile)


def test_classifier_scores_from_probabilities():
    sure = np.eye(10)[np.arange(200) % 10] * 0.98 + 0.002          # every class, equally, surely
    assert classifier_score(sure) == pytest.approx(8.8, abs=0.3)   # ~10 for one-hot rows
    assert confident_fraction(sure) == 1.0
    assert np.allclose(class_histogram(sure), 0.1)
    one_class = np.tile(sure[:1], (200, 1))                        # sure, but always a "0"
    assert classifier_score(one_class) == pytest.approx(1.0) and class_histogram(one_class)[0] == 1.0
    unsure = np.full((200, 10), 0.1)
    assert classifier_score(unsure) == pytest.approx(1.0) and confident_fraction(unsure) == 0.0


# -- the whole report ---------------------------------------------------------------------------
def test_sample_metrics_on_digits_tells_real_from_noise_and_copies(digits):
    train, heldout, _ = digits
    real = sample_metrics(heldout.x, train, heldout)
    ref = real["reference"]
    # measured (held-out as samples): FD 4.44, KID -0.16 +- 0.45, precision 0.99, recall 0.97,
    # confident 0.94, classifier score 8.7; 0.3-0.6 s
    assert real["frechet_distance"] == pytest.approx(ref["frechet_distance"])
    assert real["frechet_distance"] < 10 and abs(real["kid"]) < 1.5
    assert real["precision"] > 0.85 and real["recall"] > 0.85
    assert real["confident_fraction"] > 0.85 and real["classifier_score"] > 7
    assert real["n_compared"] == len(heldout) and real["feature_space"] == "digits classifier features"
    assert "not comparable with published FID" in real["notes"]["frechet_distance"]
    assert "not comparable with published IS" in real["notes"]["classifier_score"]
    json.dumps(real)  # plain numbers: the CLI writes it as it is

    noise = sample_metrics(np.random.default_rng(0).random((1000, 1, 8, 8)), train, heldout)
    # measured: FD 354, KID 68, precision 0, confident 0, classifier score 1.03
    assert noise["frechet_distance"] > 20 * ref["frechet_distance"]
    assert noise["kid"] > 20 and noise["precision"] < 0.1 and noise["recall"] < 0.1
    assert noise["confident_fraction"] < 0.1 and noise["classifier_score"] < 2
    assert noise["n_samples"] == 1000 and noise["n_compared"] == len(heldout)  # took 0.2-0.5 s
    # the reference is drawn from its own seeded stream: one scale for every model's samples
    assert noise["reference"]["kid"] == ref["kid"] and noise["reference"]["precision"] == ref["precision"]

    copies = sample_metrics(train.x[:500], train, heldout)
    # measured: nearest distance 0 for every copy; held-out digits: 1 % of them that near
    assert copies["nearest_neighbours"]["closer_than_heldout"] > 0.9
    assert ref["nearest_neighbours"]["closer_than_heldout"] < 0.05


def test_sample_metrics_on_ring8_points_with_mode_coverage():
    train, heldout = split_heldout(ring8(), 0)
    fresh = ring8(n=2500, seed=5).x   # new draws of the same mixture
    good = sample_metrics(fresh, train, heldout)
    # measured: energy 0.0013 (reference -0.0016), FD 0.011, precision 0.99, recall 0.99, 8 modes
    assert abs(good["energy_distance"]) < 0.01 and abs(good["reference"]["energy_distance"]) < 0.01
    assert good["precision"] > 0.9 and good["recall"] > 0.9
    assert good["modes_covered"] == good["reference"]["modes_covered"] == good["modes"] == 8
    assert "modes_covered" in good["notes"]

    half = fresh[np.arctan2(fresh[:, 1], fresh[:, 0]) > -0.3]   # five of the eight modes
    collapsed = sample_metrics(half, train, heldout)
    # measured: energy 0.54, recall 0.58, coverage 0.58, 5 modes, precision still 0.99
    assert collapsed["energy_distance"] > 0.2 and collapsed["recall"] < 0.75
    assert collapsed["modes_covered"] == 5 and collapsed["precision"] > 0.9

    uniform = sample_metrics(np.random.default_rng(0).uniform(-3, 3, (2500, 2)), train, heldout)
    # measured: energy 0.097, precision 0.007, high quality 0.003
    assert uniform["energy_distance"] > 0.04 and uniform["precision"] < 0.1 and uniform["high_quality"] < 0.05
    json.dumps(uniform)


def test_metrics_stay_qt_free_and_the_package_import_cheap():
    root = Path(__file__).resolve().parents[1] / "visgen" / "metrics"
    for name in NEW_MODULES:
        tree = ast.parse((root / f"{name}.py").read_text())
        imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in imported if m.startswith("PySide6") or "gui" in m.split(".")], name
    code = ("import sys, visgen.metrics; assert 'torch' not in sys.modules; "
            "from visgen.metrics import sample_metrics; "
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'visgen.gui'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
