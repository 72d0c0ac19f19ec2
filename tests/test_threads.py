"""The thread rule (``visgen.core.threads``): every usable core but one, at most four, unless
the user says otherwise; a setting that cannot be used is named, not silently dropped."""
import subprocess
import sys

import pytest

from visgen.core import threads


@pytest.fixture
def cores(monkeypatch):
    """Pretend this process may use ``n`` cores, with no thread variables set."""
    monkeypatch.delenv(threads.ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return lambda n: monkeypatch.setattr(threads, "usable_cores", lambda: n)


@pytest.mark.parametrize("n, want", [(1, 1), (2, 1), (3, 2), (5, 4), (64, 4)])
def test_rule_leaves_one_core_and_caps_at_four(cores, n, want):
    cores(n)
    assert threads.default_threads() == want


def test_explicit_settings_win_visgen_first(cores, monkeypatch):
    cores(8)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.default_threads() == 2
    monkeypatch.setenv(threads.ENV, "6")
    assert threads.default_threads() == 6 and threads.thread_setting_problem() == ""


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5", ""])
def test_unusable_visgen_threads_is_named_and_ignored(cores, monkeypatch, value):
    cores(3)
    monkeypatch.setenv(threads.ENV, value)
    assert threads.default_threads() == 2
    problem = threads.thread_setting_problem()
    assert problem.startswith(f"VISGEN_THREADS={value!r} is not a whole number") and problem.endswith("using 2")


def test_cli_warns_once_about_an_unusable_setting():
    import os

    env = {**os.environ, threads.ENV: "lots"}
    proc = subprocess.run([sys.executable, "-m", "visgen.cli.main", "list", "--json"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert proc.returncode == 0
    assert proc.stderr.count("visgen: warning: VISGEN_THREADS='lots'") == 1, proc.stderr


def test_worker_trains_with_the_runs_thread_count(stop_runs):
    """The suite runs torch with one thread, so 2 inside the worker can only come from the run."""
    import torch

    from visgen.core.run import Run

    run = Run(_toy_registry(), "toy-threads", threads=2)
    stop_runs(run)
    run.use_worker()
    try:
        assert run.call(lambda trainer: torch.get_num_threads()).result(timeout=30) == 2
    finally:
        torch.set_num_threads(1)  # torch's count is process-wide: give the suite its one thread back


def _toy_registry():
    import numpy as np

    import visgen
    from visgen import ModelSpec, hookimpl
    from visgen.composition import default_registry

    class Toy(visgen.Trainer):
        def step(self, phase=None):
            return {}

        def sample(self, n):
            return np.zeros((n, 2), np.float32)

    class Plugin:
        @hookimpl
        def visgen_register_models(self):
            return [ModelSpec(id="toy-threads", family="Toy", title="t", summary="s", trainer=Toy,
                              data_kinds=("points",), default_dataset="moons")]

    reg = default_registry(autoload=False)
    assert reg.register(Plugin(), "toy-threads").ok
    return reg
