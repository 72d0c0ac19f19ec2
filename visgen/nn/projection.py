"""A 2D PCA projection whose axes do not flip between snapshots."""
from __future__ import annotations

from typing import Optional

import numpy as np


class PCA2D:
    """Project points of any dimension to 2D and back.

    Refitting on each snapshot follows the latent space as it changes; signs are
    aligned with the previous fit so the picture does not mirror from frame to frame.
    """

    def __init__(self):
        self.mean: Optional[np.ndarray] = None
        self.components: Optional[np.ndarray] = None  # (2, D)

    def fit(self, x: np.ndarray) -> "PCA2D":
        x = np.asarray(x, dtype=np.float64)
        mean = x.mean(0)
        if x.shape[1] == 1:
            comps = np.array([[1.0], [0.0]])
        else:
            _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
            comps = vt[:2]
        if self.components is not None and self.components.shape == comps.shape:
            signs = np.sign((comps * self.components).sum(1))
            comps = comps * np.where(signs == 0, 1, signs)[:, None]
        self.mean, self.components = mean, comps
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = (np.asarray(x, np.float64) - self.mean) @ self.components.T
        return out.astype(np.float32)

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        """Points on the projection plane back in the original space."""
        return (np.asarray(xy, np.float64) @ self.components + self.mean).astype(np.float32)
