"""scikit-learn's bundled 8x8 handwritten digits (1797 images, no download)."""
from __future__ import annotations

import numpy as np

from ..core.errors import DataError
from ..core.dataset import Dataset


def load_digits(path=None, limit=None) -> Dataset:
    """The 8x8 digits as (N, 1, 8, 8) float32 in [0, 1], labels 0-9.

    ``path`` is ignored (the data ship with scikit-learn); ``limit`` keeps the
    first ``limit`` images.
    """
    try:
        # sklearn is slow to import, so only pay for it when digits are used.
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:
        raise DataError(f"digits: scikit-learn is not installed ({exc})") from None
    try:
        bunch = _sk_load_digits()
    except (OSError, ValueError) as exc:
        raise DataError(f"digits: could not read scikit-learn's digits data ({exc})") from None
    x = bunch.images.astype(np.float32)[:, None] / 16.0  # pixel values are 0..16
    labels = bunch.target
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise DataError(f"digits: limit must be a positive integer, got {limit!r}")
        x, labels = x[:limit], labels[:limit]
    return Dataset(name="digits", kind="images", x=x, labels=labels,
                   class_names=[str(d) for d in range(10)], source="scikit-learn load_digits")
