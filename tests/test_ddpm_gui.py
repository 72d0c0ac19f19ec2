"""The diffusion model in the window: forward and reverse frames, schedule, samples."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")


@pytest.fixture
def window(window_with):
    return window_with("ddpm")


def test_ddpm_on_digits_shows_forward_reverse_and_schedule(window, qtbot):
    run = window.new_run("ddpm", "digits", settings=["T=60", "sampler=ddim", "sample_steps=10"])
    views = window.run_views[run].views
    assert {"forward", "forward_strip", "reverse", "schedule", "samples", "loss_by_t"} <= set(views)
    run.start()
    qtbot.waitUntil(lambda: all(views[v].last_snapshot is not None
                                for v in ("forward", "forward_strip", "reverse", "schedule", "samples")), timeout=60_000)
    run.pause()
    fwd = views["forward"]
    assert len(fwd.last_snapshot) == 60 and fwd.index == 0        # every t, starting from clean data
    fwd.slider.setValue(59)
    assert np.array_equal(fwd.current_frame(), fwd.last_snapshot.images[59])
    rev = views["reverse"].last_snapshot
    assert rev.labels[0].startswith("t = 60 ") and rev.labels[-1].startswith("t = 0 ")
    assert rev.labels[0].endswith("(ddim, 10 steps)")
    # the sampler's timestep list, both ends included, is shown with the samples
    assert views["samples"].last_snapshot.title.startswith("ddim, 10 steps: t = 59, ")
    assert views["samples"].last_snapshot.title.endswith(", 0")
    assert views["reverse"].index == len(rev) - 1                 # the finished sample first
    sched = views["schedule"].last_snapshot
    assert set(sched.ys) == {"beta_t", "alpha_bar_t", "SNR_t"} and len(sched.x) == 60


def test_scrubbing_the_forward_process_moves_the_noise_field(window, qtbot):
    run = window.new_run("ddpm", "ring8", settings=["T=50", "sampler=ddim", "sample_steps=5"],
                         dataset_options={"n": 2000})
    views = window.run_views[run].views
    run.step_once()
    qtbot.waitUntil(lambda: views["forward"].last_snapshot is not None
                    and views["field"].last_snapshot is not None, timeout=30_000)
    fwd = views["forward"]
    assert list(fwd.last_snapshot.values) == list(range(50))
    fwd.slider.setValue(37)                                   # the learner scrubs to t = 37
    assert run.params.values["field_t"] == 37
    # paused, the field is redrawn for the new t without another training step
    qtbot.waitUntil(lambda: views["field"].last_snapshot.value_label == "|eps| at t = 37", timeout=30_000)
    assert run.step == 1
    qtbot.waitUntil(lambda: window.panel.param_form.editors["field_t"].text() == "37", timeout=5_000)
