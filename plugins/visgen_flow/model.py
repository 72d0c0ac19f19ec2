"""RealNVP as in the course notes: affine coupling layers (and optional Glow actnorm) between
data x and a latent z ~ N(0, I), with log p(x) exact by the change of variables.

Every layer maps towards the latent, ``forward(x) -> (y, log|det dy/dx|)``, and back exactly,
``inverse(y) -> x``. ``Flow`` chains them: f = f_K o ... o f_1, x -> z.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from visgen.nn import MLP

LOG_2PI = math.log(2 * math.pi)


def _sum_but_batch(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).sum(1)


class AffineCoupling(nn.Module):
    """One affine coupling layer. ``mask`` (1 = x_a, passed through; 0 = x_b, transformed)
    broadcasts against x; ``net(x_a)`` returns (raw scale, shift) shaped like x."""

    def __init__(self, mask: torch.Tensor, net: nn.Module, scale_max: float = 3.0):
        super().__init__()
        self.register_buffer("mask", mask.float())
        self.net, self.scale_max = net, float(scale_max)

    def scale_shift(self, x_a: torch.Tensor):
        raw, t = self.net(x_a).chunk(2, dim=1)
        s = self.scale_max * torch.tanh(raw / self.scale_max)  # soft clamp: |s| < scale_max, s ~ raw near 0
        b = 1 - self.mask
        return s * b, t * b  # only x_b is scaled and shifted

    def forward(self, x):
        x_a = x * self.mask
        s, t = self.scale_shift(x_a)
        # affine coupling: y_a = x_a, y_b = x_b * exp(s(x_a)) + t(x_a); log|det J| = sum s(x_a)
        y = x_a + (1 - self.mask) * (x * torch.exp(s) + t)
        return y, _sum_but_batch(s)

    def inverse(self, y):
        y_a = y * self.mask  # = x_a, so s and t are known from the output alone
        s, t = self.scale_shift(y_a)
        return y_a + (1 - self.mask) * ((y - t) * torch.exp(-s))


class ActNorm(nn.Module):
    """Glow's activation normalisation: y = (x - b) * exp(-log_s) per channel, b and log_s set
    on the first training batch so y starts with zero mean and unit variance."""

    def __init__(self, channels: int, image: bool = False):
        super().__init__()
        shape = (1, channels, 1, 1) if image else (1, channels)
        self.b = nn.Parameter(torch.zeros(shape))
        self.log_s = nn.Parameter(torch.zeros(shape))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _init(self, x):
        dims = [d for d in range(x.dim()) if d != 1]
        self.b.copy_(x.mean(dims, keepdim=True))
        self.log_s.copy_(x.std(dims, keepdim=True).clamp_min(1e-3).log())
        self.initialized.fill_(True)

    def forward(self, x):
        if self.training and not bool(self.initialized):
            self._init(x)
        y = (x - self.b) * torch.exp(-self.log_s)
        spatial = x[0, 0].numel()  # 1 for points, H*W for images
        return y, (-self.log_s.sum() * spatial).expand(len(x))

    def inverse(self, y):
        return y * torch.exp(self.log_s) + self.b


class Flow(nn.Module):
    """f = f_K o ... o f_1 : x -> z with base N(0, I); ``layers`` in the x -> z order."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        """(z, total log|det dz/dx|) for a batch x."""
        logdet = torch.zeros(len(x), device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z):
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def trajectory(self, x):
        """[x, f_1(x), f_2(f_1(x)), ..., z]: where x is after each layer on its way to z."""
        out = [x]
        for layer in self.layers:
            x, _ = layer(x)
            out.append(x)
        return out

    def inverse_trajectory(self, z):
        """[z, f_K^-1(z), ..., x]: a latent point on its way back to data space."""
        out = [z]
        for layer in reversed(self.layers):
            z = layer.inverse(z)
            out.append(z)
        return out

    @staticmethod
    def base_log_prob(z):
        """log N(z; 0, I) per example."""
        return -0.5 * _sum_but_batch(z.pow(2) + LOG_2PI)

    def log_prob(self, x):
        """log p(x) per example, with its two terms (log N(f(x)), log|det|)."""
        z, logdet = self(x)
        log_pz = self.base_log_prob(z)
        # change of variables: log p(x) = log N(f(x); 0, I) + log|det df/dx|
        return log_pz + logdet, log_pz, logdet


def alternating_masks(n: int, dim: int = 2):
    """Masks for 2D points: x_a = x1 in even layers, x2 in odd ones."""
    return [torch.tensor([1.0, 0.0] if i % 2 == 0 else [0.0, 1.0])[:dim] for i in range(n)]


def _zero_last(net: nn.Module) -> nn.Module:
    """Zero the output layer: every coupling starts as the identity (a stable start)."""
    last = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net


def points_flow(n_layers: int, hidden: int, actnorm: bool = False, scale_max: float = 3.0) -> Flow:
    """RealNVP on 2D points: coupling layers with alternating masks, each optionally after an actnorm."""
    layers = []
    for mask in alternating_masks(n_layers):
        if actnorm:
            layers.append(ActNorm(2))
        layers.append(AffineCoupling(mask, _zero_last(MLP(2, 4, hidden, act=nn.SiLU)), scale_max))
    return Flow(layers)


# -- images ----------------------------------------------------------------------------------
def checkerboard(h: int, w: int, parity: int) -> torch.Tensor:
    """(1, 1, H, W) checkerboard mask, 1 where (i + j) % 2 == parity."""
    i, j = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (((i + j) % 2) == parity).float()[None, None]


class ConvNet(nn.Module):
    """The coupling's s, t network on images: 3x3 convs, output 2C channels (scale, shift)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, hidden, 3, padding=1), nn.SiLU(),
            nn.Conv2d(hidden, hidden, 1), nn.SiLU(),
            nn.Conv2d(hidden, 2 * channels, 3, padding=1))

    def forward(self, x_a):
        ones = torch.ones_like(x_a[:, :1])  # tells the zero-padded border from a zero pixel
        return self.net(torch.cat([x_a, ones], 1))


def image_flow(shape: tuple, n_layers: int, hidden: int, actnorm: bool = False, scale_max: float = 3.0) -> Flow:
    """RealNVP on (C, H, W) images in logit space: checkerboard masks alternating parity."""
    c, h, w = shape
    layers = []
    for i in range(n_layers):
        if actnorm:
            layers.append(ActNorm(c, image=True))
        layers.append(AffineCoupling(checkerboard(h, w, i % 2), _zero_last(ConvNet(c, hidden)), scale_max))
    return Flow(layers)
