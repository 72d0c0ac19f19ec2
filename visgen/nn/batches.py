"""Random mini-batches from a dataset held on the training device."""
from __future__ import annotations

from typing import Optional

import torch


class BatchSampler:
    """Keeps the whole (small) dataset on the device and draws batches with replacement
    across epochs; cheaper than a DataLoader for data that fits in memory."""

    def __init__(self, x, labels=None, device: torch.device = torch.device("cpu")):
        self.x = torch.as_tensor(x, dtype=torch.float32, device=device)
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.long, device=device)
        self._perm: Optional[torch.Tensor] = None
        self._pos = 0

    def __len__(self) -> int:
        return len(self.x)

    def indices(self, n: int) -> torch.Tensor:
        """Next ``n`` indices of a shuffled epoch (reshuffled when exhausted)."""
        if self._perm is None or self._pos + n > len(self._perm):
            self._perm = torch.randperm(len(self.x), device=self.x.device)
            self._pos = 0
        idx = self._perm[self._pos:self._pos + n]
        self._pos += n
        return idx

    def batch(self, n: int):
        """``(x, labels)`` for the next ``n`` samples of the epoch; labels is None for unlabelled
        data. For training only: views and metrics use ``sample``."""
        return self._rows(self.indices(min(n, len(self.x))))

    def sample(self, n: int):
        """``(x, labels)`` for ``n`` random samples, leaving the epoch where it was: what a view or
        a metric shows must not change the batches training sees next (same seed, same run)."""
        return self._rows(torch.randperm(len(self.x), device=self.x.device)[:n])

    def _rows(self, idx):
        return self.x[idx], (None if self.labels is None else self.labels[idx])
