"""A run: model + dataset + hyperparameters + seed + device, trained in a worker thread.

The GUI never waits on a run: it calls the control methods (which only set
state and wake the worker) and pulls scalars and snapshots at its own pace.
Everything the worker shares with other threads goes through a lock, the
bounded ``ScalarBuffer``, the latest-wins ``SnapshotSlots`` or ``Demand``.
"""
from __future__ import annotations

import itertools
import math
import os
import threading
import time
import traceback as tb
from collections import deque
from concurrent.futures import Future
from enum import Enum
from typing import Callable, Optional

from .errors import VisgenError
from .params import ParamSet
from .registry import Registry
from .streams import Demand, ScalarBuffer, SnapshotSlots


class RunState(str, Enum):
    IDLE = "idle"          # built or not, never stepped since the last reset
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"  # reached max_steps
    STOPPED = "stopped"
    FAILED = "failed"      # the trainer raised; see Run.error / Run.traceback


_NO_STEP = object()
_ids = itertools.count(1)


def default_threads() -> int:
    """Leave one core for the GUI thread."""
    return max(1, (os.cpu_count() or 2) - 1)


class Run:
    """One training run. Thread-safe controls; the trainer lives in one worker thread."""

    def __init__(self, registry: Registry, model: str, dataset: Optional[str] = None, *,
                 params: Optional[dict] = None, seed: int = 0, device: str = "auto",
                 dataset_path: Optional[str] = None, dataset_options: Optional[dict] = None,
                 max_steps: Optional[int] = None, threads: Optional[int] = None, name: str = ""):
        self.registry = registry
        self.spec = registry.model(model)
        self.dataset_spec = registry.dataset(dataset or self.spec.default_dataset)
        if self.dataset_spec.kind not in self.spec.data_kinds:
            ok = sorted(n for n, d in registry.datasets.items() if d.kind in self.spec.data_kinds)
            raise VisgenError(f"model {self.spec.id} does not train on {self.dataset_spec.kind} data "
                              f"({self.dataset_spec.name}); valid datasets: {', '.join(ok)}")
        self.params = ParamSet(self.spec.params, {}, self.dataset_spec.kind)
        for k, v in (params or {}).items():
            self.params.set(k, v)
        self.id = next(_ids)
        self.name = name or f"{self.spec.id}:{self.dataset_spec.name}#{self.id}"
        self.seed = int(seed)
        self.device_name = device
        self.dataset_path = dataset_path
        self.dataset_options = dict(dataset_options or {})
        self.max_steps = max_steps
        self.threads = threads or default_threads()
        self.delay = 0.0  # seconds to sleep between steps (slow mode)
        self.on_step: Optional[Callable[[int, float, dict], None]] = None

        self.scalars = ScalarBuffer()
        self.slots = SnapshotSlots()
        self.demand = Demand()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._commands: deque = deque()
        self._steps: deque = deque()
        self._live: dict = {}
        self._reset_state()

    def _reset_state(self) -> None:
        self.trainer = None
        self.dataset = None
        self.device = None
        self.state = RunState.IDLE
        self.step = 0
        self.wall_time = 0.0
        self.message = ""
        self.error: Optional[str] = None
        self.traceback = ""
        self.needs_reset = False
        self.steps_per_second = 0.0
        self._rate_mark = (time.perf_counter(), 0)
        self._view_step: dict = {}

    # -- building -----------------------------------------------------------
    def build(self) -> None:
        """Load the data and build the trainer (in the calling thread)."""
        import numpy as np
        import torch

        from .spec import resolve
        from .trainer import TrainContext, resolve_device

        self.device = resolve_device(self.device_name)
        if self.dataset is None:
            loader = resolve(self.dataset_spec.loader)
            path = self.dataset_path or self.dataset_spec.default_path
            self.dataset = loader(path=path, **self.dataset_options)
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % 2**32)
        ctx = TrainContext(spec=self.spec, dataset=self.dataset, params=dict(self.params.values),
                           device=self.device, seed=self.seed, emit=self.slots.put)
        self.trainer = resolve(self.spec.trainer)(ctx)
        self.needs_reset = False

    # -- controls (any thread) --------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Train continuously (also: resume after pause)."""
        with self._cond:
            if self.state in (RunState.FAILED, RunState.FINISHED):
                return
            self.state = RunState.RUNNING
            self.message = ""
            self._rate_mark = (time.perf_counter(), self.step)
            self._ensure_worker()
            self._cond.notify_all()

    resume = start

    def pause(self) -> None:
        with self._cond:
            if self.state == RunState.RUNNING:
                self.state = RunState.PAUSED
                self.steps_per_second = 0.0
            self._cond.notify_all()

    def step_once(self, phase: Optional[str] = None) -> None:
        """Queue one step (``phase`` from ``spec.phases``, e.g. "D"); pauses a running run."""
        if phase is not None and phase not in self.spec.phases:
            raise VisgenError(f"model {self.spec.id} has no step phase {phase!r}; valid: "
                              f"{', '.join(self.spec.phases) or '(none)'}")
        with self._cond:
            if self.state in (RunState.FAILED, RunState.FINISHED):
                return
            self.state = RunState.PAUSED
            self.steps_per_second = 0.0
            self._steps.append(phase)
            self._ensure_worker()
            self._cond.notify_all()

    def request_stop(self) -> None:
        """Ask the worker to stop after its current step, without waiting."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker thread and wait for it; the trainer is kept (for saving)."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"{self.name}: worker did not stop within {timeout} s")
            self._thread = None
        with self._cond:
            if self.state in (RunState.RUNNING, RunState.PAUSED):
                self.state = RunState.STOPPED
            self.steps_per_second = 0.0
            self._steps.clear()
            self._stop.clear()

    def reset(self) -> None:
        """Stop, forget the trainer and all streamed data; the next start rebuilds with current params."""
        self.stop()
        with self._cond:
            dataset = self.dataset
            self._reset_state()
            self.dataset = dataset  # data does not depend on model parameters
            self._commands.clear()
            self._live.clear()
        self.scalars.clear()
        self.slots.clear()

    def set_param(self, name: str, value) -> bool:
        """Validate and set a parameter. Returns True if it applies at the next step
        (live), False if it needs a reset (``needs_reset`` is then set)."""
        param = self.params[name]
        v = self.params.set(name, value)
        with self._cond:
            if param.live:
                self._live[name] = v
                self._cond.notify_all()
                return True
            if self.trainer is not None:
                self.needs_reset = True
            return False

    def request(self, view_id: str) -> None:
        """A view is ready to draw: take a snapshot for it when the budget allows."""
        self.demand.request(view_id)
        with self._cond:
            self._cond.notify_all()

    def take(self, view_id: str):
        return self.slots.take(view_id)

    def call(self, fn: Callable) -> Future:
        """Run ``fn(trainer)`` in the worker thread (or here, if no worker runs)."""
        fut: Future = Future()
        with self._cond:
            if self.alive:
                self._commands.append((fn, fut))
                self._cond.notify_all()
                return fut
        try:
            if self.trainer is None:
                self.build()
            fut.set_result(fn(self.trainer))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut

    def click(self, view_id: str, x: float, y: float) -> Future:
        """Hand a click on a clickable view to the trainer; results land in the slots."""
        def handle(trainer):
            for target, snap in (trainer.on_click(view_id, x, y) or {}).items():
                snap.step = self.step
                self.slots.put(target, snap)
        return self.call(handle)

    def save_checkpoint(self, path) -> Future:
        from .checkpoint import save_checkpoint

        def save(trainer):
            return save_checkpoint(path, model=self.spec.id, dataset=self.dataset_spec.name,
                                   dataset_path=self.dataset_path, params=self.params.values,
                                   seed=self.seed, step=self.step, trainer_state=trainer.state_dict())
        return self.call(save)

    def load_checkpoint(self, path) -> Future:
        """Load weights saved from the same model. Structural parameters are taken from
        the file; live ones (learning rate, sampler settings) keep their current values."""
        from .checkpoint import read_checkpoint
        from .errors import CheckpointError

        blob = read_checkpoint(path)
        if blob["model"] != self.spec.id:
            raise CheckpointError(f"{path}: checkpoint is for model {blob['model']!r}, not {self.spec.id!r}")
        self.reset()
        for k, v in blob["params"].items():
            if not self.params[k].live:
                self.params.set(k, v)

        def load(trainer):
            try:
                trainer.load_state_dict(blob["trainer"])
            except Exception as exc:
                raise CheckpointError(f"{path}: weights do not fit this model ({str(exc).splitlines()[0][:160]})") from None
            self.step = int(blob["step"])
            return self.step
        return self.call(load)

    # -- synchronous training (CLI, tests) ---------------------------------------
    def train(self, steps: int, progress: Optional[Callable[[int], None]] = None) -> None:
        """Train ``steps`` steps in the calling thread; stops early on NaN (state PAUSED)."""
        if self.alive:
            raise RuntimeError("run is training in its worker thread")
        if self.trainer is None:
            self.build()
        self.state = RunState.RUNNING
        for _ in range(steps):
            with self._cond:  # live parameters set since the last step apply now, as in the worker
                live, self._live = self._live, {}
            if live:
                self.trainer.set_params(live)
            self._do_step(None)
            if progress:
                progress(self.step)
            if self.state != RunState.RUNNING:
                return
        self.state = RunState.PAUSED

    # -- the worker ------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if not self.alive:
            self._stop.clear()
            self._thread = threading.Thread(target=self._work, name=f"visgen-{self.name}", daemon=True)
            self._thread.start()

    def _has_work(self) -> bool:
        return bool(self._commands or self._steps or self._live or self.state == RunState.RUNNING
                    or self._due_views())

    def _due_views(self) -> list:
        # Running: the cost budget decides. Otherwise the model does not change,
        # so a view is served once per step it has not seen yet.
        if self.state == RunState.RUNNING:
            return self.demand.due()
        return [v for v in self.demand.due(ignore_budget=True) if self._view_step.get(v) != self.step]

    def _work(self) -> None:
        import torch
        torch.set_num_threads(self.threads)  # per thread: leave a core for the GUI
        try:
            if self.trainer is None:
                self.build()
            while not self._stop.is_set():
                with self._cond:
                    while not self._stop.is_set() and not self._has_work():
                        self._cond.wait(0.25)
                    if self._stop.is_set():
                        break
                    commands = list(self._commands)
                    self._commands.clear()
                    live, self._live = self._live, {}
                    phase = (self._steps.popleft() if self._steps
                             else None if self.state == RunState.RUNNING else _NO_STEP)
                for fn, fut in commands:
                    try:
                        fut.set_result(fn(self.trainer))
                    except Exception as exc:
                        fut.set_exception(exc)
                if live:
                    self.trainer.set_params(live)
                    self._view_step.clear()  # what views show may depend on the new values
                if phase is not _NO_STEP:
                    self._do_step(phase)
                self._serve_views()
                if self.delay > 0 and self.state == RunState.RUNNING:
                    self._stop.wait(self.delay)
        except Exception as exc:
            self._fail(exc)
        finally:
            with self._cond:
                for fn, fut in self._commands:
                    fut.set_exception(VisgenError(f"{self.name} stopped before the request ran"))
                self._commands.clear()

    def _fail(self, exc: BaseException) -> None:
        with self._cond:
            self.state = RunState.FAILED
            self.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, VisgenError) else str(exc)
            self.traceback = "".join(tb.format_exception(exc))
            self.message = f"failed: {self.error}"
            self.steps_per_second = 0.0

    def _do_step(self, phase) -> None:
        t0 = time.perf_counter()
        raw = self.trainer.step(phase)
        self.wall_time += time.perf_counter() - t0
        self.step += 1
        self.trainer.step_count = self.step
        scalars = {k: float(v) for k, v in (raw or {}).items()}
        self.scalars.append(self.step, scalars)
        if self.on_step is not None:
            self.on_step(self.step, self.wall_time, scalars)
        bad = [k for k, v in scalars.items() if not math.isfinite(v)]
        with self._cond:
            if bad:
                self.state = RunState.PAUSED
                self.message = (f"{bad[0]} became {scalars[bad[0]]} at step {self.step}: paused. "
                                f"Lower the learning rate, then Reset.")
            elif self.max_steps is not None and self.step >= self.max_steps:
                self.state = RunState.FINISHED
                self.message = f"finished {self.step} steps"
            now = time.perf_counter()
            t_mark, s_mark = self._rate_mark
            if now - t_mark >= 0.5 and self.state == RunState.RUNNING:
                self.steps_per_second = (self.step - s_mark) / (now - t_mark)
                self._rate_mark = (now, self.step)

    def _serve_views(self) -> None:
        for view_id in self._due_views():
            t0 = time.perf_counter()
            snap = self.trainer.snapshot(view_id)
            self.demand.served(view_id, time.perf_counter() - t0)
            self._view_step[view_id] = self.step
            if snap is not None:
                snap.step = self.step
                self.slots.put(view_id, snap)

