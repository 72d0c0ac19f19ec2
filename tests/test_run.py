"""The run lifecycle with tiny fake trainers: controls, params, failures, bounded streams."""
import math
import threading
import time
import tracemalloc

import numpy as np
import pytest
from conftest import wait_for

import visgen
from visgen import ModelSpec, Param, PointSet, Scatter, ViewDecl, hookimpl
from visgen.core.errors import ParamError, UnknownNameError, VisgenError
from visgen.core.run import Run, RunState
from visgen.core.streams import ScalarBuffer


# -- fake trainers ------------------------------------------------------------------
class CountingTrainer(visgen.Trainer):
    """Counts calls and records what it saw, in order, in ``events``."""

    builds = 0
    sleep = 0.001

    def __init__(self, ctx):
        super().__init__(ctx)
        type(self).builds += 1
        self.calls = 0
        self.phases = []
        self.events = []
        self.snapshot_calls = {}
        self.click_threads = []

    def step(self, phase=None):
        self.calls += 1
        self.phases.append(phase)
        self.events.append(("step", self.params["lr"]))
        if self.sleep:
            time.sleep(self.sleep)
        return {"loss": 1.0 / self.calls}

    def set_params(self, changed):
        super().set_params(changed)
        self.events.append(("set", dict(changed)))

    def snapshot(self, view_id):
        self.snapshot_calls[view_id] = self.snapshot_calls.get(view_id, 0) + 1
        return Scatter([PointSet("p", np.zeros((3, 2)))])

    def on_click(self, view_id, x, y):
        self.click_threads.append(threading.current_thread().name)
        return {"decoded": Scatter([PointSet("click", [[x, y]])])}


class RaisingTrainer(CountingTrainer):
    def step(self, phase=None):
        out = super().step(phase)
        if self.calls == 3:
            raise RuntimeError("step blew up at call 3")
        return out


class NanTrainer(CountingTrainer):
    def step(self, phase=None):
        super().step(phase)
        return {"other": 1.0, "loss": math.nan if self.calls == 5 else 1.0}


class FloodTrainer(CountingTrainer):
    """Trivial steps, and a 64 KB snapshot pushed to two views every step."""

    sleep = 0.0
    N = 8192

    def step(self, phase=None):
        self.calls += 1
        for view in ("big", "big2"):
            self.ctx.emit(view, Scatter([PointSet("p", np.full((self.N, 2), self.calls, np.float32))]))
        return {"loss": 1.0 / self.calls, "acc": 0.5}


class BuildFails(CountingTrainer):
    def __init__(self, ctx):
        raise ValueError("cannot build this trainer")


PARAMS = [Param("lr", 1e-3, min=0.0, max=1.0, live=True),
          Param("width", 4, type="int", min=1, max=64)]
VIEWS = [ViewDecl("v", "scatter", "A view"), ViewDecl("latent", "scatter", "Latent", clickable=True),
         ViewDecl("decoded", "scatter", "Decoded")]


def _spec(mid, trainer, **kw):
    return ModelSpec(id=mid, family="Fake", title=mid, summary="fake", trainer=trainer, params=PARAMS,
                     views=VIEWS, data_kinds=("points",), default_dataset="ring8", **kw)


class FakePlugin:
    @hookimpl
    def visgen_register_models(self):
        return [
            _spec("fake", CountingTrainer, phases=("D", "G")),
            _spec("fake-nophase", lambda ctx: CountingTrainer(ctx)),  # any callable factory
            _spec("fake-raise", RaisingTrainer),
            _spec("fake-nan", NanTrainer),
            _spec("fake-flood", FloodTrainer),
            _spec("fake-build-fails", BuildFails),
        ]


@pytest.fixture
def reg(registry):
    info = registry.register(FakePlugin(), "fake-plugin")
    assert info.ok, info.error
    return registry


