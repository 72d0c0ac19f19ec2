"""Measurements every family shares: sampling time, and metrics on samples."""
from __future__ import annotations

import time

import numpy as np


def time_sampling(trainer, n: int) -> tuple:
    """Draw ``n`` samples; return them and the wall time per sample (seconds)."""
    trainer.sample(min(n, 4))  # warm-up: first calls pay for allocation and kernel selection
    t0 = time.perf_counter()
    samples = trainer.sample(n)
    return np.asarray(samples), (time.perf_counter() - t0) / n


def evaluate_samples(trainer, dataset) -> dict:
    """Metrics of the model's samples against the data, for ``summary.json``.

    Mixtures (ring8, grid25): modes covered and high-quality fraction.
    """
    from .coverage import N_SAMPLES, mode_coverage

    out = {}
    if dataset.mixture is not None:
        cov = mode_coverage(trainer.sample(N_SAMPLES), dataset.mixture.centers, dataset.mixture.std)
        out.update(modes_covered=cov["modes_covered"], high_quality=cov["high_quality"], modes=cov["modes"])
    return out
