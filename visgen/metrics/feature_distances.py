"""Frechet distance and kernel distance (KID) between two sets of feature vectors.

The formulas are torchmetrics' ``FrechetInceptionDistance`` and
``KernelInceptionDistance``, fed features computed already (by visgen's digits
classifier, or raw points) through an identity "network", so the matrix square
root and the unbiased MMD are torchmetrics' tested code, not ours. Neither number
is comparable with a published FID or KID: those are on Inception-v3 features of
photographs, these on whatever features the caller passes.

What torchmetrics does with small sets (measured on the digits classifier's 128
features, torchmetrics 1.9.0), and what this module does about it:

* Frechet distance fits a Gaussian to each set, so it is biased upwards with few
  vectors: 179 held-out digits against 179 other real digits score 5-7, against
  1618 of them 4.4, and 64 against 64 score 27-32. It is only comparable between
  sets of the same sizes. The eigenvalue square root leaves about 1e-11 for a
  set against itself; a distance is clamped at 0.
* KID refuses a ``subset_size`` larger than either set (ValueError): clamped here
  to the smaller set. Its estimator is unbiased for two *independent* samples
  (179 held-out digits against the training digits: -0.19 +- 0.41); a set against
  itself is not that, and scores ``-2/m`` times the mean kernel gap between a
  vector with itself and with the others: about -1.7 for those 179 digits, where
  uniform noise scores +68 and digits under Gaussian noise of std 0.05 +4.6
  (torchmetrics' kernel ``(x.y/d + 1)^3`` on features of mean ``x.x/d`` about 5
  gives numbers in the tens, not the 0.01s of published KIDs).
* KID draws its subsets with torch's global generator: drawn here from ``seed``
  in a forked RNG, so a number is reproducible and the caller's random stream is
  untouched. Its constructor warns about memory on every call: silenced.

Qt-free; torchmetrics is imported on first use (it takes about a second).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

KID_SUBSETS = 100       # torchmetrics' (and the KID paper's) default number of subsets
KID_SUBSET_SIZE = 1000  # torchmetrics' default; clamped to the smaller set


class GivenFeatures(nn.Module):
    """The identity, posing as torchmetrics' feature network: the "images" it is fed are
    feature vectors already. ``num_features`` stops torchmetrics from probing it with a
    random image to learn the feature size."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _pair(a, b) -> tuple:
    """Both sets as float64 (N, d) tensors of the same d, or ValueError saying what is wrong;
    None when either holds a value that is not finite (a diverged model's samples)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a = a.reshape(len(a), -1) if a.ndim != 2 else a
    b = b.reshape(len(b), -1) if b.ndim != 2 else b
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets of different widths: {a.shape[1]} and {b.shape[1]}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"each set needs at least 2 vectors, got {len(a)} and {len(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    # float64 throughout: both metrics subtract large, nearly equal sums
    return torch.from_numpy(a), torch.from_numpy(b)


def frechet_distance(a, b) -> float:
    """Frechet distance between Gaussians fitted to two sets of (N, d) feature vectors:
    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (torchmetrics' FID formula).

    It is 0 for a set with itself, symmetric, and in squared feature units. It is *not* a
    published FID (those use Inception-v3 features of photographs), and it is biased
    upwards for small sets (the covariances are estimated from N vectors), so compare only
    numbers measured on sets of the same size. NaN when a vector is not finite.
    """
    pair = _pair(a, b)
    if pair is None:
        return float("nan")
    from torchmetrics.image.fid import FrechetInceptionDistance

    fid = FrechetInceptionDistance(feature=GivenFeatures(pair[0].shape[1]))
    fid.update(pair[0], real=True)
    fid.update(pair[1], real=False)
    # the eigenvalue square root leaves about -1e-12 for identical sets: a distance is >= 0
    return max(0.0, float(fid.compute()))


def kernel_distance(a, b, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
                    seed: int = 0) -> tuple:
    """``(mean, std)`` of the kernel distance (KID) between two sets of (N, d) feature vectors:
    the unbiased squared MMD with the cubic polynomial kernel ``(x.y / d + 1)^3``, averaged
    over ``subsets`` random subsets of ``subset_size`` vectors from each set (torchmetrics).

    Unbiased, so two independent samples of one distribution give about 0 whatever their
    size (either sign), unlike the Frechet distance; a set against itself is not independent
    and gives a small negative number (see the module docstring). ``std`` is the spread over subsets,
    not a confidence interval of the mean. ``subset_size`` is clamped to the smaller set (where
    torchmetrics raises); when both sets are that small every subset is the whole set and
    ``std`` is 0. Subsets are drawn from ``seed``. Not comparable with a published KID
    (Inception-v3 features). ``(nan, nan)`` when a vector is not finite.
    """
    pair = _pair(a, b)
    if pair is None:
        return float("nan"), float("nan")
    from torchmetrics.image.kid import KernelInceptionDistance

    size = int(min(subset_size, len(pair[0]), len(pair[1])))
    with warnings.catch_warnings():
        # "will save all extracted features in buffer": true, and they are already in memory
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        kid = KernelInceptionDistance(feature=GivenFeatures(pair[0].shape[1]),
                                      subsets=int(subsets), subset_size=size)
    kid.update(pair[0], real=True)
    kid.update(pair[1], real=False)
    with torch.random.fork_rng(devices=[]):  # torchmetrics draws subsets from the global RNG
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std)
