"""Cures for mode collapse that change what the discriminator sees.

A collapsed generator puts every sample on a few modes; a discriminator that judges one
sample at a time cannot tell, because each collapsed sample on its own looks real. Both
cures here let D see several samples at once:

* ``Packed`` (PacGAN, Lin et al. 2018): D judges m samples concatenated into one input,
  all real or all fake, so a pack of near-identical fakes is easy to call fake.
* ``MinibatchStd`` (Karras et al. 2018, a simpler form of Salimans et al.'s minibatch
  discrimination): D gets one more input, the batch's mean standard deviation, which a
  collapsed batch of fakes keeps near zero.

The unrolled GAN (the third cure) changes G's update instead: see ``GANTrainer``.
"""
from __future__ import annotations

import torch
from torch import nn


class Packed(nn.Module):
    """PacGAN: D(x_1, ..., x_m) on ``m`` samples concatenated along the first data axis (the
    coordinates of points, the channels of images). ``inner`` is built for that wider input."""

    def __init__(self, inner: nn.Module, m: int):
        super().__init__()
        self.inner, self.m = inner, m

    def forward(self, x, onehot=None):
        b = len(x) - len(x) % self.m  # a batch not divisible by m drops its last few samples
        return self.inner(x[:b].reshape(b // self.m, self.m * x.shape[1], *x.shape[2:]))

    def each(self, x, onehot=None):
        """One score per sample: D on a pack of m copies of it (the heatmap over the plane)."""
        packs = x.repeat_interleave(self.m, 0).reshape(len(x), self.m * x.shape[1], *x.shape[2:])
        return self.inner.each(packs) if isinstance(self.inner, MinibatchStd) else self.inner(packs)


class MinibatchStd(nn.Module):
    """D with one more input: the standard deviation of each input feature over the batch,
    averaged into one number (a constant extra coordinate, or an extra channel for images).
    ``inner`` is built for that one extra input."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.register_buffer("last_std", torch.zeros(()))  # of the last batch of two or more

    def forward(self, x, onehot=None):
        std = x.std(0).mean() if len(x) > 1 else self.last_std  # sigma = mean_j std_i(x_ij)
        if len(x) > 1:
            self.last_std = std.detach()
        return self.inner(self._with(x, std), onehot)

    def each(self, x, onehot=None):
        """One score per sample, each as if in the last batch D judged (the heatmap over the
        plane: the grid's own spread would be no batch D ever sees)."""
        return self.inner(self._with(x, self.last_std), onehot)

    @staticmethod
    def _with(x, std):
        extra = std.expand(len(x), 1, *x.shape[2:])
        return torch.cat([x, extra], 1)
