"""DDPM's variational bound on -log p(x_0) (Ho et al. 2020, eq. 5), per example in nats:

    L = L_T + sum_{t=2..T} L_{t-1} + L_0  >=  -log p_theta(x_0)

in the diffused space (the trainer adds the log-Jacobian of its map from data units). The
reverse model p_theta(x_{t-1} | x_t) is the one the DDPM sampler draws from: its mean from
the predicted noise (eq. 11), its variance sigma_t^2 = beta_tilde_t. Index 0..T-1 stands for
t = 1..T, as in ``schedules``. Sums run in float64: 1 - alpha_bar_t is ~1e-4 near t = 1.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from .schedules import Schedule


def gaussian_kl(mean1, var1, mean2, var2) -> torch.Tensor:
    """KL(N(mean1, var1) || N(mean2, var2)) in nats, elementwise (diagonal Gaussians)."""
    return 0.5 * (torch.log(var2 / var1) + (var1 + (mean1 - mean2) ** 2) / var2 - 1)


def _per_example(v: torch.Tensor) -> torch.Tensor:
    return v.flatten(1).sum(1)


def prior_term(sched: Schedule, x0: torch.Tensor) -> torch.Tensor:
    """L_T per example: what the forward process leaves of x_0 at t = T (about 0; no network)."""
    ab = sched.f64.alpha_bar[-1]
    # L_T = KL(q(x_T | x_0) || N(0, I))
    return _per_example(gaussian_kl(ab.sqrt() * x0, 1 - ab, x0.new_zeros(()), x0.new_ones(())))


def _noised_and_mean(eps_model, sched: Schedule, x0, t, generator):
    """x_t ~ q(x_t | x_0) at the timesteps ``t`` (one per example) and the sampler's mean mu_theta(x_t, t)."""
    at = lambda v: sched.at(v, t, x0.dim())  # noqa: E731
    ab, beta = at(sched.f64.alpha_bar), at(sched.f64.betas)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    # mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - ab_t) eps_theta(x_t, t)) / sqrt(alpha_t)   (eq. 11)
    return x_t, (x_t - beta / (1 - ab).sqrt() * eps_model(x_t, t)) / (1 - beta).sqrt()


def kl_term(eps_model: Callable, sched: Schedule, x0: torch.Tensor, t: torch.Tensor,
            generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """L_{t-1} per example at indices ``t`` >= 1 (t = 2..T), on one draw of x_t ~ q(x_t | x_0).
    Both Gaussians have variance beta_tilde_t, so only their means differ."""
    at = lambda v: sched.at(v, t, x0.dim())  # noqa: E731
    s = sched.f64
    ab, ab_prev, beta, var = at(s.alpha_bar), at(s.alpha_bar_prev), at(s.betas), at(s.posterior_var)
    x_t, mean_p = _noised_and_mean(eps_model, sched, x0, t, generator)
    # mu_tilde(x_t, x_0) = sqrt(ab_{t-1}) beta_t / (1 - ab_t) x_0 + sqrt(alpha_t) (1 - ab_{t-1}) / (1 - ab_t) x_t   (eq. 7)
    mean_q = (ab_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - ab_prev) * x_t) / (1 - ab)
    # L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t))
    return _per_example(gaussian_kl(mean_q, var, mean_p, var))


def decoder_term(eps_model: Callable, sched: Schedule, x0: torch.Tensor,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """L_0 per example: a continuous Gaussian decoder N(x_0; mu_theta(x_1, 1), sigma_1^2) on
    dequantised data, where Ho et al. discretise it over the 8-bit bins. The sampler's last step
    adds no noise (beta_tilde_1 = 0, no density), so sigma_1^2 is the next one, beta_tilde_2, as in
    Ho et al.'s code (its clipped log-variance)."""
    _, mean = _noised_and_mean(eps_model, sched, x0, x0.new_zeros(len(x0), dtype=torch.long), generator)
    var = sched.f64.posterior_var[1]
    # L_0 = -log p_theta(x_0 | x_1)
    return _per_example(0.5 * (torch.log(2 * math.pi * var) + (x0 - mean) ** 2 / var))


def strata(T: int, k: Optional[int]) -> torch.Tensor:
    """Edges of at most k strata of the indices 1..T-1 (t = 2..T), equal on a log scale: the
    terms change fastest at small t, so those get strata of their own (summed exactly) and
    the slowly changing large t share wide ones. k None (or >= T - 1): one index each, so the
    estimate below is the full sum."""
    if k is None or k >= T - 1:
        return torch.arange(1, T + 1)
    return torch.unique(torch.logspace(0, math.log10(T), k + 1, dtype=torch.float64).round().long())

@torch.no_grad()
def variational_bound(eps_model: Callable, sched: Schedule, x0: torch.Tensor, k: Optional[int] = None,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """L per example in nats (float64), an upper bound on -log p_theta(x_0); ``eps_model(x_t, t)``
    gives the predicted noise (float64 in and out). L_T and L_0 are exact; the middle sum is exact
    when ``k`` is None (T - 1 network calls per batch), else an unbiased stratified estimate: one t
    drawn uniformly in each of at most k strata of 2..T (``strata``), its L_{t-1} weighted by the
    stratum's size.
    ``generator`` draws x_t (and t): a seeded one makes the number repeatable."""
    x0 = x0.double()
    total = prior_term(sched, x0) + decoder_term(eps_model, sched, x0, generator)
    edges = strata(sched.T, k)
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist()):
        u = torch.rand(len(x0), generator=generator, dtype=torch.float64, device=x0.device)
        t = lo + (u * (hi - lo)).long()
        total += (hi - lo) * kl_term(eps_model, sched, x0, t, generator)
    return total
