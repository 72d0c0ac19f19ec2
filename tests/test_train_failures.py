"""``visgen train`` keeps what was trained when the model fails, diverges or is interrupted,
and says so in one line with a documented exit status. Plugins are real packages
with entry points (``plugin_dists.FakeDist``), run in a subprocess as a user would."""
import csv
import json
import signal
import subprocess
import sys
import time

import pytest
from plugin_dists import clean_env, fake_dist, run_cli  # noqa: F401  (fixture)

from visgen.core.checkpoint import read_checkpoint

PLUGIN = '''
import math, os, time
import numpy as np
import torch
from visgen import ModelSpec, Param, ViewDecl, Trainer, hookimpl

class Toy(Trainer):
    """One linear layer pulled towards the data mean; misbehaves on request."""
    def __init__(self, ctx):
        super().__init__(ctx)
        self.lin = torch.nn.Linear(2, 2)
        self.opt = torch.optim.SGD(self.lin.parameters(), lr=0.01)
    def step(self, phase=None):
        n = self.step_count + 1                      # the step being taken
        mode = self.params["mode"]
        if mode == "raise" and n == 301:
            raise RuntimeError("toy blew up on purpose")
        if mode == "slow":
            time.sleep(0.01)
        loss = self.lin(torch.ones(4, 2)).pow(2).mean()
        self.opt.zero_grad(); loss.backward(); self.opt.step()
        value = math.nan if (mode == "nan" and n == 40) else loss.item()
        return {{"loss": value}}
    def sample(self, n):
        return np.zeros((n, 2), np.float32)
    {extra}

@hookimpl
def visgen_register_models():
    return [ModelSpec(id="{model}", family="Toy", title="Toy", summary="t", trainer="{module}:Toy",
                      params=[Param("mode", "ok", type="choice", choices=("ok", "raise", "nan", "slow"))],
                      views=[ViewDecl("loss", "lines", "Loss", scalars=("loss",)), {views}],
                      data_kinds=("points",), default_dataset="moons")]
'''


def add_toy(dist, model="toy-fail", extra="", views=""):
    return dist.add(model, model.replace("-", "_"), PLUGIN, model=model, extra=extra, views=views)


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_exception_at_step_301_keeps_300_steps_and_exits_1(fake_dist, tmp_path):
    mod = add_toy(fake_dist)
    out = tmp_path / "run"
    proc = run_cli(fake_dist, "train", "toy-fail", "--steps", "1000", "--set", "mode=raise", "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("visgen: error")]
    assert len(errors) == 1, proc.stderr
    line = errors[0]
    assert "toy-fail" in line and mod in line and "step 301" in line and "toy blew up on purpose" in line
    assert "Traceback" not in proc.stderr and "--traceback" in line
    assert json.loads((out / "config.json").read_text())["model"] == "toy-fail"
    table = rows(out / "metrics.csv")
    assert len(table) == 300 and table[-1]["step"] == "300"
    blob = read_checkpoint(out / "checkpoint.pt")
    assert blob["step"] == 300 and blob["model"] == "toy-fail"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["steps"] == 300 and "toy blew up" in summary["error"]
    # and the checkpoint loads into a fresh run of the same model
    proc = run_cli(fake_dist, "sample", str(out), "--n", "5", "--out", str(tmp_path / "s.csv"))
    assert proc.returncode == 0, proc.stderr


def test_traceback_flag_prints_it_whole(fake_dist, tmp_path):
    add_toy(fake_dist)
    proc = run_cli(fake_dist, "train", "toy-fail", "--steps", "400", "--set", "mode=raise",
                   "--out", str(tmp_path / "r"), "--traceback")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "in step" in proc.stderr


def test_divergence_exits_3_and_keeps_the_run(fake_dist, tmp_path):
    add_toy(fake_dist)
    out = tmp_path / "run"
    proc = run_cli(fake_dist, "train", "toy-fail", "--steps", "200", "--set", "mode=nan", "--out", str(out))
    assert proc.returncode == 3, proc.stderr
    assert "diverged" in proc.stderr and "loss became nan at step 40" in proc.stderr
    assert len(rows(out / "metrics.csv")) == 40
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 40
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["diverged"] == "loss became nan at step 40"


def test_ctrl_c_saves_and_exits_130(fake_dist, tmp_path):
    add_toy(fake_dist)
    fake_dist.write()
    out = tmp_path / "run"
    import os
    env = clean_env(PYTHONPATH=os.pathsep.join([str(fake_dist.root), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "visgen.cli.main", "train", "toy-fail", "--steps", "100000",
                             "--set", "mode=slow", "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # While it trains, the run is staged beside its folder (see test_run_folders)
    while not (staged := list(tmp_path.glob(".run.partial-*/metrics.csv"))) or len(rows(staged[0])) < 20:
        assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    n = summary["steps"]
    assert summary["status"] == "interrupted" and n >= 20
    assert read_checkpoint(out / "checkpoint.pt")["step"] == n
    assert len(rows(out / "metrics.csv")) == n


def test_view_without_its_method_is_refused_when_the_run_is_built(fake_dist, tmp_path):
    add_toy(fake_dist, "toy-noview", views='ViewDecl("grid", "scatter", "Grid")')
    out = tmp_path / "run"
    proc = run_cli(fake_dist, "train", "toy-noview", "--steps", "5", "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "toy-noview" in proc.stderr and "'grid'" in proc.stderr and "view_grid()" in proc.stderr
    assert not out.exists()  # refused before any file is written


def test_finished_summary_has_one_value_per_metric(fake_dist, tmp_path):
    """Mode coverage is measured by the runtime for any model that samples (this toy too),
    written once to summary.json with the number of samples it used."""
    add_toy(fake_dist, "toy-ring")
    out = tmp_path / "run"
    proc = run_cli(fake_dist, "train", "toy-ring", "--dataset", "ring8", "--steps", "600", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert "modes_covered" not in summary["final"] and "high_quality" not in summary["final"]
    assert summary["modes_covered"] == 0  # samples at the origin are near no mode of the ring
    assert summary["evaluation"]["samples_per_metric"]["modes_covered"] == 2500
    assert "evaluating" in proc.stderr
    measured = [r for r in rows(out / "metrics.csv") if r["modes_covered"] != ""]
    assert [int(r["step"]) for r in measured][:1] == [250]


def test_kill_while_checking_views_keeps_a_complete_summary(fake_dist, tmp_path):
    """The view check comes after training and evaluation, once the run is in its folder; a kill -9
    there loses only the check."""
    add_toy(fake_dist, "toy-slowview", views='ViewDecl("grid", "scatter", "Grid")',
            extra="def view_grid(self):\n        time.sleep(60)")
    fake_dist.write()
    out = tmp_path / "run"
    import os
    env = clean_env(PYTHONPATH=os.pathsep.join([str(fake_dist.root), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "visgen.cli.main", "train", "toy-slowview", "--steps", "30",
                             "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / "summary.json").exists():
        assert time.monotonic() < deadline and proc.poll() is None, "no summary before the view check"
        time.sleep(0.1)
    time.sleep(0.5)                                   # inside view_grid's sleep now
    proc.kill()
    proc.communicate(timeout=30)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 30 and "views" not in summary
    assert read_checkpoint(out / "checkpoint.pt")["step"] == 30
    assert not list(out.glob("*.tmp"))
