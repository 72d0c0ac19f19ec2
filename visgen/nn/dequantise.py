"""Uniform dequantisation: how a continuous density is put on 8-bit pixels.

A density on [0, 1]^D evaluated at the pixel values themselves can grow without
bound (a pixel that is always 0 gets an ever narrower peak). Spreading each level
uniformly over its bin of width 1/levels makes the density's log-likelihood of the
noisy image a lower bound on the discrete image's log-probability plus
``D log levels`` (Theis et al. 2016), which is what bits per dimension report.
"""
from __future__ import annotations

from typing import Optional

import torch


def dequantise(x: torch.Tensor, levels: int = 256, seed: Optional[int] = None) -> torch.Tensor:
    """``(round(x (levels - 1)) + u) / levels`` with ``u ~ U[0, 1)`` per value: each of ``levels``
    evenly spaced intensities in [0, 1] spread over its bin. ``seed`` fixes ``u`` (held-out
    evaluation: the same noisy images every time, and training's random stream untouched)."""
    if seed is None:
        u = torch.rand_like(x)
    else:
        u = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)).to(x.device, x.dtype)
    return (torch.round(x * (levels - 1)) + u) / levels
