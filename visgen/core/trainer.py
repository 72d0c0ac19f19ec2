"""The trainer protocol: a plugin's model and its one training step.

The runtime (``visgen.core.run``) owns the loop - start, pause, single step,
stop, seeding, device, checkpoints, NaN guard - and calls a trainer from one
worker thread only, so a trainer needs no locks of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch

from .dataset import Dataset
from .spec import ModelSpec


@dataclass
class TrainContext:
    """What a trainer is built from.

    ``params`` holds validated hyperparameter values; ``emit(view_id, snapshot)``
    pushes a snapshot without being asked (latest wins, never queued).
    """

    spec: ModelSpec
    dataset: Dataset
    params: dict
    device: torch.device
    seed: int = 0
    emit: Callable[[str, Any], None] = field(default=lambda view_id, snapshot: None)


class Trainer:
    """Base class of every model's trainer.

    Subclasses build their networks and optimisers in ``__init__(ctx)`` and
    implement ``step``; the other methods have useful defaults. Modules and
    optimisers stored as attributes are checkpointed automatically.

    The runtime calls a trainer from one thread at a time and owns the step
    counter: ``step_count`` is the number of finished steps, set by the runtime
    after each ``step()`` (a trainer reads it, never writes it).
    """

    #: columns of the sample grid in ``samples.png`` (a conditional model sets one per class)
    grid_columns: int = 8
    #: seconds the end-of-training evaluation (``visgen train``) may spend drawing samples;
    #: metrics then use as many samples as fitted, and ``summary.json`` says how many
    summary_budget: float = 30.0
    #: set by the runtime before it takes views: True while the run trains. A view whose
    #: full picture is dear (a 1,000-step sampler) may then draw a cheaper one and say so in
    #: the snapshot's ``preview``; the full picture is taken when the run pauses or steps.
    #: Also True while the runtime measures the live likelihood curve: a model whose
    #: likelihood is dear (DDPM's 1,000 KL terms) may give an unbiased estimate of it then.
    previewing: bool = False
    #: what ``log_likelihood`` gives: "exact" (flows, autoregressive models), "bound" (a lower
    #: bound on log p: the VAE's ELBO, DDPM's variational bound) or None (no likelihood: GANs)
    likelihood: Optional[str] = None
    #: where ``likelihood`` is None, why: shown in ``summary.json`` and the likelihood view
    no_likelihood_why: str = "this model has no likelihood"

    def __init__(self, ctx: TrainContext):
        self.ctx = ctx
        self.params = dict(ctx.params)
        self.device = ctx.device
        self.dataset = ctx.dataset
        self.step_count = 0

    # -- training -------------------------------------------------------
    def step(self, phase: Optional[str] = None) -> dict:
        """Run one optimisation step and return its scalars (name -> float).

        ``phase`` is None for a normal step or one of ``spec.phases`` (e.g.
        ``"D"`` to step only a GAN's discriminator).
        """
        raise NotImplementedError

    def set_params(self, changed: dict) -> None:
        """Apply live parameters (declared ``live=True``) before the next step."""
        self.params.update(changed)

    # -- views ----------------------------------------------------------
    def snapshot(self, view_id: str):
        """Return a snapshot for the view ``view_id``, or None if there is nothing to show.

        Called only when that view is ready to draw, so it may be expensive. The
        default calls the method ``view_<id>`` (hyphens as underscores) if the
        trainer has one, without gradients and with every module in eval mode
        (drawing must not move batch-norm statistics or spectral norm's iteration).
        """
        view = getattr(self, view_method(view_id), None)
        if view is None:
            return None
        with self.evaluation():
            return view()

    def evaluation(self):
        """A context without gradients and with every module in eval mode, restored after."""
        from contextlib import ExitStack

        from .modes import evaluating

        modules = [m for m in self._stateful().values() if isinstance(m, torch.nn.Module)]
        stack = ExitStack()
        stack.enter_context(torch.no_grad())
        stack.enter_context(evaluating(*modules))
        return stack

    def on_click(self, view_id: str, x: float, y: float) -> dict:
        """Handle a click at data coordinates (x, y) on a clickable view.

        Return ``{view_id: snapshot}`` for the views the click updates.
        """
        return {}

    # -- sampling and evaluation ----------------------------------------
    def sample(self, n: int) -> np.ndarray:
        """Draw ``n`` samples in data space: (n, 2) points or (n, C, H, W) images in [0, 1]."""
        raise NotImplementedError

    def sample_for_metrics(self, n: int) -> np.ndarray:
        """Samples for the metrics the runtime measures while training (mode coverage).

        The default is ``sample(n)`` in evaluation mode. A model whose sampler is
        slow (DDPM's 1,000 steps) returns a cheaper faithful approximation here.
        """
        with self.evaluation():
            return self.sample(n)

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) in nats, one value per example of the batch ``x`` (on the trainer's device,
        as the dataset holds it: (n, 2) points, or (n, C, H, W) images in [0, 1]).

        A density in the data's own units: a model of discrete pixels (PixelCNN with K levels)
        returns log P(levels) + D log K, the density of spreading each level's probability
        uniformly over its 1/K-wide bin, so every family's numbers compare. A lower bound where
        ``likelihood`` is "bound". The runtime turns it into held-out nats and bits per
        dimension (``visgen.core.likelihood``); models without one leave this as it is.
        """
        raise NotImplementedError

    def likelihood_terms(self, x: torch.Tensor) -> dict:
        """Other per-example numbers in nats to average over the held-out data beside
        ``log_likelihood``, named as ``summary.json`` reports them (the VAE's
        ``neg_elbo_nats`` and ``iwae_nll_nats``). The default: none."""
        return {}

    def summary(self) -> dict:
        """Extra final metrics for ``summary.json`` (name -> float)."""
        return {}

    # Optional, for models with a latent space that other plugins may build on
    # (latent diffusion): ``encode(x) -> z`` and ``decode(z) -> x``, numpy in and
    # out, x in data space. ``visgen.load_run`` gives access to a saved run's trainer.

    # -- checkpoints ----------------------------------------------------
    def _stateful(self) -> dict:
        return {k: v for k, v in vars(self).items()
                if isinstance(v, (torch.nn.Module, torch.optim.Optimizer))}

    def state_dict(self) -> dict:
        """Tensors and plain values only, so loading never needs to run code."""
        state = {k: v.state_dict() for k, v in self._stateful().items()}
        state["step_count"] = self.step_count
        return state

    def load_state_dict(self, state: dict) -> None:
        for k, v in self._stateful().items():
            if k not in state:
                raise KeyError(f"checkpoint has no state for {k!r}")
            v.load_state_dict(state[k])
        self.step_count = int(state.get("step_count", 0))


def view_method(view_id: str) -> str:
    """The trainer method that takes view ``view_id``: ``view_<id>``, hyphens as underscores."""
    return "view_" + view_id.replace("-", "_")


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A copy the GUI thread may keep: training will never mutate it."""
    return t.detach().to("cpu", torch.float32).numpy().copy()


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU. Any other name must be a device this
    machine has (``cpu``, ``cuda``, ``cuda:N``); VisgenError names it and those available."""
    from .errors import VisgenError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    available = ["auto", "cpu"] + (["cuda"] + [f"cuda:{i}" for i in range(count)] if count else [])
    if name in available:
        return torch.device(name)
    if name == "cuda" or name.startswith("cuda:"):
        have = f"{count} CUDA GPU{'s' * (count != 1)}" if count else "no CUDA GPU"
        raise VisgenError(f"device {name!r} is not available: this machine has {have}; "
                          f"available: {', '.join(available)}")
    raise VisgenError(f"unknown device {name!r}; available: {', '.join(available)}")
