"""What the network is trained to predict, and how its output becomes predicted noise.

One schedule, three parametrisations of the same denoiser (``kind``):

- ``eps``: the noise eps that made x_t (Ho et al.);
- ``x0``: the clean data x_0;
- ``v``: v = sqrt(ab_t) eps - sqrt(1 - ab_t) x_0 (Salimans & Ho), well scaled at every t.

Samplers only need eps, so ``to_eps`` maps any prediction back to it using
x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps.
"""
from __future__ import annotations

import torch

from .schedules import Schedule

PREDICTIONS = ("eps", "x0", "v")


def _coefs(sched: Schedule, t: torch.Tensor, ndim: int):
    """sqrt(ab_t) and sqrt(1 - ab_t) shaped to broadcast over a batch of ``ndim`` dimensions."""
    return sched.at(sched.sqrt_ab, t, ndim), sched.at(sched.sqrt_1m_ab, t, ndim)


def target(sched: Schedule, kind: str, x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The regression target for x_t = q_sample(x0, t, eps): the loss is ||target - net(x_t, t)||^2."""
    if kind == "eps":
        return eps
    if kind == "x0":
        return x0
    if kind == "v":
        a, b = _coefs(sched, t, x0.dim())
        return a * eps - b * x0  # v = sqrt(ab) eps - sqrt(1 - ab) x_0
    raise ValueError(f"unknown prediction {kind!r}; expected one of {PREDICTIONS}")


def to_eps(sched: Schedule, kind: str, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The network's output ``out`` (a ``kind`` prediction at x_t, t) as predicted noise."""
    if kind == "eps":
        return out
    a, b = _coefs(sched, t, x_t.dim())
    if kind == "x0":
        return (x_t - a * out) / b  # eps = (x_t - sqrt(ab) x_0) / sqrt(1 - ab)
    if kind == "v":
        return b * x_t + a * out  # eps = sqrt(1 - ab) x_t + sqrt(ab) v
    raise ValueError(f"unknown prediction {kind!r}; expected one of {PREDICTIONS}")
