"""Every GAN objective, written once; MLP and conv models share them.

``s`` are raw discriminator / critic outputs (logits for the BCE game).
Each function returns a scalar to *minimise*.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

KINDS = ("bce", "wasserstein", "least-squares")


def d_loss(kind: str, s_real: torch.Tensor, s_fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's (critic's) loss on a real and a fake batch."""
    if kind == "bce":  # max_D E[log D(x)] + E[log(1 - D(G(z)))], D = sigmoid(s)
        return F.softplus(-s_real).mean() + F.softplus(s_fake).mean()
    if kind == "wasserstein":  # max_f E[f(x)] - E[f(G(z))]
        return s_fake.mean() - s_real.mean()
    if kind == "least-squares":  # LSGAN: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]
        return 0.5 * (s_real - 1).pow(2).mean() + 0.5 * s_fake.pow(2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def g_loss(kind: str, s_fake: torch.Tensor, saturating: bool = False) -> torch.Tensor:
    """The generator's loss on a fake batch."""
    if kind == "bce":
        if saturating:  # min_G E[log(1 - D(G(z)))]: gradients vanish when D wins early
            return -F.softplus(s_fake).mean()
        return F.softplus(-s_fake).mean()  # non-saturating: min_G -E[log D(G(z))]
    if kind == "wasserstein":  # min_G -E[f(G(z))]
        return -s_fake.mean()
    if kind == "least-squares":  # 1/2 E[(D(G(z)) - 1)^2]
        return 0.5 * (s_fake - 1).pow(2).mean()
    raise ValueError(f"unknown GAN loss {kind!r}")


def score(kind: str, s: torch.Tensor) -> torch.Tensor:
    """What the histograms show: D(x) = sigmoid(s) for BCE, the raw output otherwise."""
    return torch.sigmoid(s) if kind == "bce" else s


def interpolates(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample; requires grad."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    return (eps * real + (1 - eps) * fake).requires_grad_(True)


def penalty(s_hat: torch.Tensor, x_hat: torch.Tensor) -> tuple:
    """WGAN-GP: E[(||grad_x f(x_hat)||_2 - 1)^2], given f(x_hat). Returns (penalty, mean norm)."""
    (grad,) = torch.autograd.grad(s_hat.sum(), x_hat, create_graph=True)
    norm = grad.flatten(1).norm(dim=1)
    return (norm - 1).pow(2).mean(), norm.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, *cond) -> tuple:
    """The gradient penalty of ``critic`` on interpolates of a real and a fake batch."""
    x_hat = interpolates(real, fake)
    return penalty(critic(x_hat, *cond), x_hat)
