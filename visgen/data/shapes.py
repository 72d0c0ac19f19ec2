"""``shapes``: small dSprites-like images with known generative factors (numpy only).

Each image is one white shape on black: a square, a circle or a triangle (the
label), drawn at a scale and an (x, y) position drawn uniformly at random. The
factors are independent, so a VAE that *disentangles* them puts each one in a
latent dimension of its own (the beta-VAE experiment; Higgins et al. 2017 used
64x64 dSprites, which trains for hours on a CPU - this one trains in seconds).

Horizontal position spans a wider range than vertical position, so the two
translations differ in how much they change the picture; a VAE then has a
preferred axis for each instead of any rotation of the pair.

``factors(images)`` measures x, y and size back from any batch of images, so
tests and traversals can say which factor a latent dimension moves.
"""
from __future__ import annotations

import numpy as np

from ..core.dataset import Dataset
from ..core.errors import DataError

SHAPES = ("square", "circle", "triangle")
DEFAULT_N = 10000
MAX_N = 200000         # 200 MB of images; more is a typo, not a data set
SIZE = 16              # pixels per side
SUPERSAMPLE = 4        # sub-pixels per pixel side: soft, anti-aliased edges
X_RANGE = (3.5, 12.5)  # centre positions in pixels (0 = left edge)
Y_RANGE = (5.0, 11.0)
SCALES = (1.6, 2.4, 3.2)  # half-width of the shape in pixels


def _check(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise DataError(f"shapes: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def render(shape: np.ndarray, x: np.ndarray, y: np.ndarray, scale: np.ndarray,
           size: int = SIZE) -> np.ndarray:
    """(N, size, size) float32 in [0, 1]: shape index, centre (x, y) and half-width per image."""
    s = SUPERSAMPLE
    t = (np.arange(size * s) + 0.5) / s                   # sub-pixel centres in pixel units
    dx = t[None, None, :] - x[:, None, None]
    dy = t[None, :, None] - y[:, None, None]
    r = scale[:, None, None]
    square = np.maximum(np.abs(dx), np.abs(dy)) <= r
    circle = dx ** 2 + dy ** 2 <= (1.15 * r) ** 2        # about the square's area
    triangle = (dy <= r) & (np.abs(dx) <= 0.6 * (dy + 1.2 * r))  # apex up
    k = shape[:, None, None]
    inside = np.where(k == 0, square, np.where(k == 1, circle, triangle))
    return inside.reshape(len(x), size, s, size, s).mean((2, 4)).astype(np.float32)


def load_shapes(path=None, n: int = DEFAULT_N, seed: int = 0) -> Dataset:
    """``n`` images (N, 1, 16, 16) labelled by shape; factors x, y, scale uniform and independent.

    ``path`` is accepted for a uniform loader interface and ignored.
    """
    n, seed = _check("n", n, 1), _check("seed", seed, 0)
    if n > MAX_N:
        raise DataError(f"shapes: n must be at most {MAX_N}, got {n}")
    rng = np.random.default_rng(seed)
    shape = rng.integers(len(SHAPES), size=n)
    scale = np.asarray(SCALES)[rng.integers(len(SCALES), size=n)]
    x = rng.uniform(*X_RANGE, size=n)
    y = rng.uniform(*Y_RANGE, size=n)
    chunks = [slice(i, i + 2000) for i in range(0, n, 2000)]  # bounded scratch memory
    images = np.concatenate([render(shape[c], x[c], y[c], scale[c]) for c in chunks])[:, None]
    return Dataset(name="shapes", kind="images", x=images, labels=shape, class_names=list(SHAPES),
                   source="generated: dSprites-like shapes (x, y, scale, shape)")


def factors(images: np.ndarray) -> np.ndarray:
    """(N, 3): the ink's centre x, centre y (pixels) and its area (pixels) for (N, [1,] H, W) images."""
    img = np.asarray(images, dtype=np.float64).reshape(len(images), *np.shape(images)[-2:])
    mass = img.sum((1, 2)) + 1e-8
    h, w = img.shape[1:]
    cx = (img.sum(1) * (np.arange(w) + 0.5)).sum(1) / mass
    cy = (img.sum(2) * (np.arange(h) + 0.5)).sum(1) / mass
    return np.stack([cx, cy, mass], 1)
