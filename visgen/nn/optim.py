"""Live optimiser settings: what a trainer's ``set_params`` does with a changed learning rate."""
from __future__ import annotations

from typing import Optional

import torch


def set_lr(optimizer: torch.optim.Optimizer, lr: float, betas: Optional[tuple] = None) -> None:
    """Set every parameter group's learning rate (and Adam's ``betas``, where given and used)
    in place, so the optimiser's state (moments, step counts) survives a live change."""
    for group in optimizer.param_groups:
        group["lr"] = lr
        if betas is not None and "betas" in group:
            group["betas"] = tuple(betas)
