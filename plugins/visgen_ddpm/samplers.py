"""Reverse-process samplers on one trained network: DDPM ancestral and DDIM.

``model(x_t, t)`` returns the predicted noise eps (the trainer converts x0 or v
predictions and applies classifier-free guidance before handing it here).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from .schedules import Schedule


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """``steps`` timesteps from T-1 down to 0, evenly spaced, each once.

    Both ends are pinned: sampling must start from the last training step (pure
    noise) and finish at t = 0, or the samples keep noise or skip the first steps.
    """
    steps = max(1, min(steps, T))
    ts = torch.linspace(T - 1, 0, steps).round().long().tolist()
    return list(dict.fromkeys(ts))  # dedupe, keep order


def ddpm_timesteps(T: int) -> list[int]:
    """Every timestep from T-1 down to 0: DDPM walks the whole chain back."""
    return list(range(T - 1, -1, -1))


@torch.no_grad()
def sample(model: Callable, sched: Schedule, shape: tuple, sampler: str = "ddpm", steps: int = 50,
           eta: float = 0.0, x_T: Optional[torch.Tensor] = None, record: int = 0,
           generator: Optional[torch.Generator] = None, device=torch.device("cpu")):
    """Run the reverse process from x_T ~ N(0, I): ``ddpm`` takes all T ancestral steps
    (``steps`` and ``eta`` unused), ``ddim`` takes ``steps`` steps with noise ``eta``.

    Returns ``(x_0, frames)`` where frames is a list of ``(t, x_t)`` at up to
    ``record`` evenly spaced points of the trajectory (the start and the end included).
    """
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"unknown sampler {sampler!r}")
    ts = ddpm_timesteps(sched.T) if sampler == "ddpm" else ddim_timesteps(sched.T, steps)
    x = torch.randn(shape, generator=generator, device=device) if x_T is None else x_T.clone()
    keep = set(torch.linspace(0, len(ts), max(record, 2)).round().long().tolist()) if record else set()
    frames = [(sched.T, x.clone())] if record else []
    for i, t in enumerate(ts):
        s = ts[i + 1] if i + 1 < len(ts) else -1
        if sampler == "ddpm":
            x = ddpm_step(model, sched, x, t, generator)
        else:
            x = ddim_step(model, sched, x, t, s, eta, generator)
        if (i + 1) in keep:  # x_T is labelled T, so the state after the step to s is s + 1
            frames.append((s + 1, x.clone()))
    return x, frames


def _eps(model, x: torch.Tensor, t: int) -> torch.Tensor:
    """The model's predicted noise at one timestep t for the whole batch."""
    return model(x, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))


def _noise(x: torch.Tensor, generator) -> torch.Tensor:
    """z ~ N(0, I) shaped like x; both samplers draw it the same way, so one seed gives both the same z."""
    return torch.randn(x.shape, generator=generator, device=x.device)


def ddpm_step(model, sched: Schedule, x: torch.Tensor, t: int, generator=None) -> torch.Tensor:
    """One ancestral step from x_t to x_{t-1}, as the Theory panel writes it:

    x_{t-1} = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - ab_t) eps_theta(x_t, t)) + sigma_t z,
    sigma_t^2 = beta_tilde_t = (1 - ab_{t-1}) / (1 - ab_t) beta_t, and z = 0 at the last step (t = 0).
    """
    eps = _eps(model, x, t)
    # DDPM ancestral step (Ho et al. eq. 11): posterior mean + sigma_t z
    mean = (x - sched.betas[t] / sched.sqrt_1m_ab[t] * eps) / sched.alphas[t].sqrt()
    if t == 0:  # the last step returns the mean: beta_tilde_0 = 0
        return mean
    return mean + sched.posterior_var[t].sqrt() * _noise(x, generator)


def ddim_step(model, sched: Schedule, x: torch.Tensor, t: int, s: int, eta: float, generator=None) -> torch.Tensor:
    """One step from timestep t to s < t (s = -1: to clean data), DDIM's update:

    x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps_hat + sigma z,
    sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s).
    With s = t - 1 and eta = 1, sigma^2 is DDPM's posterior variance beta_tilde_t and the
    update is ``ddpm_step`` rewritten: the same mean and the same noise.
    """
    eps = _eps(model, x, t)
    ab_t = sched.alpha_bar[t]
    ab_s = sched.alpha_bar[s] if s >= 0 else torch.ones((), device=x.device)
    # DDIM (Song et al. eq. 12): predict x_0, then step to ab_s along eps with fresh noise sigma z
    x0 = (x - sched.sqrt_1m_ab[t] * eps) / sched.sqrt_ab[t]
    sigma = eta * ((1 - ab_s) / (1 - ab_t)).sqrt() * (1 - ab_t / ab_s).sqrt()
    out = ab_s.sqrt() * x0 + (1 - ab_s - sigma ** 2).clamp(min=0).sqrt() * eps
    if eta > 0 and s >= 0:
        out = out + sigma * _noise(x, generator)
    return out
