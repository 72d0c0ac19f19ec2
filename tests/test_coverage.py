"""The mode-coverage metric (``visgen.mode_coverage``) and its place in ``summary.json``.

A sample is high quality when it lies within 3 std of its nearest mode; a mode is
covered when it is the nearest mode of at least one high-quality sample.
"""
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from visgen import mode_coverage
from visgen.data import toy2d

RING_STD, GRID_STD = 0.02, 0.05
# P(|x - mu| <= 3 sigma) for an isotropic 2D Gaussian: the radius is Rayleigh distributed.
P_WITHIN_3_SIGMA_2D = 1 - math.exp(-9 / 2)   # 0.98889


def _ring8(n=2500, seed=0):
    return toy2d.ring8(n=n, seed=seed)


def test_real_ring8_samples_cover_all_8_modes():
    data = _ring8()
    assert data.mixture is not None and data.mixture.std == RING_STD
    cov = mode_coverage(data.x, data.mixture.centers, data.mixture.std)
    assert cov["modes"] == 8
    assert cov["modes_covered"] == 8
    assert isinstance(cov["modes_covered"], int) and isinstance(cov["high_quality"], float)
    # 0.9889 expected; the binomial sd over 2,500 samples is 0.002.
    assert 0.98 < cov["high_quality"] <= 1.0
    assert cov["high_quality"] == pytest.approx(P_WITHIN_3_SIGMA_2D, abs=0.008)


def test_real_grid25_samples_cover_all_25_modes():
    data = toy2d.grid25(n=2500, seed=1)
    assert data.mixture.std == GRID_STD
    cov = mode_coverage(data.x, data.mixture.centers, data.mixture.std)
    assert cov == {"modes_covered": 25, "high_quality": cov["high_quality"], "modes": 25}
    assert cov["high_quality"] == pytest.approx(P_WITHIN_3_SIGMA_2D, abs=0.008)


def test_samples_from_one_mode_cover_one():
    data = toy2d.ring8(n=24000, seed=2)
    one = data.x[data.labels == 3][:2500]
    assert len(one) == 2500
    cov = mode_coverage(one, data.mixture.centers, data.mixture.std)
    assert cov["modes_covered"] == 1
    assert cov["high_quality"] > 0.98          # collapsed, but every sample is a good one
    # the same with a hand-made collapse onto mode 5 (at angle 5 * 45 degrees)
    rng = np.random.default_rng(0)
    c5 = 2.0 * np.array([math.cos(5 * math.pi / 4), math.sin(5 * math.pi / 4)])
    pts = c5 + RING_STD * rng.standard_normal((2500, 2))
    assert mode_coverage(pts, toy2d.ring8_centers(), RING_STD)["modes_covered"] == 1


def test_three_sigma_is_the_threshold():
    centers = toy2d.ring8_centers()
    s = RING_STD
    inside = centers + [[2.9 * s, 0.0]]       # each just inside its own mode's 3-sigma disc
    outside = centers + [[0.0, 3.1 * s]]      # each just outside
    cov = mode_coverage(np.concatenate([inside, outside]), centers, s)
    assert cov["modes_covered"] == 8
    assert cov["high_quality"] == 0.5
    assert mode_coverage(outside, centers, s)["modes_covered"] == 0
    # n_sigma widens the disc
    assert mode_coverage(outside, centers, s, n_sigma=3.2)["high_quality"] == 1.0


@pytest.mark.parametrize("loader,n", [(toy2d.ring8, 400_000), (toy2d.grid25, 200_000)])
def test_uniform_noise_is_rarely_high_quality(loader, n):
    data = loader(n=10, seed=0)
    centers, std = data.mixture.centers, data.mixture.std
    k = len(centers)
    # The 3-sigma discs do not overlap and lie inside the box, so the expected
    # high-quality fraction is their total area over the box's area.
    p = k * math.pi * (3 * std) ** 2 / 20.0 ** 2       # ring8: 2.26e-4, grid25: 4.42e-3
    rng = np.random.default_rng(123)
    small = rng.uniform(-10, 10, size=(2500, 2))
    assert mode_coverage(small, centers, std)["high_quality"] < 0.05
    assert mode_coverage(small, centers, std)["high_quality"] <= p + 5 * math.sqrt(p / 2500)
    big = rng.uniform(-10, 10, size=(n, 2))
    cov = mode_coverage(big, centers, std)
    sd = math.sqrt(p * (1 - p) / n)
    assert abs(cov["high_quality"] - p) < 5 * sd, (cov["high_quality"], p, sd)
    if k == 25:   # ~35 hits expected per mode: every mode is hit
        assert cov["modes_covered"] == 25


