"""Held-out likelihood, measured one way for every family that has one.

A run trains on most of its data and keeps ``HELDOUT_FRACTION`` of it (at most
``MAX_HELDOUT`` examples, chosen by the run's seed) aside, so a likelihood says
how well the model generalises, not how well it remembers. ``heldout_nll``
averages the trainer's ``log_likelihood`` over that part and reports it per data
point in nats and in bits per dimension:

* images (values in [0, 1] from 8-bit pixels): the usual convention of the
  literature, the code length of the 8-bit image, ``(nll / D + ln 256) / ln 2``;
* points: the continuous density's ``nll / (D ln 2)`` (it can be negative).

Each number says whether it is exact (flows, autoregressive models) or a bound
(the VAE's ELBO, DDPM's variational bound); GANs say they have none.
"""
from __future__ import annotations

import contextlib
import math
import time
from typing import Callable, Optional

import numpy as np

from .dataset import Dataset

HELDOUT_FRACTION = 0.1  # of the data kept aside for held-out likelihood
MAX_HELDOUT = 1000      # enough for a mean to 1-2 %, cheap to evaluate on a laptop
MIN_TRAIN = 2           # never hold out so much that nothing is left to train on
FIRST_CHUNK = 16        # examples timed first, to size the chunks after it to the time budget


def split_heldout(dataset: Dataset, seed: int) -> tuple:
    """``(train, heldout)``: a seeded choice of ``HELDOUT_FRACTION`` of the examples (at most
    ``MAX_HELDOUT``) kept aside; ``heldout`` is None for data sets too small to spare any."""
    n_out = min(MAX_HELDOUT, int(len(dataset) * HELDOUT_FRACTION))
    if n_out < 1 or len(dataset) - n_out < MIN_TRAIN:
        return dataset, None
    order = np.random.default_rng(seed).permutation(len(dataset))
    return dataset.subset(np.sort(order[n_out:])), dataset.subset(np.sort(order[:n_out]))


def bits_per_dim(nll_nats: float, dataset: Dataset) -> float:
    """Bits per dimension of a per-example NLL in nats (see the module docstring)."""
    d = dataset.dim
    if dataset.kind == "images":
        return (nll_nats / d + math.log(256)) / math.log(2)
    return nll_nats / (d * math.log(2))


def gaussian_nll(train: Dataset, heldout: Dataset) -> float:
    """Held-out NLL (nats per point) of one Gaussian fitted to the training points: the
    baseline a density model of 2D data has to beat."""
    x = train.x.astype(np.float64)
    mean, cov = x.mean(0), np.cov(x, rowvar=False) + 1e-9 * np.eye(x.shape[1])
    d = heldout.x.astype(np.float64) - mean
    _, logdet = np.linalg.slogdet(cov)
    maha = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    return float(np.mean(0.5 * (maha + logdet + x.shape[1] * math.log(2 * math.pi))))


def mean_nll(trainer, x: np.ndarray, budget: float = 30.0, chunk: int = 256, preview: bool = False,
             progress: Optional[Callable[[int, int], None]] = None) -> tuple:
    """``(nll, n, terms)``: the mean of ``-trainer.log_likelihood`` over the examples ``x``, how
    many it took, and the means of the trainer's ``likelihood_terms``.

    Examples go in chunks of ``FIRST_CHUNK``, then twice as many each time up to ``chunk``, and
    stop once ``budget`` seconds are spent (at least one chunk done): a dear model (DDPM's
    1,000 terms on 28x28 images) overruns the budget by at most about its own length, not by a
    whole large chunk. The sizes do not depend on timing, so a model that draws noise per call
    (a seeded generator) gives the same number every time. ``progress(done, total)`` hears of
    each chunk. ``preview`` (the live curve while training) lets a model with a dear likelihood
    give an unbiased estimate of it instead (``Trainer.previewing``), and skips
    ``likelihood_terms``. Raises NotImplementedError for a setting without a likelihood."""
    import torch

    total, n, t0, terms = 0.0, 0, time.perf_counter(), {}
    # the live curve (preview) shows one number: the other figures would be computed for nothing
    terms_of = (lambda x: {}) if preview else getattr(trainer, "likelihood_terms", lambda x: {})
    was, trainer.previewing = getattr(trainer, "previewing", False), preview
    size = min(chunk, FIRST_CHUNK)
    with trainer.evaluation(), torch.no_grad(), _restoring(trainer, "previewing", was):
        while n < len(x):
            xb = torch.as_tensor(x[n:n + size], device=trainer.device)
            total += float(trainer.log_likelihood(xb).double().sum())
            for name, v in terms_of(xb).items():
                terms[name] = terms.get(name, 0.0) + float(v.double().sum())
            n += len(xb)
            if progress:
                progress(n, len(x))
            spent = time.perf_counter() - t0
            if spent > budget:
                break
            size = min(chunk, 2 * size)
    return -total / n, n, {name: v / n for name, v in terms.items()}


@contextlib.contextmanager
def _restoring(obj, name: str, value):
    try:
        yield
    finally:
        setattr(obj, name, value)


def no_likelihood(trainer) -> Optional[str]:
    """Why ``trainer`` reports no likelihood, or None when it has one."""
    if getattr(trainer, "likelihood", None) is None:
        return getattr(trainer, "no_likelihood_why", "this model has no likelihood")
    return None


def heldout_nll(trainer, heldout: Optional[Dataset], budget: float = 30.0, chunk: int = 256,
                train: Optional[Dataset] = None, progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """``{"likelihood": kind, "nll_nats", "bits_per_dim", "heldout_examples"}`` over the held-out
    data (within ``budget`` seconds, at least one chunk), or ``{"likelihood": None, "why"}`` for
    a model without one. With the ``train`` points, also ``gaussian_nll_nats`` (``gaussian_nll``);
    and the means of the trainer's ``likelihood_terms`` (the VAE's two bounds)."""
    why = no_likelihood(trainer) or ("no held-out data" if heldout is None else None)
    if why:
        return {"likelihood": getattr(trainer, "likelihood", None), "why": why}
    try:
        nll, n, terms = mean_nll(trainer, heldout.x, budget, chunk, progress=progress)
    except NotImplementedError as exc:  # a setting of the model without one
        return {"likelihood": None, "why": str(exc) or "this model has no likelihood"}
    out = {"likelihood": trainer.likelihood, "nll_nats": nll, "bits_per_dim": bits_per_dim(nll, heldout),
           "heldout_examples": n, **terms}
    if train is not None and heldout.kind == "points":
        out["gaussian_nll_nats"] = gaussian_nll(train, heldout.subset(slice(0, n)))
    return out
