"""The command line, run as a user runs it: ``python -m visgen.cli.main ...`` in a subprocess."""
import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

RUN_FILES = ("config.json", "metrics.csv", "checkpoint.pt", "samples.png", "summary.json")


def _env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("VISGEN_DISABLE_PLUGIN_AUTOLOAD", "VISGEN_BLOCK_PLUGINS")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def visgen(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "visgen.cli.main", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=_env())


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "digits-run"
    proc = visgen("train", "vae", "--dataset", "digits", "--steps", 300, "--out", out)
    return proc, out


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ring-run"
    proc = visgen("train", "vae", "--dataset", "ring8", "--steps", 40, "--set", "hidden=32", "--out", out)
    return proc, out


def _png(path):
    from PIL import Image
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("L"), dtype=np.float64)


# -- train ---------------------------------------------------------------------------
def test_train_writes_a_run_folder(digits_run):
    proc, out = digits_run
    assert proc.returncode == 0, proc.stderr
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp"))
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "vae" and config["dataset"] == "digits" and config["steps"] == 300
    assert config["params"]["beta"] == 1.0 and config["params"]["arch"] == "mlp"
    assert "300 steps" in proc.stderr


def test_train_metrics_show_the_loss_falling(digits_run):
    proc, out = digits_run
    assert proc.returncode == 0, proc.stderr
    with open(out / "metrics.csv", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    assert header[:2] == ["step", "wall_time"]
    assert {"neg_elbo", "recon", "kl"} <= set(header[2:])
    assert len(rows) == 300
    # sparse columns (metrics measured every few hundred steps) are empty in between
    col = {name: np.array([float(r[i]) if r[i] else np.nan for r in rows]) for i, name in enumerate(header)}
    assert not {"train_bits_per_dim", "heldout_bits_per_dim"} & set(header)   # a Bernoulli VAE has none
    assert col["step"].tolist() == list(range(1, 301))
    assert (np.diff(col["wall_time"]) >= 0).all()
    loss = col["neg_elbo"]
    assert np.isfinite(loss).all()
    first, last = loss[:20].mean(), loss[-20:].mean()
    # measured: about 34.7 -> 25.6 nats
    assert last < 0.85 * first, (first, last)
    assert np.allclose(col["recon"] + col["kl"], loss, rtol=1e-3, atol=1e-3)


def test_train_samples_png_and_summary(digits_run):
    proc, out = digits_run
    assert proc.returncode == 0, proc.stderr
    img = _png(out / "samples.png")
    assert img.shape[0] >= 64 and img.shape[1] >= 64
    assert img.std() > 20, "samples.png looks blank"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sample_seconds_per_sample"] > 0
    assert summary["steps"] == 300 and summary["status"] == "finished" and summary["error"] is None
    assert 0 < summary["final"]["neg_elbo"] < 40
    assert summary["train_neg_elbo_nats"] > 0
    # the default Bernoulli decoder on grey pixels has no density: no number, and why
    assert summary["likelihood"] is None and "Bernoulli" in summary["why"]


# -- sample ----------------------------------------------------------------------------
def test_sample_png(digits_run, tmp_path):
    _, run_dir = digits_run
    target = tmp_path / "x.png"
    proc = visgen("sample", run_dir, "--n", 16, "--out", target)
    assert proc.returncode == 0, proc.stderr
    assert "per sample" in proc.stdout and "sampled 16" in proc.stdout
    img = _png(target)
    assert img.std() > 20


def test_sample_csv_of_points(ring_run, tmp_path):
    proc, run_dir = ring_run
    assert proc.returncode == 0, proc.stderr
    assert _png(run_dir / "samples.png").std() > 5
    target = tmp_path / "x.csv"
    proc = visgen("sample", run_dir, "--out", target)
    assert proc.returncode == 0, proc.stderr
    assert "per sample" in proc.stdout
    lines = target.read_text().strip().splitlines()
    assert lines[0] == "x,y"
    data = np.loadtxt(lines[1:], delimiter=",")
    assert data.shape == (64, 2) and np.isfinite(data).all()


# -- user mistakes: exit 2, one line on stderr -----------------------------------------------------
def _bad_csv(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y\n1.0,2.0\n3.0,oops\n")
    return path


ERRORS = {
    # name: (args, strings the one line must contain)
    "unknown model": (["train", "gann", "--dataset", "digits", "--out", "{tmp}/o"],
                      ["unknown model 'gann'", "valid:", "vae"]),
    "unknown dataset": (["train", "vae", "--dataset", "ring9", "--out", "{tmp}/o"],
                        ["unknown dataset 'ring9'", "ring8", "digits", "csv", "image-folder"]),
    "unknown parameter": (["train", "vae", "--dataset", "digits", "--set", "betta=2", "--out", "{tmp}/o"],
                          ["unknown parameter 'betta'", "beta", "latent_dim", "lr"]),
    "bad value": (["train", "vae", "--dataset", "digits", "--set", "beta=-1", "--out", "{tmp}/o"],
                  ["beta", "[0, 20]"]),
    "bad int": (["train", "vae", "--dataset", "digits", "--set", "latent_dim=2.5", "--out", "{tmp}/o"],
                ["latent_dim", "integer"]),
    "no key=value": (["train", "vae", "--dataset", "digits", "--set", "beta", "--out", "{tmp}/o"],
                     ["key=value"]),
    "zero steps": (["train", "vae", "--dataset", "digits", "--steps", "0", "--out", "{tmp}/o"],
                   ["--steps"]),
    "unknown option": (["train", "vae", "--bogus", "--out", "{tmp}/o"], ["--bogus"]),
    "bad int option": (["train", "vae", "--steps", "many", "--out", "{tmp}/o"], ["--steps", "'many'"]),
    "missing --out": (["train", "vae"], ["--out"]),
    "sample without args": (["sample"], ["run_dir"]),
    "bad csv": (["train", "vae", "--dataset", "csv", "--data-path", "{tmp}/bad.csv", "--out", "{tmp}/o"],
                ["bad.csv", "line 3", "oops"]),
    "missing csv": (["train", "vae", "--dataset", "csv", "--data-path", "{tmp}/none.csv", "--out", "{tmp}/o"],
                    ["none.csv"]),
    "sample no config": (["sample", "{tmp}", "--out", "{tmp}/x.png"], ["config.json"]),
    "sample n": (["sample", "{tmp}", "--n", "0", "--out", "{tmp}/x.png"], ["--n"]),
}


@pytest.fixture(scope="module")
def error_results(tmp_path_factory):
    """Run every mistake once, two at a time (each is a fresh Python)."""
    tmp = tmp_path_factory.mktemp("errors")
    _bad_csv(tmp)
    jobs = {name: [a.format(tmp=tmp) for a in args] for name, (args, _) in ERRORS.items()}
    with ThreadPoolExecutor(2) as pool:
        futs = {name: pool.submit(visgen, *args) for name, args in jobs.items()}
        results = {name: f.result() for name, f in futs.items()}
    return tmp, results


@pytest.mark.parametrize("case", list(ERRORS))
def test_user_mistakes_exit_2_with_one_line(error_results, case):
    tmp, results = error_results
    proc = results[case]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "error" in lines[0]
    assert "Traceback" not in proc.stderr
    for needle in ERRORS[case][1]:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp / "o" / "config.json").exists()   # nothing written for a refused run


def test_sample_refuses_structural_change(digits_run, tmp_path):
    _, run_dir = digits_run
    proc = visgen("sample", run_dir, "--set", "latent_dim=8", "--out", tmp_path / "y.png")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "latent_dim" in lines[0] and "live" in lines[0]
    assert not (tmp_path / "y.png").exists()


def test_list_json_runs(tmp_path):
    proc = visgen("list", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert "vae" in {m["id"] for m in info["models"]}


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`visgen list --json | head -3`: the pipe closes under visgen; it ends quietly (141)."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "visgen", "list", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "Error" not in err, err
