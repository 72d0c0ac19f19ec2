"""Noise schedules and the closed-form forward process q(x_t | x_0)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch


def betas_for(kind: str, T: int) -> torch.Tensor:
    """beta_1..beta_T (indexed 0..T-1) for the ``linear`` or ``cosine`` schedule, float64."""
    if kind == "linear":  # Ho et al.: beta from 1e-4 to 0.02 (scaled so other T keep the same shape)
        scale = 1000 / T
        return torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64).clamp(max=0.999)
    if kind == "cosine":  # Nichol & Dhariwal: alpha_bar(t) = cos^2(((t/T + s) / (1 + s)) pi/2)
        s = 0.008
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown schedule {kind!r}")


class Schedule:
    """Precomputed schedule quantities on a device (float32 copies for the nets)."""

    def __init__(self, kind: str, T: int, device=torch.device("cpu")):
        self.kind, self.T = kind, T
        betas = betas_for(kind, T)
        alphas = 1 - betas
        alpha_bar = torch.cumprod(alphas, 0)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        # Posterior q(x_{t-1} | x_t, x_0) variance: beta_tilde_t = (1 - ab_{t-1}) / (1 - ab_t) * beta_t
        posterior_var = (1 - alpha_bar_prev) / (1 - alpha_bar) * betas
        # The float64 originals too: the variational bound (``bound``) divides by 1 - ab_t near t = 1.
        exact = dict(betas=betas, alpha_bar=alpha_bar, alpha_bar_prev=alpha_bar_prev, posterior_var=posterior_var)
        self.f64 = SimpleNamespace(**{k: v.to(device) for k, v in exact.items()})
        f = lambda x: x.to(device=device, dtype=torch.float32)  # noqa: E731
        self.betas, self.alphas, self.alpha_bar, self.alpha_bar_prev = map(f, (betas, alphas, alpha_bar, alpha_bar_prev))
        self.posterior_var = f(posterior_var)
        # Square roots taken in float64: 1 - alpha_bar ~ 1e-4 near t = 0 loses digits in float32.
        self.sqrt_ab, self.sqrt_1m_ab = f(alpha_bar.sqrt()), f((1 - alpha_bar).sqrt())
        self.snr = f(alpha_bar / (1 - alpha_bar))

    def at(self, values: torch.Tensor, t: torch.Tensor, ndim: int) -> torch.Tensor:
        """values[t] shaped to broadcast over a batch of ``ndim`` dimensions."""
        return values[t].view(-1, *([1] * (ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps  (the forward process in closed form)."""
        return self.at(self.sqrt_ab, t, x0.dim()) * x0 + self.at(self.sqrt_1m_ab, t, x0.dim()) * eps
