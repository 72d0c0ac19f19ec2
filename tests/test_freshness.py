"""Every dock says which training step its picture is from, flags a picture that is old while
training (with why), and a picture too dear to redraw while training is a labelled preview that
becomes the full picture once the run pauses."""
from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import registry_with, wait_for

from visgen import ImageGrid
from visgen.core.run import Run
from visgen.core.status import RunState, RunStatus
from visgen.gui.freshness import STALE_AFTER, snapshot_freshness

SMALL_DDPM = {"T": 200, "hidden": 32, "batch_size": 64}


def snap(step, age, now=1000.0, preview="", cost=0.5):
    s = ImageGrid(np.zeros((1, 4, 4)), preview=preview)
    s.step, s.taken_at, s.cost = step, now - age, cost
    return s


def test_fresh_picture_names_its_step():
    text, stale, why = snapshot_freshness(snap(1200, 0.3), RunStatus(state=RunState.RUNNING, step=1210), 1000.0)
    assert text == "step 1,200" and not stale and why == ""


def test_old_picture_while_training_is_flagged_with_why():
    text, stale, why = snapshot_freshness(snap(1200, STALE_AFTER + 7, cost=1.4),
                                          RunStatus(state=RunState.RUNNING, step=3400), 1000.0)
    assert stale and text == "step 1,200 · 12 s ago · run at step 3,400"
    assert "1.40 s" in why and "Pause" in why


def test_paused_picture_of_the_current_step_says_current():
    status = RunStatus(state=RunState.PAUSED, step=50)
    assert snapshot_freshness(snap(50, 30), status, 1000.0) == ("step 50 (current)", False, "")
    assert snapshot_freshness(snap(49, 30), status, 1000.0)[0] == "step 49"   # not current, not stale


def test_preview_is_labelled():
    text, _, _ = snapshot_freshness(snap(7, 0.1, preview="preview: 50 steps"), RunStatus(state=RunState.RUNNING), 1000.0)
    assert text == "step 7 · preview: 50 steps"


@pytest.fixture
def ddpm_run(stop_runs):
    def make(dataset="ring8", **params):
        run = Run(registry_with("ddpm"), "ddpm", dataset, params={**SMALL_DDPM, **params}, threads=1,
                  dataset_options={"n": 512} if dataset == "ring8" else None)
        stop_runs(run)
        return run
    return make


def next_snapshot(run, view_id, accept=lambda s: True, timeout=30.0):
    """Ask for ``view_id`` until a snapshot that ``accept`` takes arrives (as a visible dock would)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.request(view_id)
        s = run.take(view_id)
        if s is not None and accept(s):
            return s
        time.sleep(0.05)
    raise AssertionError(f"no snapshot of {view_id} in {timeout} s")


def test_ddpm_views_preview_while_training_and_draw_in_full_when_paused(ddpm_run):
    run = ddpm_run()                      # sampler ddpm: 200 steps a picture
    run.start()
    wait_for(lambda: run.step >= 3, what="training")
    preview = next_snapshot(run, "reverse")
    assert "50-step DDIM, eta = 1" in preview.preview and "DDPM with 200 steps" in preview.preview
    assert preview.labels[0].endswith("(ddim, 50 steps)")
    assert preview.points.shape[1] == 250 and "250 of 500 points" in preview.preview   # fewer points too
    run.pause()
    time.sleep(0.3)                       # a step under way when Pause came finishes first
    step = run.step
    full = next_snapshot(run, "reverse", lambda s: not s.preview)
    assert full.step == step == run.step and full.labels[0].endswith("(ddpm, 200 steps)")
    assert full.points.shape[1] == 500


def test_sampler_compare_preview_times_ddpm_without_running_it(ddpm_run):
    run = ddpm_run(T=400)
    run.build()

    def compare(trainer, previewing):
        trainer.previewing = previewing
        t0 = time.perf_counter()
        bars = trainer.snapshot("sampler_compare")
        return bars, time.perf_counter() - t0

    run.call(lambda t: compare(t, True)).result()   # warm-up: first calls pay for allocation
    preview, t_preview = run.call(lambda t: compare(t, True)).result()
    full, t_full = run.call(lambda t: compare(t, False)).result()
    assert preview.preview and not full.preview
    assert "quality when paused" in preview.labels[0] and "modes" in full.labels[0]
    assert t_preview < t_full / 4                 # 10 + 10 network calls instead of 400 + 50
    assert 0.3 < preview.values[0] / full.values[0] < 3   # the estimate is of the right size


def test_dock_shows_the_step_of_its_picture_and_flags_an_old_one(window_with, qtbot):
    window = window_with("ddpm")
    run = window.new_run("ddpm", "ring8", params=dict(SMALL_DDPM, sampler="ddim", sample_steps=10),
                         dataset_options={"n": 512})
    rv = window.run_views[run]
    view = rv.views["samples2d"]
    run.start()
    qtbot.waitUntil(lambda: view.last_snapshot is not None and bool(view.freshness.text()), timeout=30_000)
    assert view.freshness.text().startswith(f"step {view.last_snapshot.step:,}")
    loss = rv.views["losses"]
    qtbot.waitUntil(lambda: loss.freshness.text().startswith("to step "), timeout=10_000)
    # the same picture, pretended old: the line says so (the pull loop keeps refreshing it)
    run.pause()
    qtbot.waitUntil(lambda: run.status.state == RunState.PAUSED, timeout=10_000)
    run.demand.withdraw("samples2d")
    old = view.last_snapshot
    old.taken_at -= 60
    run._update(state=RunState.RUNNING)      # as if training went on while this picture aged
    rv.show_freshness()
    assert view.stale and "60 s ago" in view.freshness.text() and "Pause" in view.freshness.toolTip()
    run._update(state=RunState.PAUSED)
