"""The in-memory dataset every trainer receives."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


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
