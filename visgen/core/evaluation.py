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
    """Metrics of the model's samples against the data; empty where none applies yet."""
    return {}
