"""A run: model + dataset + hyperparameters + seed + device, and the controls that drive it.

A run works in one of two ways:

* **With a worker thread** (the GUI; anything that calls ``start`` or
  ``step_once``): every control only queues a command and returns at once;
  those with a result (``stop``, ``reset``, ``save_checkpoint``,
  ``load_checkpoint``, ``click``, ``call``) return a ``concurrent.futures.Future``.
  The worker runs the trainer (``visgen.core.step_loop``); a trainer stuck
  inside one call never blocks the caller, and ``status.responding`` turns
  False when a Stop, Reset or Load waits on it too long.
* **Headless** (``visgen train``, a plugin's own tests): ``build`` and
  ``train(steps)`` run the same step loop in the calling thread, and the other
  operations run there too, returning Futures that are already done.

What the run is doing is one immutable ``RunStatus`` (``run.status``), replaced
whole. Scalars stream through ``run.scalars`` (bounded), view snapshots through
``run.slots`` (latest wins), asked for with ``run.request(view_id)``.
"""
from __future__ import annotations

import itertools
import threading
import time
import warnings
from collections import deque
from concurrent.futures import Future
from dataclasses import replace
from typing import Callable, Optional

from .errors import VisgenError
from .params import ParamSet
from .registry import Registry
from .spec import ViewDecl
from .status import Divergence, RunState, RunStatus
from .step_loop import StepLoop
from .streams import Demand, ScalarBuffer, SnapshotSlots
from .threads import default_threads

__all__ = ["Run", "RunState", "RunStatus", "Divergence", "default_threads"]

_NO_STEP = object()
_ids = itertools.count(1)

#: views the runtime feeds for every model (on the data they apply to) unless the model declares its own
RUNTIME_VIEWS = (
    ViewDecl("coverage", "lines", "Modes covered / high quality", datasets=("points",),
             scalars=("modes_covered", "high_quality"),
             help="Measured by visgen for every model on mixture data (2,500 samples; high quality "
                  "within 3 standard deviations of a mode)"),
    ViewDecl("likelihood", "lines", "Likelihood: bits per dimension", scalars=("train_bits_per_dim", "heldout_bits_per_dim"),
             help="Measured by visgen for every model with a likelihood, on the same 256 training and "
                  "256 held-out examples each time: exact for flows and PixelCNN, an upper bound for the "
                  "VAE (IWAE) and DDPM (variational bound). Lower is better; a widening gap is overfitting. "
                  "GANs have none."),
)


def _deprecated_mirror(field: str) -> property:
    """``run.<field>``: the old spelling of ``run.status.<field>``, kept for plugins' own tests."""
    def get(self):
        warnings.warn(f"Run.{field} is deprecated; read run.status.{field} (one consistent value)",
                      DeprecationWarning, stacklevel=2)
        return getattr(self._status, field)
    return property(get, doc=f"Deprecated: ``status.{field}``.")


def _done(result=None, exc: Optional[BaseException] = None) -> Future:
    fut: Future = Future()
    fut.set_exception(exc) if exc is not None else fut.set_result(result)
    return fut


