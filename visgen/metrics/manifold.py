"""Precision, recall, density and coverage: fidelity and diversity of samples, apart.

Each set's "manifold" is the union of balls around its vectors, a ball reaching
a vector's k-th nearest neighbour in the same set. A sample inside the real
manifold looks real (precision); a real vector inside the samples' manifold is
one the model can make (recall). Density and coverage (Naeem et al. 2020) count
with the real balls only, so one outlying sample cannot inflate them.

Qt-free; torch (for ``cdist``) and numpy only.
"""
from __future__ import annotations

import numpy as np
import torch

K = 5  # neighbours per ball; both papers use 3-5, Naeem et al. 5


def _kth_neighbour_radius(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each vector to its k-th nearest *other* vector of the same set."""
    d = torch.cdist(x, x)
    # column 0 of the sorted row is the vector itself (distance 0)
    return d.kthvalue(k + 1, dim=1).values


def precision_recall_density_coverage(real, fake, k: int = K) -> dict:
    """``{"precision", "recall", "density", "coverage"}`` of (M, d) ``fake`` vectors against
    (N, d) ``real`` ones, from k-nearest-neighbour balls (``k`` clamped to the smaller set - 1).

    * precision: fraction of fakes inside some real ball (how many samples look real);
    * recall: fraction of reals inside some fake ball (how much of the data the model makes);
    * density: real balls containing a fake, per fake, over k (about 1 when fakes are
      distributed like the reals; above 1 when they crowd where the reals are densest);
    * coverage: fraction of reals whose own ball holds a fake.

    All but density lie in [0, 1]. They depend on k and on both set sizes, so compare
    numbers measured with the same sizes. They say nothing about exact copies (a model that
    returns its training set scores perfectly). Distances are Euclidean in whatever space the
    vectors are (classifier features, raw points). A fake that is not finite counts as outside every ball.
    """
    r = torch.as_tensor(np.asarray(real, dtype=np.float64)).reshape(len(real), -1)
    f = torch.as_tensor(np.asarray(fake, dtype=np.float64)).reshape(len(fake), -1)
    if len(r) < 2 or len(f) < 2:
        raise ValueError(f"each set needs at least 2 vectors, got {len(r)} real and {len(f)} fake")
    if not torch.isfinite(r).all():
        raise ValueError("the real vectors hold a value that is not finite")
    m = len(f)  # precision and density count a non-finite fake as a fake outside every ball
    f = f[torch.isfinite(f).all(1)]
    if len(f) < 2:
        return {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    k = max(1, min(int(k), len(r) - 1, len(f) - 1))
    real_r = _kth_neighbour_radius(r, k)                  # (N,)
    fake_r = _kth_neighbour_radius(f, k)                  # (M,)
    d = torch.cdist(r, f)                                 # (N, M) real-to-fake distances
    in_real = d <= real_r[:, None]                        # fake j inside real i's ball
    return {
        # precision (Kynkäänniemi et al. 2019): fakes inside the real manifold
        "precision": float(in_real.any(0).sum()) / m,
        # recall (Kynkäänniemi et al. 2019): reals inside the fake manifold
        "recall": float((d <= fake_r[None, :]).any(1).double().mean()),
        # density (Naeem et al. 2020): (1/kM) sum_j #{i: fake j in real ball i}
        "density": float(in_real.sum()) / (k * m),
        # coverage (Naeem et al. 2020): reals whose nearest fake lies inside their own ball
        "coverage": float((d.min(1).values <= real_r).double().mean()),
    }