@pytest.fixture
def make_run(reg, stop_runs):
    def make(model="fake", dataset="ring8", **kw):
        kw.setdefault("dataset_options", {"n": 256})
        kw.setdefault("threads", 1)
        run = Run(reg, model, dataset, **kw)
        stop_runs(run)
        return run
    return make




def settle(run, quiet=0.1):
    """Wait until the step counter has not moved for ``quiet`` seconds."""
    last = run.step
    while True:
        time.sleep(quiet)
        if run.step == last:
            return last
        last = run.step


# -- lifecycle -----------------------------------------------------------------------
def test_start_pause_step_once_stop(make_run):
    run = make_run()
    assert run.state == RunState.IDLE and run.trainer is None and not run.alive
    run.start()
    assert run.state == RunState.RUNNING
    wait_for(lambda: run.step >= 20, what="20 steps")
    assert run.alive
    a = run.step
    wait_for(lambda: run.step >= a + 20, what="steps to keep growing")

    run.pause()
    assert run.state == RunState.PAUSED
    n = settle(run)
    time.sleep(0.2)
    assert run.step == n and run.trainer.calls == n   # stopped growing
    assert run.alive                                   # paused, not stopped

    run.step_once()
    wait_for(lambda: run.step == n + 1, what="one step")
    time.sleep(0.2)
    assert run.step == n + 1 and run.trainer.calls == n + 1
    assert run.trainer.phases[-1] is None
    assert run.state == RunState.PAUSED

    run.start()   # resume
    wait_for(lambda: run.step >= n + 10, what="resume")
    run.stop().result(timeout=5)
    assert not run.alive
    assert run.state == RunState.STOPPED
    assert run.trainer is not None   # kept for saving
    s = run.step
    time.sleep(0.1)
    assert run.step == s
    steps, values = run.scalars.series(["loss"])["loss"]
    assert steps[-1] == s and values[-1] == pytest.approx(1.0 / s)


def test_step_once_while_running_pauses_after_one_more(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 5)
    run.step_once()
    assert run.state == RunState.PAUSED
    n = settle(run)
    assert run.trainer.calls == n
    assert run.trainer.phases[-1] is None


def test_step_once_with_phase(make_run):
    run = make_run("fake")
    run.step_once("D")
    wait_for(lambda: run.step == 1)
    run.step_once("G")
    run.step_once()
    wait_for(lambda: run.step == 3)
    assert run.trainer.phases == ["D", "G", None]
    with pytest.raises(VisgenError) as ei:
        run.step_once("Q")
    assert "'Q'" in str(ei.value) and "D, G" in str(ei.value)
    time.sleep(0.05)
    assert run.step == 3


def test_step_phase_unknown_on_model_without_phases(make_run):
    run = make_run("fake-nophase")
    with pytest.raises(VisgenError, match=r"no step phase 'D'; valid: \(none\)"):
        run.step_once("D")
    assert not run.alive and run.step == 0


def test_reset_clears_and_rebuilds(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 10)
    first = run.trainer
    run.request("v")
    wait_for(lambda: run.slots.pending() > 0, what="a snapshot")
    run.reset().result(timeout=5)
    assert not run.alive
    assert run.step == 0 and run.state == RunState.IDLE
    assert run.trainer is None
    assert run.scalars.series() == {} and len(run.scalars) == 0 and run.scalars.latest == {}
    assert run.slots.pending() == 0
    assert run.dataset is not None      # data is kept across a reset
    builds = CountingTrainer.builds
    run.start()
    wait_for(lambda: run.step >= 3)
    run.stop().result(timeout=5)
    assert run.trainer is not first and CountingTrainer.builds == builds + 1
    assert run.trainer.calls == run.step     # the new trainer counts from zero
    assert run.scalars.series()["loss"][0][0] == 1


def test_start_after_stop_continues_with_same_trainer(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 5)
    run.stop().result(timeout=5)
    trainer, n = run.trainer, run.step
    run.start()
    wait_for(lambda: run.step >= n + 5)
    assert run.trainer is trainer and run.state == RunState.RUNNING


