"""Random numbers drawn beside training must not come out of training's stream.

Views, live metrics and clicks sample too (fresh noise, a random batch). Drawn
from the global generators, they would shift every later training batch, so a
watched run would train differently from an unwatched one, and differently again
whenever the views were taken at other moments: the same seed would not give
the same run. ``rng_set_aside`` runs such work on a copy of the generators'
state and puts the state back afterwards.
"""
from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np


@contextmanager
def rng_set_aside(device=None):
    """Leave torch's (CPU, and ``device``'s if it is CUDA), numpy's and Python's global
    random states as they were before the block, whatever it draws."""
    import torch

    cuda = [device.index or 0] if device is not None and getattr(device, "type", "") == "cuda" else []
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=cuda):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
