"""When does a view show the idea? Pure tests of what a snapshot holds (no Qt, no torch).

Each criterion reads the numbers a view was given, the same ones it draws, so a
benchmark can say "the learner could see it now" without trusting a headless
summary:

* ``latent_sorted``: a VAE's latent scatter sorts the classes (leave-one-out
  5-NN accuracy by class of the shown points at least 0.8);
* ``modes_shown``: the sample points on a Gaussian mixture cover every mode with
  a high-quality fraction of at least 0.5 (``visgen.mode_coverage``);
* ``digits_shown``: a digits classifier is sure of the shown sample grid (mean
  top-class probability at least 0.8) and sees at least 6 different digits in it.

Each returns ``(ok, numbers)``; the numbers say how far from the goal a view is.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ..core.coverage import mode_coverage

KNN_K = 5
KNN_GOAL = 0.8
HIGH_QUALITY_GOAL = 0.5
CONFIDENCE_GOAL = 0.8
CLASSES_GOAL = 6
#: names of the point sets that hold a model's samples: Scatter "samples" (VAE, diffusion),
#: the fakes on a GAN's discriminator field
SAMPLE_SERIES = ("samples", "fake G(z)")


# -- the VAE's latent space ------------------------------------------------------------------
def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = KNN_K, chunk: int = 512) -> float:
    """Leave-one-out k-NN accuracy: the fraction of points whose k nearest *other* points
    vote for their own label (a tie goes to the class whose points are nearer).
    A point that is not finite counts as wrong."""
    x = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
    y = np.asarray(labels).reshape(-1)
    n = len(x)
    if n != len(y):
        raise ValueError(f"{n} points but {len(y)} labels")
    if n <= 1:
        return 0.0
    finite = np.isfinite(x).all(1)
    x, y_f = x[finite], y[finite]
    k = min(k, len(x) - 1)
    if k < 1:
        return 0.0
    classes, y_idx = np.unique(y_f, return_inverse=True)
    sq = (x * x).sum(1)
    correct = 0
    for start in range(0, len(x), chunk):  # chunks: 2,000 points at once would be 32 MB of distances
        stop = min(start + chunk, len(x))
        d = sq[start:stop, None] - 2 * x[start:stop] @ x.T + sq[None, :]
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf  # leave the point itself out
        near = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d, near, 1).argsort(1)
        near = np.take_along_axis(near, order, 1)  # the k neighbours, nearest first
        votes = np.zeros((stop - start, len(classes)))
        rows = np.arange(stop - start)[:, None]
        # one vote each, plus a little less than 1/k for nearness: breaks ties, never outvotes
        np.add.at(votes, (rows, y_idx[near]), 1.0 + (k - np.arange(k)) / (k * k + 1.0))
        correct += int((votes.argmax(1) == y_idx[start:stop]).sum())
    return correct / n


def latent_sorted(points: np.ndarray, labels: np.ndarray, goal: float = KNN_GOAL) -> tuple:
    """``(ok, {"knn_accuracy": a})``: the shown latent points sort the classes when a >= ``goal``."""
    acc = knn_accuracy(points, labels)
    return acc >= goal, {"knn_accuracy": round(acc, 4)}


# -- samples on a Gaussian mixture -----------------------------------------------------------
def modes_shown(points: np.ndarray, centers: np.ndarray, std: float,
                goal: float = HIGH_QUALITY_GOAL) -> tuple:
    """``(ok, coverage)``: every mode covered and a high-quality fraction of at least ``goal``
    (``coverage`` is ``visgen.mode_coverage`` of the points)."""
    cov = mode_coverage(points, centers, std)
    ok = cov["modes_covered"] == cov["modes"] and cov["high_quality"] >= goal
    return ok, {**cov, "high_quality": round(cov["high_quality"], 4)}


def shown_samples(snapshot, names=SAMPLE_SERIES) -> Optional[np.ndarray]:
    """The (N, 2) sample points a Scatter or Field2D snapshot draws, or None if it has none."""
    sets = getattr(snapshot, "series", None) or getattr(snapshot, "points", None)
    if not isinstance(sets, list):  # a FrameSequence's ``points`` is an array of frames, not sample sets
        return None
    for s in sets:
        if getattr(s, "name", None) in names:
            return s.xy
    return None


# -- a grid of generated digits --------------------------------------------------------------
def untile(picture: np.ndarray, height: int, width: int, pad: int = 1, n: Optional[int] = None,
           pad_value: Optional[float] = 1.0) -> np.ndarray:
    """Cut a picture made by ``visgen.tile`` back into its (N, height, width[, 3]) images.

    ``n``: how many images it holds; by default every cell except the trailing ones that are
    all ``pad_value`` (the empty cells ``tile`` leaves in the last row)."""
    picture = np.asarray(picture)
    rows = (picture.shape[0] - pad) // (height + pad)
    cols = (picture.shape[1] - pad) // (width + pad)
    if rows < 1 or cols < 1 or rows * (height + pad) + pad != picture.shape[0] \
            or cols * (width + pad) + pad != picture.shape[1]:
        raise ValueError(f"a {picture.shape[:2]} picture is no grid of {height}x{width} images "
                         f"with {pad}-pixel padding")
    cells = [picture[pad + r * (height + pad): pad + r * (height + pad) + height,
                     pad + c * (width + pad): pad + c * (width + pad) + width]
             for r in range(rows) for c in range(cols)]
    if n is None:
        n = len(cells)
        while n > 1 and pad_value is not None and np.all(cells[n - 1] == pad_value):
            n -= 1
    return np.stack(cells[:n])


def grid_images(snapshot, height: int = 8, width: int = 8) -> np.ndarray:
    """The (N, height, width) images an ImageGrid snapshot shows: its ``images`` when it keeps
    them one by one (every built-in plugin does), else its one tiled picture cut back."""
    images = np.asarray(snapshot.images)
    if images.shape[1:3] == (height, width):
        return images
    if len(images) == 1:
        return untile(images[0], height, width)
    raise ValueError(f"an ImageGrid of shape {images.shape} holds no {height}x{width} images")


def digits_shown(probabilities: np.ndarray, goal: float = CONFIDENCE_GOAL,
                 classes: int = CLASSES_GOAL) -> tuple:
    """``(ok, numbers)`` from a classifier's (N, 10) probabilities for the shown images:
    mean top-class probability at least ``goal`` and at least ``classes`` different predictions."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        return False, {"confidence": 0.0, "classes": 0}
    top = p.max(1)
    conf = float(top.mean()) if np.isfinite(top).all() else 0.0
    distinct = int(len(np.unique(p.argmax(1))))
    return conf >= goal and distinct >= classes, {"confidence": round(conf, 4), "classes": distinct}


def picture_age(snapshot, now: float) -> float:
    """Seconds since a snapshot was taken (``taken_at`` on the ``time.monotonic`` clock);
    NaN when the runtime did not stamp it."""
    taken = getattr(snapshot, "taken_at", 0.0)
    return now - taken if taken else math.nan