# -- parameters ------------------------------------------------------------------------
def test_live_param_reaches_trainer_before_next_step(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 5)
    assert run.set_param("lr", "0.5") is True
    wait_for(lambda: ("step", 0.5) in list(run.trainer.events), what="a step with the new lr")
    run.pause()
    settle(run)
    events = list(run.trainer.events)
    sets = [i for i, e in enumerate(events) if e[0] == "set"]
    assert len(sets) == 1 and events[sets[0]] == ("set", {"lr": 0.5})
    assert all(e == ("step", 1e-3) for e in events[:sets[0]])
    assert all(e == ("step", 0.5) for e in events[sets[0] + 1:])
    assert run.trainer.params["lr"] == 0.5 and not run.status.needs_reset


def test_live_param_while_paused_applies_before_the_single_step(make_run):
    run = make_run()
    run.step_once()
    wait_for(lambda: run.step == 1)
    run.set_param("lr", 0.25)
    wait_for(lambda: ("set", {"lr": 0.25}) in run.trainer.events, what="set_params while paused")
    assert run.step == 1
    run.step_once()
    wait_for(lambda: run.step == 2)
    assert run.trainer.events == [("step", 1e-3), ("set", {"lr": 0.25}), ("step", 0.25)]


def test_live_param_reaches_trainer_in_synchronous_training(make_run):
    run = make_run()
    run.train(2)
    assert run.set_param("lr", 0.5) is True
    run.train(1)
    assert run.trainer.events == [("step", 1e-3), ("step", 1e-3), ("set", {"lr": 0.5}), ("step", 0.5)]
    run.train(1)                           # applied once, not again
    assert run.trainer.events[-2:] == [("step", 0.5), ("step", 0.5)]


def test_structural_param_needs_reset(make_run):
    run = make_run()
    assert run.set_param("width", 8) is False
    assert run.status.needs_reset is False     # nothing built yet: simply used at build
    run.step_once()
    wait_for(lambda: run.step == 1)
    assert run.trainer.params["width"] == 8
    assert run.set_param("width", "16") is False
    assert run.status.needs_reset is True
    assert run.trainer.params["width"] == 8      # the running model is untouched
    assert run.params.values["width"] == 16
    old = run.trainer
    run.reset().result(timeout=5)
    assert run.status.needs_reset is False
    run.step_once()
    wait_for(lambda: run.step == 1)
    assert run.trainer is not old and run.trainer.params["width"] == 16


def test_set_param_refuses_bad_values(make_run):
    run = make_run()
    with pytest.raises(ParamError):
        run.set_param("width", "3.5")
    with pytest.raises(ParamError):
        run.set_param("lr", "nan")
    with pytest.raises(UnknownNameError, match="lr, width"):
        run.set_param("depth", 3)
    assert run.params.values == {"lr": 1e-3, "width": 4}
    with pytest.raises(UnknownNameError):
        Run(run.registry, "fake", "ring8", params={"depth": 2})


def test_model_refuses_wrong_data_kind(reg):
    with pytest.raises(VisgenError) as ei:
        Run(reg, "fake", "digits")
    assert "points" in str(ei.value) or "images" in str(ei.value)
    assert "ring8" in str(ei.value) and "digits" not in str(ei.value).split("valid datasets:")[1]


# -- failures ----------------------------------------------------------------------------
def test_trainer_exception_fails_run_and_others_keep_going(make_run):
    good = make_run("fake")
    bad = make_run("fake-raise")
    good.start()
    bad.start()
    wait_for(lambda: bad.state == RunState.FAILED, what="the bad run to fail")
    wait_for(lambda: not bad.alive, what="the bad worker to end")
    assert bad.status.error == "RuntimeError: step blew up at call 3"
    assert bad.status.message.startswith("failed: ") and "blew up" in bad.status.message
    assert "Traceback" in bad.status.traceback and "in step" in bad.status.traceback
    assert "step blew up at call 3" in bad.status.traceback
    assert bad.step == 2            # the failing step is not counted
    n = good.step
    wait_for(lambda: good.step >= n + 20, what="the good run to keep going")
    assert good.state == RunState.RUNNING and good.status.error is None
    bad.start()                     # a failed run does not restart by itself
    assert bad.state == RunState.FAILED and not bad.alive
    bad.reset().result(timeout=5)   # ...but a reset makes it usable again
    assert bad.state == RunState.IDLE and bad.status.error is None and bad.status.traceback == ""


