"""Has the model copied its training data? Each sample's nearest training example.

A distance alone means nothing ("is 1.3 close?"), so it is read against the
same distance for held-out real examples, which the model never saw: a sample
much closer to a training example than held-out examples ever are is a copy
(or a near-copy) of it. Precision, recall and the Frechet distance all reward
copies, so this is the check that tells memorising from generalising.

The distance is Euclidean on the vectors given, flattened; ``sample_metrics``
passes *pixels* for images, because a copy is a copy pixel for pixel, while a
classifier's features are trained to forget what tells one "3" from another.

Qt-free; torch (for ``cdist``) and numpy only.
"""
from __future__ import annotations

import numpy as np
import torch

COPY_QUANTILE = 0.01  # "closer than held-out": below the 1st percentile of held-out distances
N_SHOW = 8
CHUNK = 1024          # samples per distance matrix: 1024 x 20,000 training points is 160 MB


def nearest_distances(x, train, k: int = 1) -> tuple:
    """``(distances, indices)``, each (N, k): the k nearest rows of ``train`` to each row of
    ``x`` (Euclidean on the flattened vectors), nearest first. Non-finite rows get inf, -1."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(len(x), -1)
    t = torch.as_tensor(np.asarray(train, dtype=np.float64)).reshape(len(train), -1)
    k = min(int(k), len(t))
    dist = torch.full((len(x), k), float("inf"), dtype=torch.float64)
    idx = torch.full((len(x), k), -1, dtype=torch.int64)
    finite = torch.isfinite(x).all(1)
    rows = torch.nonzero(finite).flatten()
    for start in range(0, len(rows), CHUNK):  # chunks: bounded memory for any training set
        r = rows[start:start + CHUNK]
        d, i = torch.cdist(x[r], t).topk(k, dim=1, largest=False)
        dist[r], idx[r] = d, i
    return dist.numpy(), idx.numpy()


def nearest_training_neighbours(samples, train, k: int = 1, n_show: int = N_SHOW,
                                heldout=None) -> dict:
    """Each sample's ``k`` nearest training examples, and how that compares with real data.

    ``samples`` (N, ...), ``train`` (T, ...) and ``heldout`` (H, ...) are vectors or images
    of one shape, compared flattened (say which space in what you show). Returns:

    * ``distances``, ``indices``: (N, k) arrays, nearest first (inf and -1 for a sample
      that is not finite);
    * ``closest``: up to ``n_show`` ``(sample index, training index, distance)``, the
      samples nearest to a training example first: the ones to show beside their neighbour;
    * ``median_distance``: median over samples of the distance to the nearest example;
    * with ``heldout``: ``heldout_distances`` (H,) from each held-out example to its nearest
      training example (the scale: how near unseen real data comes), ``heldout_median_distance``,
      and ``closer_than_heldout``: the fraction of samples nearer to a training example than
      the ``COPY_QUANTILE`` quantile of held-out distances (real data scores about
      ``COPY_QUANTILE``; a memorising model far more).

    Small distances are not proof of copying on their own (simple data sets hold
    near-duplicates); large ones are no proof of quality (noise is far from everything).
    """
    dist, idx = nearest_distances(samples, train, k)
    nearest = dist[:, 0] if dist.size else np.zeros(0)
    order = np.argsort(nearest, kind="stable")[:n_show]
    out = {
        "distances": dist, "indices": idx,
        "closest": [(int(i), int(idx[i, 0]), float(nearest[i])) for i in order],
        "median_distance": float(np.median(nearest)) if len(nearest) else float("nan"),
    }
    if heldout is not None:
        ref = nearest_distances(heldout, train, 1)[0][:, 0]
        threshold = float(np.quantile(ref, COPY_QUANTILE))
        out.update(heldout_distances=ref, heldout_median_distance=float(np.median(ref)),
                   closer_than_heldout=float(np.mean(nearest <= threshold)) if len(nearest) else float("nan"))
    return out
