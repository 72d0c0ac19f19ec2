"""Generators and discriminators: MLPs for points and flat images, DCGAN-style convs for images.

Every network takes an optional one-hot label (conditional GAN): the generator
concatenates it to z, the discriminator to its input (as extra channels for convs).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as sn

from visgen import ParamError
from visgen.nn import MLP

from .collapse import MinibatchStd, Packed


def with_spectral_norm(module: nn.Module) -> nn.Module:
    """Constrain every linear and conv layer's largest singular value to 1."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, sn(child))
        else:
            with_spectral_norm(child)
    return module


class MLPGenerator(nn.Module):
    def __init__(self, latent_dim: int, data_shape: tuple, hidden: int, n_classes: int = 0, tanh: bool = False):
        super().__init__()
        self.data_shape = data_shape
        self.net = MLP(latent_dim + n_classes, math.prod(data_shape), hidden, depth=3)
        self.tanh = tanh

    def forward(self, z, onehot=None):
        h = self.net(z if onehot is None else torch.cat([z, onehot], 1))
        return (torch.tanh(h) if self.tanh else h).view(-1, *self.data_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, data_shape: tuple, hidden: int, n_classes: int = 0):
        super().__init__()
        self.net = MLP(math.prod(data_shape) + n_classes, 1, hidden, depth=3, act=lambda: nn.LeakyReLU(0.2))

    def forward(self, x, onehot=None):
        h = x.flatten(1)
        return self.net(h if onehot is None else torch.cat([h, onehot], 1)).squeeze(1)


class ConvGenerator(nn.Module):
    """DCGAN: project z to a (4c, H/4, W/4) map, then two strided transposed convs."""

    def __init__(self, latent_dim: int, image_shape: tuple, channels: int = 64, n_classes: int = 0):
        super().__init__()
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ParamError(f"arch=conv needs image sides divisible by 4, got {h}x{w}; use arch=mlp")
        self.base = (2 * channels, h // 4, w // 4)
        self.fc = nn.Sequential(nn.Linear(latent_dim + n_classes, math.prod(self.base)),
                                nn.BatchNorm1d(math.prod(self.base)), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.ConvTranspose2d(channels, c, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z, onehot=None):
        h = self.fc(z if onehot is None else torch.cat([z, onehot], 1))
        return self.net(h.view(-1, *self.base))


class ConvDiscriminator(nn.Module):
    """DCGAN: two strided convs with LeakyReLU, then a linear score.

    No batch norm: it would couple the samples of a batch, which breaks the
    per-sample gradient penalty of WGAN-GP.
    """

    def __init__(self, image_shape: tuple, channels: int = 64, n_classes: int = 0):
        super().__init__()
        c, h, w = image_shape
        self.n_classes = n_classes
        self.net = nn.Sequential(
            nn.Conv2d(c + n_classes, channels, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * channels * (h // 4) * (w // 4), 1),
        )

    def forward(self, x, onehot=None):
        if onehot is not None:  # labels as constant extra channels
            x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
        return self.net(x).squeeze(1)


def build(arch: str, data_shape: tuple, latent_dim: int, hidden: int, n_classes: int, images: bool,
          pack: int = 1, minibatch_std: bool = False):
    """(generator, discriminator) for the given architecture. ``pack`` > 1: D judges that many
    samples at once (PacGAN); ``minibatch_std``: D also sees the batch's spread (see ``collapse``)."""
    if pack > 1 and n_classes:
        raise ParamError("pack > 1 (PacGAN) judges unlabelled samples; a conditional GAN's labels would "
                         "have to be packed too: use pack=1")
    # D's input: m samples side by side, plus the spread as one more coordinate or channel
    d_shape = (data_shape[0] * pack + int(minibatch_std), *data_shape[1:])
    if arch == "conv":
        if not images:
            raise ParamError("arch=conv needs image data; use arch=mlp for 2D points")
        ch = max(8, hidden // 4)
        G, D = ConvGenerator(latent_dim, data_shape, ch, n_classes), ConvDiscriminator(d_shape, ch, n_classes)
    else:
        G = MLPGenerator(latent_dim, data_shape, hidden, n_classes, tanh=images)
        D = MLPDiscriminator(d_shape, hidden, n_classes)
    if minibatch_std:
        D = MinibatchStd(D)
    if pack > 1:
        D = Packed(D, pack)
    return G, D
