"""Noise-prediction networks: an MLP for points and flat data, a small U-Net for images.

Both take (x_t, t, label) where label = n_classes means "no label" (the null
token classifier-free guidance trains with).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from visgen.nn import MLP, TimeEmbedding


class MLPDenoiser(nn.Module):
    """[x_t, emb(t), emb(y)] -> eps, with SiLU hidden layers."""

    def __init__(self, data_shape: tuple, hidden: int = 256, depth: int = 3, n_classes: int = 0, emb: int = 64):
        super().__init__()
        self.data_shape = tuple(data_shape)
        dim = math.prod(data_shape)
        self.t_emb = TimeEmbedding(emb)
        self.y_emb = nn.Embedding(n_classes + 1, emb) if n_classes else None
        self.net = MLP(dim + emb * (2 if n_classes else 1), dim, hidden, depth, act=nn.SiLU)

    def forward(self, x, t, y=None):
        h = [x.flatten(1), self.t_emb(t)]
        if self.y_emb is not None:
            h.append(self.y_emb(y))
        return self.net(torch.cat(h, 1)).view(-1, *self.data_shape)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time (and label) embedding added in between.

    Groups: the largest divisor of the channel count up to 8, so any width builds."""

    def __init__(self, cin: int, cout: int, emb: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(math.gcd(8, cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(math.gcd(8, cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        self.act = nn.SiLU()

    def forward(self, x, e):
        h = self.conv1(self.act(self.norm1(x))) + self.emb(e)[:, :, None, None]
        h = self.conv2(self.act(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """One down- and one up-sampling level with a skip connection: enough for 8x8 digits
    on a CPU, and it scales to 28x28 (any even side)."""

    def __init__(self, image_shape: tuple, channels: int = 32, n_classes: int = 0, emb: int = 64):
        super().__init__()
        c_in, h, w = image_shape
        if h % 2 or w % 2:
            from visgen import ParamError
            raise ParamError(f"denoiser=unet needs even image sides, got {h}x{w}; use denoiser=mlp")
        c = channels
        self.t_emb = TimeEmbedding(emb)
        self.y_emb = nn.Embedding(n_classes + 1, emb) if n_classes else None
        self.inp = nn.Conv2d(c_in, c, 3, padding=1)
        self.down = ResBlock(c, c, emb)
        self.pool = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid = ResBlock(2 * c, 2 * c, emb)
        self.up = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)
        self.dec = ResBlock(2 * c, c, emb)
        self.out = nn.Sequential(nn.GroupNorm(math.gcd(8, c), c), nn.SiLU(), nn.Conv2d(c, c_in, 3, padding=1))

    def forward(self, x, t, y=None):
        e = self.t_emb(t) + (self.y_emb(y) if self.y_emb is not None else 0)
        skip = self.down(self.inp(x), e)
        h = self.mid(self.pool(skip), e)
        h = self.dec(torch.cat([self.up(h), skip], 1), e)
        return self.out(h)
