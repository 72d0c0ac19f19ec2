"""Network building blocks sized for small data on a CPU, scaling up on a GPU."""
from __future__ import annotations

import math

import torch
from torch import nn


class MLP(nn.Sequential):
    """``depth`` hidden layers of width ``hidden`` with an activation; linear output."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256, depth: int = 2,
                 act: type = nn.ReLU):
        layers, d = [], in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), act()]
            d = hidden
        layers.append(nn.Linear(d, out_dim))
        super().__init__(*layers)


def _down(h: int) -> int:
    return math.ceil(h / 2)


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions then a linear map: (N, C, H, W) -> (N, out_dim).

    Works for any image size (8x8 digits, 28x28 MNIST); the spatial size halves twice.
    """

    def __init__(self, image_shape: tuple, out_dim: int, channels: int = 32):
        super().__init__()
        c, h, w = image_shape
        self.conv = nn.Sequential(
            nn.Conv2d(c, channels, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
        )
        flat = 2 * channels * _down(_down(h)) * _down(_down(w))
        self.head = nn.Linear(flat, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x).flatten(1))


class ConvDecoder(nn.Module):
    """The mirror of ``ConvEncoder``: (N, in_dim) -> (N, C, H, W) logits or means."""

    def __init__(self, in_dim: int, image_shape: tuple, channels: int = 32):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = image_shape
        self.h4, self.w4 = _down(_down(h)), _down(_down(w))
        self.channels = channels
        self.fc = nn.Sequential(nn.Linear(in_dim, 2 * channels * self.h4 * self.w4), nn.ReLU())
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(channels, c, 4, stride=2, padding=1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.fc(z).view(-1, 2 * self.channels, self.h4, self.w4)
        _, h, w = self.image_shape
        return self.deconv(x)[..., :h, :w]  # ceil-halving may overshoot odd sizes by a pixel
