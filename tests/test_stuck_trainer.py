"""A trainer that never comes back from step() must not hold the window or the process.

In the window: Stop and Close return at once, the run reads "not responding".
As a program: ``visgen --run ... --quit-after`` with such a trainer exits 0 on time.
"""
import threading
import time

from conftest import wait_for
from plugin_dists import clean_env, fake_dist  # noqa: F401  (fixture)

import visgen
from visgen import ModelSpec, ViewDecl, hookimpl
from visgen.core.status import RunState

RELEASE = threading.Event()   # set at the end of the in-process test, so no thread outlives it
ENTERED = threading.Event()


class StuckTrainer(visgen.Trainer):
    def step(self, phase=None):
        ENTERED.set()
        RELEASE.wait()            # "never" returns: until the test lets it go
        return {"loss": 1.0}


class StuckPlugin:
    @hookimpl
    def visgen_register_models(self):
        return [ModelSpec(id="stuck", family="Toy", title="Stuck", summary="never returns",
                          trainer=StuckTrainer, views=[ViewDecl("loss", "lines", "Loss", scalars=("loss",))],
                          data_kinds=("points",), default_dataset="moons")]


def test_stop_and_close_do_not_wait_for_a_stuck_trainer(qtbot, make_window, registry, monkeypatch):
    from visgen.core.run import Run
    monkeypatch.setattr(Run, "NOT_RESPONDING_AFTER", 1.0)
    assert registry.register(StuckPlugin(), "stuck").ok
    window = make_window(registry)
    run = window.new_run("stuck")
    ENTERED.clear()
    RELEASE.clear()
    try:
        run.start()
        assert ENTERED.wait(30), "the trainer never entered step()"
        panel = window.panel
        t0 = time.perf_counter()
        panel.stop_button.click()
        assert time.perf_counter() - t0 < 0.5, "Stop waited on the worker"
        t0 = time.perf_counter()
        panel.reset_button.click()
        assert time.perf_counter() - t0 < 0.5, "Reset waited on the worker"
        qtbot.waitUntil(lambda: not run.status.responding, timeout=5000)
        st = run.status
        assert st.busy == "step" and st.busy_for > 1.0
        qtbot.waitUntil(lambda: "not responding" in panel.status.text(), timeout=5000)
        assert "not responding" in window.speed_label.text()
        t0 = time.perf_counter()
        window.close()
        assert time.perf_counter() - t0 < 3.0, "Close waited on the worker"
        assert run.alive   # still stuck: left behind, the process exit does not wait for it
    finally:
        RELEASE.set()
    wait_for(lambda: not run.alive, timeout=10, what="the released worker to end")
    assert run.state == RunState.IDLE  # the reset that was asked for happened once the worker let go


STUCK_FOREVER = '''
import time
import numpy as np
from visgen import ModelSpec, ViewDecl, Trainer, hookimpl

class Forever(Trainer):
    def step(self, phase=None):
        while True:                 # a plugin bug: this never returns
            time.sleep(0.05)

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Forever", summary="s", trainer="{module}:Forever",
                      views=[ViewDecl("loss", "lines", "Loss", scalars=("loss",))],
                      data_kinds=("points",), default_dataset="moons")]
'''


def test_the_program_quits_with_status_0_while_a_trainer_is_stuck(fake_dist, tmp_path):
    import os
    import subprocess
    import sys

    fake_dist.add("forever", "forever", STUCK_FOREVER, model="forever")
    fake_dist.write()
    (tmp_path / "home").mkdir()
    env = clean_env(PYTHONPATH=os.pathsep.join([str(fake_dist.root), os.environ.get("PYTHONPATH", "")]),
                    QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"),
                    XDG_CONFIG_HOME=str(tmp_path / "config"))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "visgen.cli.main", "--run", "forever:moons", "--quit-after", "4"],
                          env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert "Fatal" not in proc.stderr and "terminate called" not in proc.stderr
    # start-up (imports, torch) takes a few seconds; the quit itself must take under 3
    assert "quit" in proc.stderr and "still inside" in proc.stderr, proc.stderr
    quit_line = [line for line in proc.stderr.splitlines() if "still inside" in line][0]
    assert "forever" in quit_line
    assert elapsed < 40
