"""Metrics the runtime measures while any model trains, one way for every family.

* mode coverage on Gaussian-mixture data (``visgen.core.coverage``), for every
  trainer that can sample;
* likelihood in bits per dimension on a fixed part of the training data and of
  the held-out data (``visgen.core.likelihood``), for every trainer that has one:
  the gap between the two is overfitting, seen as it opens.

Each is measured every ``EVERY`` steps, or less often when one measurement is
dear: never more than ``BUDGET`` of the time since the last one. The values go
into the run's scalar stream marked sparse, so views draw them as points, and
``metrics.csv`` has them on the steps they were measured at.
"""
from __future__ import annotations

import time

import numpy as np

from .coverage import N_SAMPLES, mode_coverage
from .likelihood import bits_per_dim, mean_nll, no_likelihood

EVERY = 250        # steps between measurements when they are cheap
BUDGET = 0.05      # at most this fraction of wall time goes to measuring
NAMES = ("modes_covered", "high_quality")
LIKELIHOOD_NAMES = ("train_bits_per_dim", "heldout_bits_per_dim")
LIKELIHOOD_EXAMPLES = 256  # of each part: a mean to a few per cent, cheap for every model


class _Paced:
    """Every ``EVERY`` steps at most, and never more than ``BUDGET`` of the wall time."""

    def __init__(self):
        self.enabled = True
        self.why_not = ""
        self.last_step = 0
        self.last_time = time.perf_counter()
        self.cost = 0.0

    def due(self, step: int) -> bool:
        if not self.enabled or step - self.last_step < EVERY:
            return False
        return time.perf_counter() - self.last_time >= self.cost / BUDGET

    def measured(self, step: int, t0: float) -> None:
        now = time.perf_counter()
        self.cost, self.last_step, self.last_time = now - t0, step, now


class LiveCoverage(_Paced):
    """Decides when coverage is due and measures it with ``trainer.sample_for_metrics``."""

    def __init__(self, dataset):
        super().__init__()
        self.mixture = dataset.mixture if dataset is not None and dataset.kind == "points" else None
        self.enabled = self.mixture is not None

    def measure(self, trainer, step: int) -> dict:
        """Coverage of ``N_SAMPLES`` samples, or {} (and never again) if the trainer cannot sample."""
        t0 = time.perf_counter()
        try:
            samples = trainer.sample_for_metrics(N_SAMPLES)
        except NotImplementedError:
            self.enabled = False
            self.why_not = f"{type(trainer).__name__} cannot sample (no sample() method): no mode coverage"
            return {}
        cov = mode_coverage(samples, self.mixture.centers, self.mixture.std)
        self.measured(step, t0)
        return {"modes_covered": cov["modes_covered"], "high_quality": cov["high_quality"]}


class LiveLikelihood(_Paced):
    """Bits per dimension of the same ``LIKELIHOOD_EXAMPLES`` training and held-out examples,
    each time, with the trainer's ``log_likelihood`` (exact or a bound, as it says)."""

    def __init__(self, trainer, dataset, heldout, seed: int = 0):
        super().__init__()
        self.why_not = no_likelihood(trainer) or ("" if heldout is not None else
                                                  "the data set is too small to keep any aside")
        self.enabled = not self.why_not
        self.dataset = dataset
        if self.enabled:
            pick = np.random.default_rng(seed).permutation(len(dataset))[:LIKELIHOOD_EXAMPLES]
            self.parts = {"train_bits_per_dim": dataset.x[np.sort(pick)],
                          "heldout_bits_per_dim": heldout.x[:LIKELIHOOD_EXAMPLES]}

    def measure(self, trainer, step: int) -> dict:
        """``{"train_bits_per_dim", "heldout_bits_per_dim"}``, or {} (and never again) if this
        setting of the model turns out to have no likelihood."""
        t0 = time.perf_counter()
        try:
            out = {name: bits_per_dim(mean_nll(trainer, x, preview=True)[0], self.dataset) for name, x in self.parts.items()}
        except NotImplementedError as exc:
            self.enabled, self.why_not = False, str(exc) or "this model has no likelihood"
            return {}
        self.measured(step, t0)
        return out
