"""The end-of-training evaluation every family shares: bounded, visible, one value per metric.

Samples are drawn in chunks until enough are there or the trainer's
``summary_budget`` (seconds) is spent; every metric then says how many samples
it used, so a slow sampler gives a smaller, honest measurement instead of
minutes of silence.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

from .coverage import N_SAMPLES, mode_coverage


def time_sampling(trainer, n: int) -> tuple:
    """Draw ``n`` samples; return them and the wall time per sample (seconds)."""
    trainer.sample(min(n, 4))  # warm-up: first calls pay for allocation and kernel selection
    t0 = time.perf_counter()
    samples = trainer.sample(n)
    return np.asarray(samples), (time.perf_counter() - t0) / n


def sample_within(trainer, n: int, budget: float, chunk: int,
                  progress: Optional[Callable[[int], None]] = None) -> tuple:
    """Up to ``n`` samples in chunks, stopping once ``budget`` seconds are spent (one chunk at least).

    Returns ``(samples, seconds_per_sample)``; the first chunk is a warm-up and is not timed
    unless it is the only one.
    """
    parts, got, timed, timed_n = [], 0, 0.0, 0
    t_start = time.perf_counter()
    while got < n:
        t0 = time.perf_counter()
        parts.append(np.asarray(trainer.sample(min(chunk, n - got))))
        dt = time.perf_counter() - t0
        got += len(parts[-1])
        if len(parts) > 1:
            timed, timed_n = timed + dt, timed_n + len(parts[-1])
        if progress:
            progress(got)
        if time.perf_counter() - t_start > budget:
            break
    if timed_n == 0:
        timed, timed_n = dt, len(parts[-1])
    return np.concatenate(parts), timed / timed_n


def evaluate(trainer, dataset, wanted_images: int = 64,
             progress: Optional[Callable[[int, int], None]] = None) -> tuple:
    """Sample within ``trainer.summary_budget`` and measure; return ``(summary, samples)``.

    ``summary`` has one value per metric (``sample_seconds_per_sample``; on
    mixtures ``modes_covered``, ``high_quality``, ``modes``) and ``evaluation``:
    how many samples each metric used, the time taken and the budget.
    """
    points = dataset.kind == "points"
    n = N_SAMPLES if points else wanted_images
    budget = float(getattr(trainer, "summary_budget", 30.0))
    t0 = time.perf_counter()
    samples, per_sample = sample_within(trainer, n, budget, chunk=500 if points else 16,
                                        progress=(lambda done: progress(done, n)) if progress else None)
    used = {"sample_seconds_per_sample": len(samples)}
    out = {"sample_seconds_per_sample": per_sample}
    if points and dataset.mixture is not None:
        cov = mode_coverage(samples, dataset.mixture.centers, dataset.mixture.std)
        out.update(modes_covered=cov["modes_covered"], high_quality=cov["high_quality"], modes=cov["modes"])
        used.update(modes_covered=len(samples), high_quality=len(samples))
    out["evaluation"] = {"samples": len(samples), "wanted": n, "complete": len(samples) >= n,
                         "seconds": round(time.perf_counter() - t0, 3), "budget_seconds": budget,
                         "samples_per_metric": used}
    return out, samples
