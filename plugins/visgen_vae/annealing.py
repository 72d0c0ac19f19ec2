"""KL annealing: the KL term's weight warmed up from 0, a cure for posterior collapse.

Early in training the KL term is the easiest to lower: a decoder strong enough to model x
alone lets the encoder match the prior, and z then carries nothing (posterior collapse).
Warming the KL weight up from 0 lets the latent code become useful first (Bowman et al.
2016); repeating the warm-up in cycles gives it several chances (Fu et al. 2019).
"""
from __future__ import annotations

SCHEDULES = ("none", "linear", "cyclical")


def kl_weight(step: int, schedule: str, warmup: int) -> float:
    """w(t) on [0, 1], the factor on beta * KL at step ``step`` (0 first)."""
    if schedule == "none" or warmup <= 0:
        return 1.0
    if schedule == "linear":  # w = min(1, t / W): once, then the plain ELBO
        return min(1.0, step / warmup)
    if schedule == "cyclical":  # cycles of 2W steps: ramp over the first W, then 1 for W
        return min(1.0, (step % (2 * warmup)) / warmup)
    raise ValueError(f"unknown KL schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