class Run:
    """One training run; see the module docstring for its two ways of working."""

    #: seconds a Stop, Reset or Load may wait on the worker before the run reads "not responding"
    NOT_RESPONDING_AFTER = 3.0

    def __init__(self, registry: Registry, model: str, dataset: Optional[str] = None, *,
                 params: Optional[dict] = None, seed: int = 0, device: str = "auto",
                 dataset_path: Optional[str] = None, dataset_options: Optional[dict] = None,
                 max_steps: Optional[int] = None, threads: Optional[int] = None, name: str = "",
                 data_seed: Optional[int] = None):
        self.registry = registry
        self.spec = registry.model(model)
        self.dataset_spec = registry.dataset(dataset or self.spec.default_dataset)
        if self.dataset_spec.kind not in self.spec.data_kinds:
            ok = sorted(n for n, d in registry.datasets.items() if d.kind in self.spec.data_kinds)
            raise VisgenError(f"model {self.spec.id} does not train on {self.dataset_spec.kind} data "
                              f"({self.dataset_spec.name}); valid datasets: {', '.join(ok)}")
        self.params = ParamSet(self.spec.params, {}, self.dataset_spec.kind, self.dataset_spec.name)
        for k, v in (params or {}).items():
            self.params.set(k, v)
        self.id = next(_ids)
        self.name = name or f"{self.spec.id}:{self.dataset_spec.name}#{self.id}"
        self.seed = int(seed)
        #: the seed that chose the held-out part: the training run's, when a saved run is loaded
        #: to sample with another seed (else its "held-out" data would include training data)
        self.data_seed = self.seed if data_seed is None else int(data_seed)
        self.device_name = device
        self.dataset_path = dataset_path
        self.dataset_options = dict(dataset_options or {})
        self.max_steps = max_steps
        self.threads = threads or default_threads()
        #: called in the trainer thread after every step as ``on_step(step, wall_time, scalars)``
        self.on_step: Optional[Callable[[int, float, dict], None]] = None

        self.scalars = ScalarBuffer()
        self.slots = SnapshotSlots()
        self.demand = Demand()
        declared = {v.id for v in self.spec.views}
        extra = [v for v in RUNTIME_VIEWS if v.id not in declared  # a model's own view of that id wins
                 and (v.id != "coverage" or self.dataset_spec.mixture)]  # no modes, nothing to count
        self.views: list = [v for v in (*self.spec.views, *extra) if self.dataset_spec.kind in v.datasets]

        self._cond = threading.Condition()
        self._status = RunStatus()
        self._inbox: deque = deque()      # (fn(loop), Future) commands for the trainer thread
        self._steps: deque = deque()      # queued single steps (phase or None)
        self._live: dict = {}             # live parameters set since the last turn
        self._delay = 0.0
        self._stop = threading.Event()
        self._stop_futures: list = []
        self._resume: Optional[RunState] = None  # state to enter once a stopping worker is gone
        self._waiting_since: Optional[float] = None
        self._busy = None                 # (trainer call, since) while the trainer thread is inside one
        self._thread: Optional[threading.Thread] = None
        self._threaded = False
        self._loop = StepLoop(self)

    # -- status ---------------------------------------------------------------------
    @property
    def status(self) -> RunStatus:
        """The current status; ``busy_for`` and ``responding`` are as of this call."""
        st = self._status
        busy, waiting = self._busy, self._waiting_since
        now = time.perf_counter()
        if busy is not None:
            st = replace(st, busy=busy[0], busy_for=now - busy[1])
        if waiting is not None and now - waiting > self.NOT_RESPONDING_AFTER:
            st = replace(st, responding=False)
        return st

    def _update(self, **changes) -> None:
        with self._cond:
            self._status = replace(self._status, **changes)

    state = property(lambda self: self._status.state, doc="``status.state``")
    step = property(lambda self: self._status.step, doc="``status.step``: finished steps")

    message = _deprecated_mirror("message")
    error = _deprecated_mirror("error")
    traceback = _deprecated_mirror("traceback")
    steps_per_second = _deprecated_mirror("steps_per_second")
    needs_reset = _deprecated_mirror("needs_reset")
    wall_time = _deprecated_mirror("wall_time")

    @property
    def trainer(self):
        """The trainer, once built. Touch it only from the trainer thread (``call``) while a worker runs."""
        return self._loop.trainer

    @property
    def dataset(self):
        """The data the trainer trains on (the run's data set less its held-out part)."""
        return self._loop.dataset

    @property
    def heldout(self):
        """The examples set aside for held-out likelihood (None for tiny data sets)."""
        return self._loop.heldout

    @property
    def device(self):
        return self._loop.device

    @property
    def alive(self) -> bool:
        """A worker thread exists (it may be idle, paused or stopping)."""
        t = self._thread
        return t is not None and t.is_alive()

    @property
    def delay(self) -> float:
        """Seconds the worker sleeps between steps (slow mode)."""
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._delay = max(0.0, float(seconds))
        self._wake()

    def view_decl(self, view_id: str) -> Optional[ViewDecl]:
        return next((v for v in self.views if v.id == view_id), None)

    def view_problems(self) -> dict:
        """``{view_id: why}`` for views whose last snapshot failed (shown in their docks)."""
        return dict(self._loop.problems)

    def use_worker(self) -> None:
        """From now on every operation runs in a worker thread, never in the caller's
        (the GUI calls this for each run it shows, so no trainer is built in its thread)."""
        with self._cond:
            self._threaded = True

    # -- headless -------------------------------------------------------------------------
    def build(self) -> None:
        """Load the data and build the trainer in the calling thread (headless use)."""
        if self.alive:
            raise VisgenError(f"{self.name}: the trainer belongs to the worker thread; use call()")
        self._loop.ensure_built()

    def train(self, steps: int, progress: Optional[Callable[[int], None]] = None) -> None:
        """Train ``steps`` steps in the calling thread, through the same loop as the worker.

        Stops early when a scalar diverges (state DIVERGED). A trainer exception
        marks the run FAILED (``status.error``, ``status.traceback``) and is
        raised again here. Ends PAUSED otherwise.
        """
        if self.alive:
            raise VisgenError(f"{self.name} is training in its worker thread")
        if self.state.ended:
            return
        self._update(state=RunState.RUNNING, message="")
        try:
            for _ in range(steps):
                with self._cond:
                    commands, live = self._take_inbox()
                self._loop.turn(commands, live)
                if progress:
                    progress(self.step)
                if self.state != RunState.RUNNING:
                    return
        except Exception as exc:
            self._loop.fail(exc)
            raise
        except BaseException:  # Ctrl-C: not a failure of the trainer
            self._update(state=RunState.PAUSED, steps_per_second=0.0)
            raise
        self._update(state=RunState.PAUSED, steps_per_second=0.0)

    # -- controls (any thread; they never wait on the trainer) ---------------------------------
    def start(self) -> None:
        """Train continuously (also: resume after a pause or a stop)."""
        with self._cond:
            if self._status.state.ended:
                return
            self._set_running(RunState.RUNNING)

    def pause(self) -> None:
        with self._cond:
            if self._status.state == RunState.RUNNING:
                self._status = replace(self._status, state=RunState.PAUSED, steps_per_second=0.0)
            if self._resume == RunState.RUNNING:
                self._resume = RunState.PAUSED
            self._cond.notify_all()

    def step_once(self, phase: Optional[str] = None) -> None:
        """Queue one step (``phase`` from ``spec.phases``, e.g. "D"); pauses a running run."""
        if phase is not None and phase not in self.spec.phases:
            raise VisgenError(f"model {self.spec.id} has no step phase {phase!r}; valid: "
                              f"{', '.join(self.spec.phases) or '(none)'}")
        with self._cond:
            if self._status.state.ended:
                return
            self._steps.append(phase)
            self._set_running(RunState.PAUSED)

    def _set_running(self, state: RunState) -> None:
        # Called with the lock held.
        self._threaded = True
        self._status = replace(self._status, state=state, message="", steps_per_second=0.0)
        self._loop.rate_mark = (time.perf_counter(), self._status.step)
        self._ensure_worker(state)
        self._cond.notify_all()

    def set_param(self, name: str, value) -> bool:
        """Validate and set a parameter. Returns True if it applies at the next step
        (live), False if it needs a reset (``status.needs_reset`` is then set)."""
        param = self.params[name]
        v = self.params.set(name, value)
        with self._cond:
            if param.live:
                self._live[name] = v
                self._cond.notify_all()
                return True
            if self._loop.trainer is not None:
                self._status = replace(self._status, needs_reset=True)
            return False

    def request(self, view_id: str) -> None:
        """A view is ready to draw: take a snapshot for it when the budget allows."""
        self.demand.request(view_id)
        self._wake()

    def take(self, view_id: str):
        """The newest unread snapshot of a view, or None."""
        return self.slots.take(view_id)

    def call(self, fn: Callable) -> Future:
        """Run ``fn(trainer)`` in the trainer thread; headless, here and now."""
        return self._submit(lambda loop: fn(loop.ensure_built()))

    def check_views(self, budget: float = 30.0,
                    progress: Optional[Callable[[int, int], None]] = None) -> Future:
        """Take each view the trainer draws once, within ``budget`` seconds; the Future holds
        ``{"checked": {id: {"type", "seconds"}}, "problems": {id: line}, "unchecked": [id]}``.

        ``visgen train`` calls this at its end, so a broken view speaks there too;
        ``progress(done, total)`` is called in the trainer thread.
        """
        return self._submit(lambda loop: loop.check_views(budget, progress))

    def click(self, view_id: str, x: float, y: float) -> Future:
        """Hand a click on a clickable view to the trainer; the snapshots it returns land in the slots."""
        return self._submit(lambda loop: loop.click(view_id, x, y))

    def save_checkpoint(self, path) -> Future:
        """Save the trainer's state at the last finished step; the Future holds the path."""
        return self._submit(lambda loop: loop.save(path))

    def load_checkpoint(self, path) -> Future:
        """Load a checkpoint of the same model; the Future holds its step.

        The file is read and a new trainer built and filled before anything of
        the run changes: a bad file leaves the run as it was.
        """
        return self._submit(lambda loop: loop.load(path), waits=True)

    def stop(self) -> Future:
        """Ask the worker to stop after its current call; the Future is done when it has.

        The trainer is kept (for saving); ``start`` continues from it.
        """
        fut: Future = Future()
        with self._cond:
            self._resume = None
            if not self.alive:
                self._stopped()
                done = True
            else:
                self._stop.set()
                self._stop_futures.append(fut)
                self._waiting_since = self._waiting_since or time.perf_counter()
                self._cond.notify_all()
                done = False
        if done:
            fut.set_result(None)
        return fut

    def reset(self) -> Future:
        """Stop, forget the trainer and everything streamed; the next start rebuilds
        with the current parameters. The Future is done once that has happened."""
        fut: Future = Future()

        def clear(_stopped):
            with self._cond:
                resume, self._resume = self._resume, None
                self._inbox.clear()
                self._live.clear()
                self._steps.clear()
                self._loop.forget()
                self.scalars.clear()
                self.slots.clear()
                self._status = RunStatus(generation=self._status.generation + 1)
                if resume is not None:
                    self._set_running(resume)
            fut.set_result(None)

        self.stop().add_done_callback(clear)
        return fut

    # -- the worker -----------------------------------------------------------------------------
    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _submit(self, fn: Callable, inline: Optional[bool] = None, waits: bool = False) -> Future:
        """Queue ``fn(loop)`` for the trainer thread (starting a worker if the run has one),
        or run it here when the run is headless."""
        with self._cond:
            if inline is None:
                inline = not self._threaded
            if not inline:
                fut: Future = Future()
                self._inbox.append((fn, fut))
                if waits:
                    self._waiting_since = self._waiting_since or time.perf_counter()
                    fut.add_done_callback(lambda _f: self._done_waiting())
                self._ensure_worker(None)
                self._cond.notify_all()
                return fut
        try:
            return _done(fn(self._loop))
        except BaseException as exc:
            return _done(exc=exc)

    def _done_waiting(self) -> None:
        with self._cond:
            if not self._stop.is_set():
                self._waiting_since = None

    def _take_inbox(self):
        commands = list(self._inbox)
        self._inbox.clear()
        live, self._live = self._live, {}
        return commands, live

    def _ensure_worker(self, resume: Optional[RunState]) -> None:
        # Called with the lock held. A worker that is stopping cannot be reused: the
        # next one starts when it has gone, in the state asked for now.
        if self.alive and self._stop.is_set():
            if resume is not None:
                self._resume = resume
            return
        if not self.alive:
            self._stop.clear()
            self._thread = threading.Thread(target=self._work, name=f"visgen-{self.name}", daemon=True)
            self._thread.start()

    def _has_work(self) -> bool:
        return bool(self._inbox or self._steps or self._live or self._status.state == RunState.RUNNING
                    or (self._loop.trainer is not None and self._loop.due_views()))

    def _work(self) -> None:
        import torch
        torch.set_num_threads(self.threads)  # process-wide, the same rule for every run: see visgen.core.threads
        loop = self._loop
        try:
            while True:
                with self._cond:
                    while not self._stop.is_set() and not self._has_work():
                        self._cond.wait(0.25)
                    stopping = self._stop.is_set()
                    commands, live = self._take_inbox()
                    running = self._status.state == RunState.RUNNING
                    phase = self._steps.popleft() if self._steps and not stopping else None if running else _NO_STEP
                if stopping:
                    if commands:  # asked for before the stop, so still done: Save, then Close at once
                        loop.turn(commands, live, step=False)
                    break
                loop.turn(commands, live, phase, step=phase is not _NO_STEP)
                if self._delay > 0 and self._status.state == RunState.RUNNING:
                    self._stop.wait(self._delay)
        except Exception as exc:
            loop.fail(exc)
        finally:
            self._worker_ended()

    def _worker_ended(self) -> None:
        with self._cond:
            pending, self._inbox = list(self._inbox), deque()
            futures, self._stop_futures = self._stop_futures, []
            self._stopped()
            self._thread = None
            self._stop.clear()
            self._waiting_since = None
        for _fn, fut in pending:
            if fut.set_running_or_notify_cancel():
                fut.set_exception(VisgenError(f"{self.name} stopped before the request ran"))
        for fut in futures:  # a reset's clean-up runs here, after the worker let go of the trainer
            fut.set_result(None)
        with self._cond:
            resume, self._resume = self._resume, None
            if resume is not None and not self._status.state.ended:
                self._set_running(resume)

    def _stopped(self) -> None:
        # Called with the lock held.
        self._steps.clear()
        state = self._status.state
        self._status = replace(self._status, steps_per_second=0.0,
                               state=RunState.STOPPED if state in (RunState.RUNNING, RunState.PAUSED) else state)