def test_trainer_build_failure_fails_run(make_run):
    run = make_run("fake-build-fails")
    run.start()
    wait_for(lambda: run.state == RunState.FAILED)
    assert run.status.error == "ValueError: cannot build this trainer"
    assert "__init__" in run.status.traceback


def test_nan_stops_as_diverged_with_message(make_run):
    run = make_run("fake-nan")
    run.start()
    wait_for(lambda: run.state != RunState.RUNNING, what="the NaN guard")
    assert run.state == RunState.DIVERGED
    d = run.status.diverged
    assert (d.scalar, d.step) == ("loss", 5) and math.isnan(d.value)
    assert run.step == 5
    assert "loss" in run.status.message and "nan" in run.status.message and "step 5" in run.status.message
    assert "other" not in run.status.message
    time.sleep(0.15)
    assert run.step == 5 and run.trainer.calls == 5   # it really stopped stepping
    assert run.alive


def test_nan_stops_synchronous_training(make_run):
    run = make_run("fake-nan")
    run.train(50)
    assert run.step == 5 and run.state == RunState.DIVERGED and "step 5" in run.status.message
    run2 = make_run("fake")
    run2.train(7)
    assert run2.step == 7 and run2.state == RunState.PAUSED and run2.status.message == ""


def test_max_steps_finishes(make_run):
    run = make_run(max_steps=25)
    run.start()
    wait_for(lambda: run.state == RunState.FINISHED)
    time.sleep(0.1)
    assert run.step == 25 and run.trainer.calls == 25
    assert run.status.message == "finished 25 steps"
    run.start()
    run.step_once()
    time.sleep(0.1)
    assert run.step == 25 and run.state == RunState.FINISHED


# -- bounded streams under a flood ---------------------------------------------------------
def test_flood_is_bounded(make_run):
    run = make_run("fake-flood", "moons")  # not a mixture: no coverage measured, only the flood
    run.scalars = ScalarBuffer(64)
    snap_bytes = FloodTrainer.N * 2 * 4
    tracemalloc.start()
    try:
        run.start()
        wait_for(lambda: run.step >= 50)
        t0 = time.monotonic()
        taken = {"big": [], "big2": []}
        marks = []
        while time.monotonic() - t0 < 1.2:
            time.sleep(0.2)
            # one per view (big, big2, and the likelihood view's "no likelihood"), never a queue
            assert run.slots.pending() <= 3
            for view in ("big", "big2"):
                s = run.take(view)
                if s is not None:
                    taken[view].append(float(s.series[0].xy[0, 0]))
                    del s
            marks.append((run.step, tracemalloc.get_traced_memory()[0]))
        run.pause()
        settle(run, 0.05)
    finally:
        tracemalloc.stop()
    steps = run.step
    assert steps > 500, f"only {steps} steps: the flood test needs a fast trivial trainer"
    assert run.slots.pending() <= 3
    assert run.slots.dropped > steps            # almost every emitted snapshot was dropped
    assert run.slots.delivered == sum(map(len, taken.values()))
    for got in taken.values():
        assert len(got) >= 4
        assert got == sorted(set(got))          # always newer: the latest, not a queued old one
        assert got[-1] - got[0] > 100           # and steps were skipped in between
    assert len(run.scalars) <= 64
    ser = run.scalars.series()
    assert set(ser) == {"loss", "acc"} and ser["loss"][0][0] == 1
    assert ser["loss"][0][-1] > steps - steps // 32
    # memory does not grow with the number of steps
    (s1, m1), (s2, m2) = marks[1], marks[-1]
    assert s2 - s1 > 200
    assert m2 - m1 < 10 * snap_bytes, f"memory grew {m2 - m1} bytes over {s2 - s1} steps"


