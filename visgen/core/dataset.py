"""The in-memory dataset every trainer receives."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .errors import DataError

MAX_DATA_BYTES = 1 << 30
"""Largest data set a loader builds: 1 GiB as float32 (2**28 values). Everything is held in
memory, next to the model and its optimiser on a laptop; MNIST's 60000 images are 188 MB, so
this leaves five times that, and a wrong folder or a crafted header is refused before it can
take the machine down (an unbounded folder of photographs once grew to 22.9 GB)."""


@dataclass(frozen=True)
class Mixture:
    """The true components of a Gaussian-mixture dataset, for coverage metrics."""

    centers: np.ndarray  # (K, 2)
    std: float


@dataclass
class Dataset:
    """Data loaded into memory.

    ``kind == "points"``: ``x`` is (N, 2) float32.
    ``kind == "images"``: ``x`` is (N, C, H, W) float32 in [0, 1].
    ``labels`` (N,) int64 index ``class_names``, or None for unlabelled data.
    ``mixture`` is set for Gaussian mixtures (ring8, grid25).
    """

    name: str
    kind: str
    x: np.ndarray
    labels: Optional[np.ndarray] = None
    class_names: Optional[Sequence[str]] = None
    source: str = "generated"
    mixture: Optional[Mixture] = None

    def __post_init__(self):
        self.x = np.ascontiguousarray(self.x, dtype=np.float32)
        if self.kind == "points" and (self.x.ndim != 2 or self.x.shape[1] != 2):
            raise ValueError(f"{self.name}: points must be (N, 2), got {self.x.shape}")
        if self.kind == "images" and self.x.ndim != 4:
            raise ValueError(f"{self.name}: images must be (N, C, H, W), got {self.x.shape}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
            if len(self.labels) != len(self.x):
                raise ValueError(f"{self.name}: {len(self.labels)} labels for {len(self.x)} samples")

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, index) -> "Dataset":
        """The examples at ``index`` (a held-out part, a training part), same name and kind."""
        return Dataset(name=self.name, kind=self.kind, x=self.x[index],
                       labels=None if self.labels is None else self.labels[index],
                       class_names=self.class_names, source=self.source, mixture=self.mixture)

    @property
    def num_classes(self) -> int:
        if self.labels is None:
            return 0
        return len(self.class_names) if self.class_names else int(self.labels.max()) + 1

    @property
    def image_shape(self) -> tuple:
        """(C, H, W) for images; (2,) for points."""
        return tuple(self.x.shape[1:])

    @property
    def dim(self) -> int:
        """Number of values per sample."""
        return int(np.prod(self.x.shape[1:]))


def check_values(x: np.ndarray, source: str, kind: str) -> None:
    """Refuse data a model cannot learn from, before training blames the learning rate.

    Raises ``DataError`` naming ``source`` if ``x`` holds a value that is not finite as
    float32 (NaN, infinity, or beyond +-3.4e38, which become infinite when converted), or
    if every value is the same (e.g. all-black images): such data has no variance, so
    scaling by it divides by zero and losses turn NaN many steps later. ``kind`` is
    ``"points"`` or ``"images"``, for the message.
    """
    x = np.asarray(x)
    if x.size == 0:
        raise DataError(f"{source}: no {kind}")
    if x.dtype.kind == "f":
        flat = x.reshape(len(x), -1)
        ok = np.abs(flat) <= np.finfo(np.float32).max  # False for NaN too
        if not ok.all():
            i = int(np.argmin(ok.all(axis=1)))
            value = float(flat[i][~ok[i]][0])
            raise DataError(f"{source}: sample {i} holds {value:g}, not a finite float32 value")
    lo, hi = x.min(), x.max()
    if lo == hi:
        what = "pixel of every image" if kind == "images" else "coordinate of every point"
        raise DataError(f"{source}: every {what} is {lo:g}: constant data, nothing to learn")