def test_noise_far_from_every_mode_covers_nothing():
    centers = toy2d.ring8_centers()
    far = np.full((2500, 2), 100.0)
    assert mode_coverage(far, centers, RING_STD) == {"modes_covered": 0, "high_quality": 0.0, "modes": 8}
    rng = np.random.default_rng(0)
    cloud = 100 + rng.standard_normal((2500, 2))
    assert mode_coverage(cloud, centers, RING_STD)["modes_covered"] == 0


def test_nan_and_inf_samples_are_never_high_quality():
    data = _ring8(n=100)
    centers, std = data.mixture.centers, data.mixture.std
    assert mode_coverage(np.full((50, 2), np.nan), centers, std)["high_quality"] == 0.0
    assert mode_coverage(np.full((50, 2), np.nan), centers, std)["modes_covered"] == 0
    # a NaN in one coordinate only, right on a centre in the other
    half = np.array([[centers[0, 0], np.nan], [np.nan, centers[2, 1]], [np.inf, 0.0], [-np.inf, np.inf]])
    assert mode_coverage(half, centers, std) == {"modes_covered": 0, "high_quality": 0.0, "modes": 8}
    mixed = np.concatenate([data.x, np.full((100, 2), np.nan)])
    clean = mode_coverage(data.x, centers, std)
    cov = mode_coverage(mixed, centers, std)
    assert cov["high_quality"] == pytest.approx(clean["high_quality"] / 2)
    assert cov["modes_covered"] == clean["modes_covered"] == 8


def test_empty_samples():
    assert mode_coverage(np.zeros((0, 2)), toy2d.grid25_centers(), GRID_STD) == \
        {"modes_covered": 0, "high_quality": 0.0, "modes": 25}


def test_matches_a_brute_force_count():
    rng = np.random.default_rng(7)
    centers = toy2d.grid25_centers()
    std = 0.2
    x = rng.uniform(-5, 5, size=(100, 2))
    good, covered = 0, set()
    for px, py in x:
        d = [math.hypot(px - cx, py - cy) for cx, cy in centers]
        j = min(range(len(d)), key=d.__getitem__)
        if d[j] <= 3 * std:
            good += 1
            covered.add(j)
    cov = mode_coverage(x, centers, std)
    assert 0 < good < 100 and 1 < len(covered) < 25     # the check means something
    assert cov["high_quality"] == good / 100 and cov["modes_covered"] == len(covered)


# -- summary.json --------------------------------------------------------------------
def _train(model, dataset, out):
    env = {k: v for k, v in os.environ.items()
           if k not in ("VISGEN_DISABLE_PLUGIN_AUTOLOAD", "VISGEN_BLOCK_PLUGINS")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, "-m", "visgen.cli.main", "train", model, "--dataset", dataset,
                           "--steps", "50", "--device", "cpu", "--out", str(out)],
                          capture_output=True, text=True, timeout=120, env=env)


def test_visgen_train_writes_coverage_for_mixtures_only(tmp_path):
    ring, digits = tmp_path / "ring", tmp_path / "digits"
    with ThreadPoolExecutor(2) as pool:
        ring_proc, digits_proc = pool.map(lambda a: _train(*a), [("vae", "ring8", ring), ("vae", "digits", digits)])
    assert ring_proc.returncode == 0, ring_proc.stderr
    assert digits_proc.returncode == 0, digits_proc.stderr
    s = json.loads((ring / "summary.json").read_text())
    assert s["steps"] == 50 and s["dataset"] == "ring8"
    assert isinstance(s["modes_covered"], int) and 0 <= s["modes_covered"] <= 8
    assert isinstance(s["high_quality"], float) and 0.0 <= s["high_quality"] <= 1.0
    assert s["modes"] == 8
    d = json.loads((digits / "summary.json").read_text())
    assert d["steps"] == 50 and d["dataset"] == "digits"
    assert not {"modes_covered", "high_quality", "modes"} & set(d)
