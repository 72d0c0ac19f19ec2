"""The trainer's side of a run: one step loop for the worker thread and for headless training.

Everything here runs in the run's trainer thread - its worker, or the caller of
``Run.train`` - one at a time, so the trainer needs no locks. It builds the
trainer, applies live parameters, takes steps, measures the live metrics,
serves the views the GUI asked for and runs the commands the controls queued.
It talks to the other threads only through the run's lock-protected status,
its bounded streams and Futures.
"""
from __future__ import annotations

import math
import time
import traceback as tb
from typing import TYPE_CHECKING, Callable, Optional

from . import trace
from .errors import CheckpointError, DataError, PluginError, VisgenError
from .live_metrics import LiveCoverage, LiveLikelihood
from .rng import rng_set_aside
from .snapshots import ViewProblem
from .status import Divergence, RunState

if TYPE_CHECKING:
    from .run import Run

#: Fewest examples a data set must hold to train on: one example is no distribution, and
#: batch norm (DCGAN, WGAN-GP on images) raises on a batch of one in training mode.
MIN_EXAMPLES = 2


class StepLoop:
    """Owns the trainer, the dataset and the device of one run (trainer thread only)."""

    def __init__(self, run: "Run"):
        self.run = run
        self.trainer = None
        self.dataset = None
        self.heldout = None
        self.device = None
        self.coverage: Optional[LiveCoverage] = None
        self.likelihood: Optional[LiveLikelihood] = None
        self.view_step: dict = {}   # view id -> step its last snapshot was taken at
        self.previewed: set = set()  # views whose last snapshot was a preview (full one due when paused)
        self.problems: dict = {}    # view id -> why the view could not be taken
        self.rate_mark = (time.perf_counter(), 0)
        self.plugin = run.registry.model_plugin.get(run.spec.id, "?")

    # -- building -----------------------------------------------------------------
    def load_data(self):
        """Load the run's dataset once (a data error names the file) and set its held-out part
        aside: the trainer sees only the rest (``visgen.core.likelihood``)."""
        if self.dataset is None:
            from .likelihood import split_heldout
            from .spec import resolve

            spec = self.run.dataset_spec
            loader = resolve(spec.loader)
            full = loader(path=self.run.dataset_path or spec.default_path, **self.run.dataset_options)
            self.dataset, self.heldout = split_heldout(full, self.run.data_seed)
        return self.dataset

    def make_trainer(self, params: dict):
        """A new trainer for ``params`` (the current one is untouched), its views checked."""
        import numpy as np
        import torch

        from .spec import resolve
        from .trainer import TrainContext, resolve_device

        run = self.run
        self.device = self.device or resolve_device(run.device_name)
        data = self.load_data()
        if len(data) < MIN_EXAMPLES:
            raise DataError(f"{data.source}: {len(data)} example in data set {data.name}; training needs "
                            f"at least {MIN_EXAMPLES} (one is no distribution to learn, and batch norm "
                            f"needs two per batch)")
        torch.manual_seed(run.seed)
        np.random.seed(run.seed % 2**32)
        ctx = TrainContext(spec=run.spec, dataset=data, params=dict(params), device=self.device,
                           seed=run.seed, emit=run.slots.put)
        trainer = self.traced("__init__", resolve(run.spec.trainer), ctx)
        self.check_view_handlers(trainer)
        return trainer

    def check_view_handlers(self, trainer) -> None:
        """Refuse a trainer that lacks the method of a view its model declares."""
        from .trainer import Trainer, view_method

        if type(trainer).snapshot is not Trainer.snapshot:
            return  # the trainer draws its views its own way
        for decl in self.trainer_views():
            if not callable(getattr(trainer, view_method(decl.id), None)):
                raise PluginError(
                    f"model {self.run.spec.id} ({self.plugin}) declares view {decl.id!r} but its trainer "
                    f"{type(trainer).__name__} has no method {view_method(decl.id)}(); add it, or declare "
                    f"the view pushed=True if the trainer emits it itself")

    def trainer_views(self) -> list:
        """The declared views the trainer draws on request (not curves of scalars, not views
        it pushes itself, not the theory text)."""
        return [d for d in self.run.views if not (d.scalars or d.pushed or d.kind == "theory")]

    def ensure_built(self):
        if self.trainer is None:
            self.install(self.make_trainer(self.run.params.values))
        return self.trainer

    def install(self, trainer, step: int = 0) -> None:
        self.trainer = trainer
        trainer.step_count = step
        self.coverage = LiveCoverage(self.dataset)
        self.coverage.last_step = step
        self.likelihood = LiveLikelihood(trainer, self.dataset, self.heldout, self.run.seed)
        self.likelihood.last_step = step
        if self.likelihood.why_not:  # said once, where the curve would be
            self.run.slots.put("likelihood", ViewProblem(self.likelihood.why_not, step=step, info=True))
        self.view_step.clear()
        self.previewed.clear()
        self.problems.clear()
        self.run._update(needs_reset=False)

    def forget(self) -> None:
        """Drop the trainer (Reset); the data does not depend on the model and is kept."""
        self.trainer = None
        self.coverage = self.likelihood = None
        self.view_step.clear()
        self.previewed.clear()
        self.problems.clear()

    # -- one turn of the loop -------------------------------------------------------
    def turn(self, commands=(), live: Optional[dict] = None, phase=None, step: bool = True) -> None:
        """Run queued commands, apply live parameters, take one step (of ``phase``), measure, serve views."""
        for fn, fut in commands:
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(self))
                except BaseException as exc:  # the command's failure is the caller's, not the run's
                    fut.set_exception(exc)
        if live:
            self.ensure_built()
            self.traced("set_params", self.trainer.set_params, live)
            self.view_step.clear()      # what views show may depend on the new values...
            self.run.demand.expire()    # ...so show them now, not when the budget next allows
            self.problems.clear()       # ...and a broken view may work again
        if step:
            self.step(phase)
        if self.trainer is not None:
            self.serve_views()

    def step(self, phase) -> None:
        run = self.run
        trainer = self.ensure_built()
        t0 = time.perf_counter()
        raw = self.traced("step", trainer.step, phase)
        now = time.perf_counter()
        n = run._status.step + 1
        trainer.step_count = n
        scalars = {k: float(v) for k, v in (raw or {}).items()}
        run.scalars.append(n, scalars)
        for view_id, meter, call in (("coverage", self.coverage, "sample_for_metrics"),
                                     ("likelihood", self.likelihood, "log_likelihood")):
            if meter is None or not meter.due(n):
                continue
            with rng_set_aside(self.device):
                measured = self.traced(call, meter.measure, trainer, n)
            if measured:
                run.scalars.append(n, measured, sparse=True)
                scalars = {**scalars, **measured}
            elif meter.why_not:
                # no likelihood is a fact about the model; a model that cannot sample is a gap
                run.slots.put(view_id, ViewProblem(meter.why_not, step=n, info=view_id == "likelihood"))
        if run.on_step is not None:
            run.on_step(n, run._status.wall_time + now - t0, scalars)
        changes = {"step": n, "wall_time": run._status.wall_time + now - t0}
        bad = next(((k, v) for k, v in scalars.items() if not math.isfinite(v)), None)
        if bad is not None:
            d = Divergence(bad[0], bad[1], n)
            changes.update(state=RunState.DIVERGED, diverged=d, steps_per_second=0.0,
                           message=f"{d}: training stopped. Lower the learning rate, then Reset.")
        elif run.max_steps is not None and n >= run.max_steps:
            changes.update(state=RunState.FINISHED, steps_per_second=0.0, message=f"finished {n} steps")
        t_mark, s_mark = self.rate_mark
        if now - t_mark >= 0.5 and "state" not in changes and run._status.state == RunState.RUNNING:
            changes["steps_per_second"] = (n - s_mark) / (now - t_mark)
            self.rate_mark = (now, n)
        run._update(**changes)

    # -- views --------------------------------------------------------------------------
    def due_views(self) -> list:
        """Views that asked for a snapshot and may have one now.

        Running: the cost budget decides. Otherwise the model does not change, so
        a view is served once per step it has not seen yet (and once more in
        full if it was a preview). A view whose last try failed waits for a
        parameter change, a Reset or a Load.
        """
        run = self.run
        if run._status.state == RunState.RUNNING:
            due = run.demand.due()
        else:
            due = [v for v in run.demand.due(ignore_budget=True)
                   if self.view_step.get(v) != run._status.step or v in self.previewed]
        return [v for v in due if v not in self.problems]

    def serve_views(self) -> None:
        run = self.run
        # While training, a view whose full picture is dear may draw a cheaper one (Trainer.previewing).
        self.trainer.previewing = run._status.state == RunState.RUNNING
        for view_id in self.due_views():
            t0 = time.perf_counter()
            snap, problem = self.take_view(view_id)
            cost = time.perf_counter() - t0
            run.demand.served(view_id, cost)
            step = run._status.step
            self.view_step[view_id] = step
            if problem:
                snap = ViewProblem(self.problem_line(view_id))
            if snap is not None:
                snap.step, snap.taken_at, snap.cost = step, time.monotonic(), cost
                (self.previewed.add if snap.preview else self.previewed.discard)(view_id)
                run.slots.put(view_id, snap)

    def take_view(self, view_id: str) -> tuple:
        """``(snapshot, problem)``: the view's snapshot, or why it cannot be drawn (then also
        recorded in ``problems`` so it is not retried until parameters, Reset or Load change)."""
        try:
            with rng_set_aside(self.device):
                snap = self.traced(f"view {view_id}", self.trainer.snapshot, view_id)
            problem = self.wrong_type(view_id, snap)
        except Exception as exc:
            snap, problem = None, f"{type(exc).__name__}: {exc}".splitlines()[0]
        if problem:
            self.problems[view_id] = problem
        return snap, problem

    def problem_line(self, view_id: str) -> str:
        return f"{self.run.spec.id} ({self.plugin}), view {view_id!r}: {self.problems[view_id]}"

    def check_views(self, budget: float, progress: Optional[Callable[[int, int], None]] = None) -> dict:
        """Take every view the trainer draws itself once, within ``budget`` seconds in all.

        Returns ``{"checked": {id: {"type", "seconds"}}, "problems": {id: line},
        "unchecked": [ids the budget left]}``: what ``visgen train`` reports at its end.
        """
        self.ensure_built().previewing = False
        out = {"checked": {}, "problems": {}, "unchecked": []}
        t_start = time.perf_counter()
        views = self.trainer_views()
        for i, decl in enumerate(views):
            if progress:
                progress(i, len(views))
            if time.perf_counter() - t_start > budget:
                out["unchecked"].append(decl.id)
                continue
            t0 = time.perf_counter()
            snap, problem = self.take_view(decl.id)
            seconds = round(time.perf_counter() - t0, 4)
            out["checked"][decl.id] = {"type": type(snap).__name__ if snap is not None else None,
                                       "seconds": seconds}
            if problem:
                out["problems"][decl.id] = self.problem_line(decl.id)
        if progress:
            progress(len(views), len(views))
        return out

    def wrong_type(self, view_id: str, snap) -> str:
        """Why ``snap`` cannot be drawn by its view's kind ("" if it can)."""
        decl = self.run.view_decl(view_id)
        kind = self.run.registry.view_kinds.get(decl.kind) if decl is not None else None
        if snap is None or kind is None or not kind.snapshot_types or isinstance(snap, tuple(kind.snapshot_types)):
            return ""
        want = " or ".join(t.__name__ for t in kind.snapshot_types)
        return f"returned {type(snap).__name__}, but a {decl.kind} view draws {want}"

    # -- commands the controls queue ------------------------------------------------------
    def click(self, view_id: str, x: float, y: float) -> None:
        trainer = self.ensure_built()
        with rng_set_aside(self.device):
            answer = self.traced("on_click", trainer.on_click, view_id, x, y) or {}
        for target, snap in answer.items():
            snap.step, snap.taken_at = self.run._status.step, time.monotonic()
            self.run.slots.put(target, snap)

    def save(self, path):
        from .checkpoint import save_checkpoint

        run = self.run
        trainer = self.ensure_built()
        return save_checkpoint(path, model=run.spec.id, dataset=run.dataset_spec.name,
                               dataset_path=run.dataset_path, params=run.params.values,
                               seed=run.seed, step=run._status.step, trainer_state=trainer.state_dict())

    def load(self, path) -> int:
        """Load a checkpoint into a new trainer; the run changes only if all of it fits.

        Structural parameters come from the file; live ones (learning rate,
        sampler settings) keep their current values.
        """
        from .checkpoint import read_checkpoint

        run = self.run
        blob = read_checkpoint(path)
        if blob["model"] != run.spec.id:
            raise CheckpointError(f"{path}: checkpoint is for model {blob['model']!r}, not {run.spec.id!r}")
        if blob["dataset"] != run.dataset_spec.name:  # same shapes (ring8, moons) would load silently
            raise CheckpointError(f"{path}: trained on {blob['dataset']!r}, this run uses "
                                  f"{run.dataset_spec.name!r}; load it into a run on {blob['dataset']!r}")
        params = dict(run.params.values)
        for k, v in blob["params"].items():
            if k in run.params.values and not run.params[k].live:
                try:
                    params[k] = run.params[k].parse(v)
                except VisgenError as exc:
                    raise CheckpointError(f"{path}: {exc}") from None
        trainer = self.make_trainer(params)
        try:
            trainer.load_state_dict(blob["trainer"])
        except Exception as exc:
            raise CheckpointError(f"{path}: weights do not fit this model "
                                  f"({str(exc).splitlines()[0][:160]})") from None
        step = int(blob["step"])
        for k, v in params.items():
            run.params.set(k, v)
        run.scalars.clear()
        run.slots.clear()
        self.install(trainer, step)
        self.rate_mark = (time.perf_counter(), step)
        run._update(step=step, wall_time=0.0, diverged=None, error=None, traceback="",
                    state=RunState.PAUSED, steps_per_second=0.0, generation=run._status.generation + 1, message=f"loaded {path} (step {step})")
        return step

    # -- failures and tracing -----------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """Record a trainer exception as the run's failure (state FAILED, with its traceback)."""
        error = str(exc) if isinstance(exc, VisgenError) else f"{type(exc).__name__}: {exc}"
        self.run._update(state=RunState.FAILED, error=error, steps_per_second=0.0,
                         traceback="".join(tb.format_exception(exc)), message=f"failed: {error}")

    def traced(self, name: str, fn: Callable, *args):
        """Call into the plugin, marking the run busy (and logging it when tracing is on)."""
        run = self.run
        run._busy = (name, time.perf_counter())
        try:
            return trace.call(self.plugin, f"{run.spec.id}.{name}", fn, *args)
        finally:
            run._busy = None
