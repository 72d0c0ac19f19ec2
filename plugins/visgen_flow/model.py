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


class Squeeze(nn.Module):
    """(C, H, W) -> (4C, H/2, W/2): each 2x2 block of pixels becomes 4 channels, so channel
    masks can then split neighbouring pixels. A permutation: log|det| = 0."""

    def forward(self, x):
        b, c, h, w = x.shape
        y = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)
        return y, x.new_zeros(b)

    def inverse(self, y):
        b, c4, h, w = y.shape
        return y.view(b, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)


class Unsqueeze(Squeeze):
    """The inverse of ``Squeeze`` as a layer: the latent goes back to the image's shape."""

    def forward(self, x):
        return super().inverse(x), x.new_zeros(len(x))

    def inverse(self, y):
        return super().forward(y)[0]


class InvConv1x1(nn.Module):
    """Glow's invertible 1x1 convolution: y = W x at every pixel, a learned mixing of channels
    where RealNVP fixed which half a channel mask keeps; log|det| = H W log|det W|."""

    def __init__(self, channels: int):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))  # a rotation: starts volume-preserving
        self.weight = nn.Parameter(q)

    def forward(self, x):
        y = torch.einsum("ij,bjhw->bihw", self.weight, x)
        return y, (x.shape[2] * x.shape[3] * torch.linalg.slogdet(self.weight)[1]).expand(len(x))

    def inverse(self, y):
        return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(self.weight), y)


class FactorOut(nn.Module):
    """Multi-scale: the first ``keep`` channels go on through ``flow``; the rest are already
    latent (they leave for z at this scale). Triangular, so log|det| is the inner flow's."""

    def __init__(self, keep: int, flow: "Flow"):
        super().__init__()
        self.keep, self.flow = keep, flow

    def forward(self, x):
        y, ld = self.flow(x[:, :self.keep])
        return torch.cat([y, x[:, self.keep:]], 1), ld

    def inverse(self, y):
        return torch.cat([self.flow.inverse(y[:, :self.keep]), y[:, self.keep:]], 1)


def channel_mask(c: int, parity: int) -> torch.Tensor:
    """(1, C, 1, 1) mask keeping the first half of the channels (parity 0) or the second."""
    m = (torch.arange(c) < c // 2).float()
    return (m if parity == 0 else 1 - m).view(1, c, 1, 1)


def image_flow(shape: tuple, n_layers: int, hidden: int, actnorm: bool = False, scale_max: float = 3.0,
               conv1x1: bool = False, scales: int = 2) -> Flow:
    """RealNVP's multi-scale architecture on (C, H, W) images in logit space. At each of up to
    ``scales`` scales (while H and W are even and at least 4): ``n_layers`` checkerboard couplings, a squeeze,
    ``n_layers`` channel couplings (each after a Glow 1x1 convolution if ``conv1x1``), then half
    the channels factored out; the last scale ends with ``n_layers`` checkerboard couplings.
    The latent is unsqueezed back to the image's shape."""
    c, h, w = shape

    def coupling(mask, ch):
        pre = [ActNorm(ch, image=True)] if actnorm else []
        return [*pre, AffineCoupling(mask, _zero_last(ConvNet(ch, hidden)), scale_max)]

    def stage(c, h, w, scales_left):
        layers = [m for i in range(n_layers) for m in coupling(checkerboard(h, w, i % 2), c)]
        if scales_left == 0 or h % 2 or w % 2 or min(h, w) < 4:  # a checkerboard needs 2x2 at least
            return layers
        c, h, w = 4 * c, h // 2, w // 2
        layers.append(Squeeze())
        for i in range(n_layers):
            if conv1x1:
                layers.append(InvConv1x1(c))
            layers += coupling(channel_mask(c, i % 2), c)
        layers.append(FactorOut(c // 2, Flow(stage(c // 2, h, w, scales_left - 1))))
        layers.append(Unsqueeze())
        return layers

    return Flow(stage(c, h, w, scales))
