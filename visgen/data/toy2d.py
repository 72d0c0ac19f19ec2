"""2D toy distributions, generated in code from a seed (numpy only).

Scale: every set lies roughly within [-4, 4] on both axes so that one plot range
and one set of learning rates suit them all.

* ``ring8``  8 Gaussians on a circle of radius 2, std 0.02 (the GAN mode-collapse test).
* ``grid25`` 25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05.
* ``moons``  two interleaved half circles, x in [-3, 3], y in [-1.5, 1.5].
* ``swissroll`` a 2D swiss roll, radius up to about 2.8.
* ``checkerboard`` uniform on the 8 dark squares of a 4x4 board over [-4, 4]^2.
* ``spiral`` two spiral arms, radius up to 3.
* ``circles`` two concentric rings of radius 1.25 and 2.5.

Every loader has the signature ``loader(path=None, n=20000, seed=0, ...)``;
``path`` is accepted for a uniform loader interface and ignored. The same seed
always gives the same points.
"""
from __future__ import annotations

import numpy as np

from ..core.errors import DataError
from ..core.dataset import Dataset, Mixture

DEFAULT_N = 20000


def _rng(name: str, n, seed) -> np.random.Generator:
    # Options may arrive as strings or floats from a GUI or CLI; refuse nonsense early.
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"{name}: n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"{name}: seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(seed)


def _gaussian_mixture(name: str, centers: np.ndarray, std: float, n: int, seed: int) -> Dataset:
    rng = _rng(name, n, seed)
    if isinstance(std, bool) or not isinstance(std, (int, float, np.floating)) or not std > 0:
        raise DataError(f"{name}: std must be positive, got {std!r}")
    comp = rng.integers(len(centers), size=n)
    x = centers[comp] + std * rng.standard_normal((n, 2))
    return Dataset(name=name, kind="points", x=x, labels=comp,
                   class_names=[f"mode {k}" for k in range(len(centers))],
                   mixture=Mixture(centers=centers.astype(np.float32), std=float(std)))


def ring8_centers(radius: float = 2.0) -> np.ndarray:
    """(8, 2) centers of ``ring8``: evenly spaced on a circle, the first at (radius, 0)."""
    a = 2 * np.pi * np.arange(8) / 8
    return radius * np.stack([np.cos(a), np.sin(a)], axis=1)


def grid25_centers() -> np.ndarray:
    """(25, 2) centers of ``grid25``, row-major: (-4,-4), (-4,-2), ..., (4,4)."""
    g = np.arange(-4.0, 5.0, 2.0)
    return np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)


def ring8(path=None, n: int = DEFAULT_N, seed: int = 0, std: float = 0.02) -> Dataset:
    """8 Gaussians on a circle of radius 2; labels are the mode index."""
    return _gaussian_mixture("ring8", ring8_centers(), std, n, seed)


def grid25(path=None, n: int = DEFAULT_N, seed: int = 0, std: float = 0.05) -> Dataset:
    """25 Gaussians on a 5x5 grid at -4, -2, 0, 2, 4; labels are the mode index."""
    return _gaussian_mixture("grid25", grid25_centers(), std, n, seed)


def moons(path=None, n: int = DEFAULT_N, seed: int = 0, noise: float = 0.1) -> Dataset:
    """Two interleaved half circles (as sklearn's make_moons), centred and scaled x2."""
    rng = _rng("moons", n, seed)
    lab = rng.integers(2, size=n)
    t = rng.uniform(0, np.pi, size=n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    x = np.where(lab[:, None] == 0, upper, lower)
    x = 2 * (x - [0.5, 0.25]) + noise * rng.standard_normal((n, 2))
    return Dataset(name="moons", kind="points", x=x, labels=lab,
                   class_names=["upper moon", "lower moon"])


def swissroll(path=None, n: int = DEFAULT_N, seed: int = 0, noise: float = 0.1) -> Dataset:
    """A 2D swiss roll (sklearn's make_swiss_roll seen from the side), divided by 5; unlabelled."""
    rng = _rng("swissroll", n, seed)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    x = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5
    x = x + noise * rng.standard_normal((n, 2))
    return Dataset(name="swissroll", kind="points", x=x)


def checkerboard(path=None, n: int = DEFAULT_N, seed: int = 0) -> Dataset:
    """Uniform over the 8 dark squares of a 4x4 board of 2x2 squares on [-4, 4]^2; unlabelled."""
    rng = _rng("checkerboard", n, seed)
    col = rng.integers(4, size=n)
    # Dark squares are those with (row + col) even: pick a row of matching parity.
    row = 2 * rng.integers(2, size=n) + col % 2
    x = np.stack([col, row], axis=1) * 2.0 - 4.0 + rng.uniform(0, 2, size=(n, 2))
    return Dataset(name="checkerboard", kind="points", x=x)


def spiral(path=None, n: int = DEFAULT_N, seed: int = 0, noise: float = 0.08) -> Dataset:
    """Two spiral arms of 1.5 turns, radius up to 3; labels are the arm."""
    rng = _rng("spiral", n, seed)
    arm = rng.integers(2, size=n)
    # sqrt spreads points evenly along the arm instead of crowding the centre.
    t = np.sqrt(rng.uniform(0.02, 1, size=n)) * 3 * np.pi
    a = t + np.pi * arm
    x = (t / np.pi)[:, None] * np.stack([np.cos(a), np.sin(a)], axis=1)
    x = x + noise * rng.standard_normal((n, 2))
    return Dataset(name="spiral", kind="points", x=x, labels=arm, class_names=["arm 0", "arm 1"])


def circles(path=None, n: int = DEFAULT_N, seed: int = 0, noise: float = 0.08) -> Dataset:
    """Two concentric rings, radius 1.25 (inner) and 2.5 (outer); labels are the ring."""
    rng = _rng("circles", n, seed)
    lab = rng.integers(2, size=n)
    r = np.where(lab == 0, 1.25, 2.5)
    a = rng.uniform(0, 2 * np.pi, size=n)
    x = r[:, None] * np.stack([np.cos(a), np.sin(a)], axis=1) + noise * rng.standard_normal((n, 2))
    return Dataset(name="circles", kind="points", x=x, labels=lab,
                   class_names=["inner ring", "outer ring"])


TOY_DATASETS = {
    "ring8": ring8, "grid25": grid25, "moons": moons, "swissroll": swissroll,
    "checkerboard": checkerboard, "spiral": spiral, "circles": circles,
}
