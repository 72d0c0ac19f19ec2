"""A view that raises, or hands back a snapshot its kind cannot draw, is shown once in
its own dock and once as a warning line of ``visgen train``; training goes on and
nothing is repeated on stderr. The plugin is a real package with an entry point."""
import json

import numpy as np
from plugin_dists import fake_dist, load, run_cli  # noqa: F401  (fixture)

import visgen
from visgen import ModelSpec, ViewDecl, hookimpl
from visgen.core.status import RunState

WAIT = 30000

ODD = '''
import numpy as np
import visgen
from visgen import Bars, ModelSpec, PointSet, Scatter, ViewDecl, hookimpl

CALLS = {{}}

class OddViews(visgen.Trainer):
    def step(self, phase=None):
        return {{"loss": 1.0}}

    def sample(self, n):
        return np.zeros((n, 2), np.float32)

    def view_wrong(self):
        CALLS["wrong"] = CALLS.get("wrong", 0) + 1
        return Bars(["a"], np.ones(1))            # a scatter view cannot draw Bars

    def view_raises(self):
        CALLS["raises"] = CALLS.get("raises", 0) + 1
        raise ValueError("no latent space yet")

    def view_fine(self):
        return Scatter([PointSet("p", np.zeros((3, 2)))])

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="odd", family="Toy", title="Odd views", summary="s", trainer="{module}:OddViews",
                      views=[ViewDecl("loss", "lines", "Loss", scalars=("loss",)),
                             ViewDecl("wrong", "scatter", "Wrong type"),
                             ViewDecl("raises", "scatter", "Raises"),
                             ViewDecl("fine", "scatter", "Fine")],
                      data_kinds=("points",), default_dataset="moons")]
'''


def test_view_problems_show_once_in_their_docks(qtbot, make_window, fake_dist, capfd):
    import sys

    from visgen.composition import default_registry

    module = fake_dist.add("odd", "odd", ODD)
    load(fake_dist)                                # writes the dist-info; the window's registry finds it
    window = make_window(default_registry())
    assert "odd" in window.registry.models
    run = window.new_run("odd")
    calls = sys.modules[module].CALLS
    views = window.run_views[run].views
    run.start()
    qtbot.waitUntil(lambda: views["wrong"].problem.isVisible() and views["raises"].problem.isVisible(),
                    timeout=WAIT)
    wrong, raises = views["wrong"].problem.text(), views["raises"].problem.text()
    assert "odd" in wrong and "'wrong'" in wrong and "Bars" in wrong and "Scatter" in wrong
    assert "'raises'" in raises and "ValueError: no latent space yet" in raises
    assert not views["fine"].problem.isVisible()
    qtbot.waitUntil(lambda: views["fine"].last_snapshot is not None, timeout=WAIT)
    step = run.step
    qtbot.wait(1500)                              # many pulls later...
    assert run.state == RunState.RUNNING and run.step > step   # ...training went on
    assert calls == {"wrong": 1, "raises": 1}                  # ...and the broken views were not retried
    assert set(run.view_problems()) == {"wrong", "raises"}
    err = capfd.readouterr().err
    assert "Traceback" not in err and "no latent space yet" not in err
    window.close()


def test_train_warns_once_per_broken_view_and_records_it(fake_dist, tmp_path):
    fake_dist.add("odd", "odd", ODD)
    out = tmp_path / "run"
    proc = run_cli(fake_dist, "train", "odd", "--steps", "20", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("visgen: warning:")]
    assert len(warnings) == 2, proc.stderr
    wrong = next(w for w in warnings if "'wrong'" in w)
    raises = next(w for w in warnings if "'raises'" in w)
    assert "odd" in wrong and "returned Bars" in wrong and "Scatter" in wrong
    assert "ValueError: no latent space yet" in raises
    assert "Traceback" not in proc.stderr
    views = json.loads((out / "summary.json").read_text())["views"]
    assert set(views["checked"]) == {"wrong", "raises", "fine"}   # lines fed by scalars are not taken
    assert views["checked"]["fine"]["type"] == "Scatter" and views["checked"]["raises"]["type"] is None
    assert set(views["problems"]) == {"wrong", "raises"} and views["unchecked"] == []


class OddViews(visgen.Trainer):
    calls = {}

    def step(self, phase=None):
        return {"loss": 1.0}

    def sample(self, n):
        return np.zeros((n, 2), np.float32)

    def view_raises(self):
        self.calls["raises"] = self.calls.get("raises", 0) + 1
        raise ValueError("no latent space yet")


def test_live_parameter_change_retries_a_broken_view(registry, stop_runs):
    from conftest import wait_for

    from visgen import Param
    from visgen.core.run import Run

    class Retry(OddViews):
        pass

    class P:
        @hookimpl
        def visgen_register_models(self):
            return [ModelSpec(id="odd-live", family="Toy", title="t", summary="s", trainer=Retry,
                              params=[Param("lr", 0.1, live=True)],
                              views=[ViewDecl("raises", "scatter", "Raises")],
                              data_kinds=("points",), default_dataset="moons")]

    assert registry.register(P(), "odd-live").ok
    run = Run(registry, "odd-live", threads=1)
    stop_runs(run)
    OddViews.calls = {}
    run.step_once()
    run.request("raises")
    wait_for(lambda: "raises" in run.view_problems(), what="the problem to be recorded")
    assert OddViews.calls["raises"] == 1
    run.set_param("lr", 0.2)
    run.step_once()
    run.request("raises")
    wait_for(lambda: OddViews.calls.get("raises") == 2, what="the view to be tried again")
