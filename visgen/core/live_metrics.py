"""Metrics the runtime measures while any model trains, one way for every family.

Today: mode coverage on Gaussian-mixture data (``visgen.core.coverage``), for
every trainer that can sample. It is measured every ``EVERY`` steps, or less
often when one measurement is dear: never more than ``BUDGET`` of the time
since the last one. The values go into the run's scalar stream marked sparse,
so views draw them as points, and ``metrics.csv`` has them on the steps they
were measured at.
"""
from __future__ import annotations

import time

from .coverage import N_SAMPLES, mode_coverage

EVERY = 250        # steps between measurements when they are cheap
BUDGET = 0.05      # at most this fraction of wall time goes to measuring
NAMES = ("modes_covered", "high_quality")


class LiveCoverage:
    """Decides when coverage is due and measures it with ``trainer.sample_for_metrics``."""

    def __init__(self, dataset):
        self.mixture = dataset.mixture if dataset is not None and dataset.kind == "points" else None
        self.enabled = self.mixture is not None
        self.why_not = ""
        self.last_step = 0
        self.last_time = time.perf_counter()
        self.cost = 0.0

    def due(self, step: int) -> bool:
        if not self.enabled or step - self.last_step < EVERY:
            return False
        return time.perf_counter() - self.last_time >= self.cost / BUDGET

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
        now = time.perf_counter()
        self.cost, self.last_step, self.last_time = now - t0, step, now
        return {"modes_covered": cov["modes_covered"], "high_quality": cov["high_quality"]}