# -- snapshots on demand ------------------------------------------------------------------------
def test_snapshot_only_on_request(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 20)
    time.sleep(0.1)
    assert run.trainer.snapshot_calls == {}        # nobody asked
    run.request("v")
    wait_for(lambda: run.trainer.snapshot_calls.get("v") == 1, what="the requested snapshot")
    snap = run.take("v")
    assert isinstance(snap, Scatter) and 1 <= snap.step <= run.step
    time.sleep(0.3)
    assert run.trainer.snapshot_calls == {"v": 1}  # not again until asked again
    assert run.take("v") is None
    run.request("v")
    wait_for(lambda: run.trainer.snapshot_calls.get("v") == 2)
    time.sleep(0.2)
    assert run.trainer.snapshot_calls == {"v": 2}
    assert run.take("v").step > snap.step


def test_snapshot_while_paused_is_served_once_per_step(make_run):
    run = make_run()
    run.step_once()
    wait_for(lambda: run.step == 1)
    run.request("v")
    wait_for(lambda: run.trainer.snapshot_calls.get("v") == 1)
    assert run.take("v").step == 1
    run.request("v")                         # the model has not changed: nothing new to show
    time.sleep(0.2)
    assert run.trainer.snapshot_calls == {"v": 1}
    run.step_once()                          # after the next step the pending request is served
    wait_for(lambda: run.trainer.snapshot_calls.get("v") == 2)
    assert run.take("v").step == 2


# -- clicks ------------------------------------------------------------------------------------
def test_click_runs_in_worker_and_lands_in_slot(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 5)
    fut = run.click("latent", 1.5, -2.0)
    assert fut.result(timeout=5) is None
    worker = run._thread.name
    assert worker.startswith("visgen-") and worker != threading.current_thread().name
    assert run.trainer.click_threads == [worker]
    snap = run.take("decoded")
    assert isinstance(snap, Scatter)
    assert snap.series[0].xy.tolist() == [[1.5, -2.0]]
    assert 5 <= snap.step <= run.step


def test_click_without_worker_runs_here(make_run):
    run = make_run()
    run.click("latent", 0.0, 1.0).result(timeout=5)   # builds the trainer on demand
    assert run.trainer.click_threads == [threading.current_thread().name]
    assert run.take("decoded").series[0].xy.tolist() == [[0.0, 1.0]]
    assert not run.alive


def test_call_propagates_exceptions(make_run):
    run = make_run()
    run.start()
    wait_for(lambda: run.step >= 2)

    def boom(trainer):
        raise KeyError("nope")

    with pytest.raises(KeyError):
        run.call(boom).result(timeout=5)
    assert run.call(lambda t: t.calls).result(timeout=5) >= 2
    assert run.state == RunState.RUNNING   # a failing command does not fail the run



def test_old_status_mirrors_still_work_but_say_where_to_read(make_run):
    """A plugin's own tests written against run.message/error/... keep working, with a warning."""
    import warnings

    run = make_run()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert run.message == run.status.message and run.needs_reset is False
    assert [str(w.message).split(";")[0] for w in caught] == ["Run.message is deprecated",
                                                             "Run.needs_reset is deprecated"]
    assert all(w.category is DeprecationWarning and w.filename == __file__ for w in caught)


def test_the_coverage_view_comes_only_with_mixture_data():
    """Modes covered means nothing on moons: its dock would stay empty for good."""
    from conftest import registry_with

    reg = registry_with("vae")
    assert "coverage" in [v.id for v in Run(reg, "vae", "ring8").views]
    assert "coverage" in [v.id for v in Run(reg, "vae", "grid25").views]
    assert "coverage" not in [v.id for v in Run(reg, "vae", "moons").views]
    assert "coverage" not in [v.id for v in Run(reg, "vae", "digits").views]
