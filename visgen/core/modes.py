"""Switch modules to evaluation mode for a while, restoring each one's mode after."""
from __future__ import annotations

from contextlib import contextmanager

from torch import nn


@contextmanager
def evaluating(*modules: nn.Module):
    """``with evaluating(G, D):`` batch norm uses running stats, spectral norm stops its
    power iteration; on exit every module is back in the mode it had, so nesting is safe."""
    before = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        for m, training in zip(modules, before):
            m.train(training)
