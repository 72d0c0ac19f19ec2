"""The likelihood curve the runtime draws for every model that has one: bits per dimension on
the same training and held-out examples every few hundred steps; GANs say they have none."""
from __future__ import annotations

import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from conftest import registry_with

from visgen.core.likelihood import mean_nll
from visgen.core.live_metrics import EVERY, LIKELIHOOD_NAMES
from visgen.core.run import Run


def test_a_flow_on_moons_draws_train_and_heldout_bits_per_dim_that_fall():
    run = Run(registry_with("flow"), "realnvp", "moons", params={"layers": 4, "hidden": 32})
    run.train(4 * EVERY)
    s = run.scalars.series(LIKELIHOOD_NAMES)
    for name in LIKELIHOOD_NAMES:
        steps, bits = s[name]
        assert list(steps) == [EVERY, 2 * EVERY, 3 * EVERY, 4 * EVERY], name   # cheap: every EVERY steps
        # measured: 1.61 -> 1.30 (train), 1.61 -> 1.31 (held-out) with 8 layers of 64
        assert bits[-1] < bits[0] - 0.1 and np.isfinite(bits).all(), (name, bits)
    assert "likelihood" in {v.id for v in run.views}


def test_the_live_curve_of_ddpm_is_a_cheap_estimate_of_the_same_bound():
    run = Run(registry_with("ddpm"), "ddpm", "moons", params={"hidden": 64})
    run.train(300)
    x = run.heldout.x[:256]
    was = run.trainer.previewing
    live, _, _ = mean_nll(run.trainer, x, preview=True)
    full, _, _ = mean_nll(run.trainer, x)
    # measured after 1,000 steps: 4.23 (live, 23 log-spaced strata) against 4.16 nats (all 999 terms)
    assert math.isfinite(live) and abs(live - full) < 0.3, (live, full)
    assert run.trainer.previewing is was          # the estimate was asked for only while measuring


def test_a_bernoulli_vae_and_a_gan_say_why_they_draw_no_curve():
    for plugin, model, data, why in (("vae", "vae", "digits", "Bernoulli"), ("gan", "gan", "ring8", "implicit")):
        run = Run(registry_with(plugin), model, data)
        run.train(EVERY + 1)
        said = run.take("likelihood")
        assert said is not None and why in said.message, (model, said)
        assert not set(LIKELIHOOD_NAMES) & set(run.scalars.names)     # no invented number


def test_the_window_shows_the_curve_and_the_reason(window_with, qtbot):
    window = window_with("flow", "gan")
    gan = window.new_run("gan", "ring8")
    reason = window.run_views[gan].views["likelihood"]
    gan.step_once()
    qtbot.waitUntil(lambda: "implicit" in reason.problem.text(), timeout=20_000)
    assert "d62728" not in reason.problem.styleSheet()    # a fact about the model, not an error in red
    flow = window.new_run("realnvp", "moons", settings=["layers=2", "hidden=16"])
    window.run_views[flow].docks["likelihood"].raise_()
    curve = window.run_views[flow].views["likelihood"]
    flow.start()
    qtbot.waitUntil(lambda: flow.step >= 2 * EVERY + 5, timeout=60_000)
    flow.pause()
    qtbot.waitUntil(lambda: all(n in curve.curves and len(curve.curves[n].getData()[0]) >= 2
                                for n in LIKELIHOOD_NAMES), timeout=10_000)
    x, y = curve.curves["heldout_bits_per_dim"].getData()
    assert list(x[:2]) == [EVERY, 2 * EVERY] and np.isfinite(y).all()
