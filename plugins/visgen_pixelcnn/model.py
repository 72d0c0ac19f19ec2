"""PixelCNN's network: masked convolutions over a raster order, a categorical over K levels per pixel.

Imports torch; the plugin's ``__init__`` does not, so listing models stays cheap.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


def quantise(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Pixel values in [0, 1] -> integer levels 0..K-1: level l covers the bin [l/K, (l+1)/K)."""
    return (x * levels).floor().clamp(0, levels - 1).long()


def to_grey(levels_: torch.Tensor, levels: int) -> torch.Tensor:
    """Levels 0..K-1 -> grey values in [0, 1] for display (0 black, K-1 white)."""
    return levels_.float() / (levels - 1)


def causal_mask(kind: str, out_ch: int, in_ch: int, k: int, colours: int = 1) -> torch.Tensor:
    """The PixelCNN mask of a k x k kernel (van den Oord et al. 2016).

    Mask A (the first layer): a pixel sees only the pixels above it and to its left, not
    itself. Mask B (every later layer): also its own position, which by then holds features
    of earlier pixels only. With several colour channels the centre tap is split by colour
    group (R before G before B): A lets group g see groups < g, B groups <= g.
    """
    c = k // 2
    mask = torch.ones(out_ch, in_ch, k, k)
    mask[:, :, c, c + 1:] = 0          # right of the centre, same row
    mask[:, :, c + 1:, :] = 0          # every row below
    g_out = torch.arange(out_ch) * colours // out_ch
    g_in = torch.arange(in_ch) * colours // in_ch
    see = g_in[None, :] < g_out[:, None] if kind == "A" else g_in[None, :] <= g_out[:, None]
    mask[:, :, c, c] = see.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A same-padded convolution whose kernel is multiplied by a causal mask on every call."""

    def __init__(self, kind: str, in_ch: int, out_ch: int, k: int, colours: int = 1):
        super().__init__(in_ch, out_ch, k, padding=k // 2)
        self.register_buffer("mask", causal_mask(kind, out_ch, in_ch, k, colours), persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Mask-A 7x7 conv, ``layers`` residual mask-B 3x3 blocks, two 1x1 mask-B convs to K logits.

    ``forward(levels, y)`` takes integer levels (N, C, H, W) and returns logits
    (N, C, K, H, W): the logits at pixel i depend only on pixels before i in raster order.
    """

    def __init__(self, colours: int, levels: int, channels: int = 64, layers: int = 4,
                 n_classes: int = 0, first_kernel: int = 7):
        super().__init__()
        self.colours, self.levels = colours, levels
        channels = max(channels, colours) // colours * colours  # whole colour groups
        self.inp = MaskedConv2d("A", colours, channels, first_kernel, colours)
        self.blocks = nn.ModuleList(MaskedConv2d("B", channels, channels, 3, colours) for _ in range(layers))
        self.head1 = MaskedConv2d("B", channels, channels, 1, colours)
        self.head2 = MaskedConv2d("B", channels, colours * levels, 1, colours)
        self.embed = nn.Embedding(n_classes, channels) if n_classes else None

    def scale(self, levels_: torch.Tensor) -> torch.Tensor:  # noqa: D102 (shared below)
        """Integer levels -> the network's input in [-1, 1]."""
        return levels_.float() / (self.levels - 1) * 2 - 1

    def logits_from_input(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits (N, C * K, H, W) from the scaled input x (N, C, H, W) (differentiable in x)."""
        h = self.inp(x)
        cond = 0.0
        if self.embed is not None and y is not None:
            cond = self.embed(y)[:, :, None, None]                # a class bias, the same at every pixel
        h = h + cond
        for conv in self.blocks:
            h = h + conv(F.relu(h)) + cond
        return self.head2(F.relu(self.head1(F.relu(h))))

    def forward(self, levels_: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        out = self.logits_from_input(self.scale(levels_), y)
        n, _, hh, ww = out.shape
        # output channel o belongs to colour o // K (the masks' groups), so this reshape is causal
        return out.view(n, self.colours, self.levels, hh, ww)

    def log_prob_levels(self, levels_: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        """log P(levels) per image (nats): the chain rule's sum of per-pixel log-probabilities."""
        logp = F.log_softmax(self(levels_, y), dim=2)
        return logp.gather(2, levels_.unsqueeze(2)).squeeze(2).flatten(1).sum(1)


def log_density(log_p_levels: torch.Tensor, dim: int, levels: int) -> torch.Tensor:
    """log P(levels) + D log K: the density in [0, 1] units of spreading each level's
    probability uniformly over its 1/K-wide bin."""
    return log_p_levels + dim * math.log(levels)


class GatedPixelCNN(PixelCNN):
    """Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
    Decoders"), for single-channel images: a vertical stack sees every row above (a k//2+1 x k
    kernel over the rows up to the current one, shifted down a row before it reaches the
    horizontal stack), a horizontal stack sees the pixels to the left in the row (1 x k, mask A
    then B). Together they cover every earlier pixel: no blind spot. Each layer is gated,
    tanh(a) * sigmoid(b), with a residual connection on the horizontal stack."""

    def __init__(self, colours: int, levels: int, channels: int = 64, layers: int = 4,
                 n_classes: int = 0, first_kernel: int = 7):
        nn.Module.__init__(self)
        if colours != 1:
            raise ValueError("the gated stack is written for single-channel images")
        self.colours, self.levels, self.ch = 1, levels, channels
        k = 3
        self.v_in = nn.Conv2d(1, 2 * channels, (first_kernel // 2 + 1, first_kernel))
        self.h_in = MaskedConv2d("A", 1, 2 * channels, first_kernel, 1)
        self.h_in.mask[:, :, :first_kernel // 2] = 0                 # one row: 1 x k, mask A
        self.v_in_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.v = nn.ModuleList(nn.Conv2d(channels, 2 * channels, (k // 2 + 1, k)) for _ in range(layers))
        self.h = nn.ModuleList(nn.Conv2d(channels, 2 * channels, (1, k // 2 + 1)) for _ in range(layers))
        self.v_to_h = nn.ModuleList(nn.Conv2d(2 * channels, 2 * channels, 1) for _ in range(layers))
        self.h_out = nn.ModuleList(nn.Conv2d(channels, channels, 1) for _ in range(layers))
        self.head1 = nn.Conv2d(channels, channels, 1)
        self.head2 = nn.Conv2d(channels, levels, 1)
        self.embed = nn.Embedding(n_classes, 2 * channels) if n_classes else None
        self.first_kernel, self.k = first_kernel, k

    @staticmethod
    def _gate(a: torch.Tensor) -> torch.Tensor:
        t, s = a.chunk(2, dim=1)
        return torch.tanh(t) * torch.sigmoid(s)

    @staticmethod
    def _vconv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
        """A (k//2+1) x k kernel over the rows up to and including each pixel's own row."""
        kh, kw = conv.kernel_size
        return conv(F.pad(x, (kw // 2, kw // 2, kh - 1, 0)))

    @staticmethod
    def _down(v: torch.Tensor) -> torch.Tensor:
        """Shift down one row: the horizontal stack at row i gets the vertical stack of row i - 1."""
        return F.pad(v, (0, 0, 1, 0))[:, :, :-1]

    def logits_from_input(self, x: torch.Tensor, y: Optional[torch.Tensor] = None) -> torch.Tensor:
        cond = 0.0
        if self.embed is not None and y is not None:
            cond = self.embed(y)[:, :, None, None]
        v_pre = self._vconv(self.v_in, x)
        h = self._gate(self.h_in(x) + self.v_in_to_h(self._down(v_pre)) + cond)
        v = self._gate(v_pre + cond)
        for vconv, hconv, v2h, hout in zip(self.v, self.h, self.v_to_h, self.h_out):
            v_pre = self._vconv(vconv, v)
            kw = hconv.kernel_size[1]
            h_pre = hconv(F.pad(h, (kw - 1, 0, 0, 0)))               # 1 x (k//2+1): the pixel and its left
            h = h + hout(self._gate(h_pre + v2h(self._down(v_pre)) + cond))
            v = self._gate(v_pre + cond)
        return self.head2(F.relu(self.head1(F.relu(h))))


def build(arch: str, colours: int, levels: int, channels: int, layers: int, n_classes: int = 0) -> PixelCNN:
    """The plain masked stack or the gated two-stack network."""
    cls = GatedPixelCNN if arch == "gated" else PixelCNN
    return cls(colours, levels, channels, layers, n_classes)
