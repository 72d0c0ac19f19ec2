"""``visgen eval``, run as a user runs it: one row per saved run, held-out real data first for
scale, runs on different data refused in one line."""
import csv
import json

import pytest
from test_cli import visgen


@pytest.fixture(scope="module")
def ring_runs(tmp_path_factory):
    """Two VAE seeds and a GAN on ring8, a few hundred steps each (about 15 s together)."""
    root = tmp_path_factory.mktemp("eval")
    runs = []
    for name, model, seed in (("vae-s0", "vae", 0), ("vae-s1", "vae", 1), ("gan-s0", "gan", 0)):
        out = root / name
        proc = visgen("train", model, "--dataset", "ring8", "--steps", 300, "--seed", seed,
                      "--set", "hidden=32", "--out", out)
        assert proc.returncode == 0, proc.stderr
        runs.append(out)
    return runs


def test_eval_prints_one_row_per_run_after_the_real_data(ring_runs, tmp_path):
    table_csv = tmp_path / "table.csv"
    proc = visgen("eval", *ring_runs, "--n", 1000, "--json", "--csv", table_csv, "--seeds", timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "energy", "Frechet"]
    assert lines[2].startswith("held-out real data")
    for run in ring_runs:                                         # one row each, in the order given
        assert sum(line.startswith(f"{run.name} (") for line in lines) == 1
    assert any(line.startswith("vae: mean of 2 runs") for line in lines)   # --seeds
    rows = json.loads(proc.stdout[proc.stdout.index("["):])
    assert [r["run"] for r in rows[:3]] == [str(r) for r in ring_runs]
    vae = rows[0]
    for key in ("energy_distance", "frechet_distance", "precision", "recall", "modes_covered",
                "sample_time_ms", "likelihood", "bits_per_dim", "loss_spread"):
        assert key in vae, key
    assert vae["likelihood"] == "bound" and rows[2]["likelihood"] == "none"  # the GAN has none
    assert 0 <= vae["modes_covered"] <= 8 and vae["sample_time_ms"] > 0
    assert 0 < vae["seconds_to_final"] <= vae["train_seconds"] + 1
    assert rows[3]["runs"] == 2 and "energy_distance_std" in rows[3]
    # the real data scores what real data should: about no distance, every mode
    with open(table_csv, newline="") as f:
        table = list(csv.DictReader(f))
    real = table[0]
    assert real["run"] == "held-out real data" and float(real["modes_covered"]) == 8
    assert abs(float(real["energy_distance"])) < 0.05
    assert len(table) == 1 + 3 + 1


def test_eval_refuses_runs_on_different_data(ring_runs, tmp_path):
    other = tmp_path / "moons"
    assert visgen("train", "vae", "--dataset", "moons", "--steps", 5, "--out", other).returncode == 0
    proc = visgen("eval", ring_runs[0], other)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "different data" in err and "ring8" in err and "moons" in err


def test_eval_names_a_folder_that_is_no_run(tmp_path):
    proc = visgen("eval", tmp_path)
    assert proc.returncode == 2 and "not a visgen run folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, text, says", [
    ("summary.json", "{not json", "not valid JSON"),
    ("summary.json", "[1, 2]", "not a JSON object"),
    ("metrics.csv", "step,wall_time,loss\n1,0.1,abc\n", "not a table of numbers"),
    ("metrics.csv", "step,wall_time,loss\n1,0.1\n", "header of 3"),
])
def test_eval_names_a_hostile_run_file(ring_runs, tmp_path, name, text, says):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(ring_runs[0], run)
    (run / name).write_text(text)
    proc = visgen("eval", run)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and str(run / name) in err[0] and says in err[0], err   # before any sampling


def test_seconds_to_final_is_when_the_curve_settled():
    import numpy as np

    from visgen.metrics.run_report import seconds_to_final

    t = np.linspace(0, 100, 1001)
    loss = 10 * np.exp(-t / 10) + 1             # within 5 % of the way down after about 30 s
    got = seconds_to_final({"step": t, "wall_time": t, "loss": loss})
    assert 27 < got < 33, got
    modes = np.full_like(t, np.nan)
    modes[::100] = [1, 3, 8, 6, 8, 8, 8, 8, 8, 8, 8]   # first at 8 at t = 20 (then hops)
    assert seconds_to_final({"wall_time": t, "loss": loss, "modes_covered": modes}) == 20
    assert np.isnan(seconds_to_final({}))


def test_budget_bounds_the_sampling_time(ring_runs):
    """--budget: seconds of sampling per run; at least one chunk (500 points) is always drawn."""
    proc = visgen("eval", ring_runs[0], "--n", 20_000, "--budget", "1e-6", "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    row, = json.loads(proc.stdout[proc.stdout.index("["):])
    assert row["samples"] == 500


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf", "soon", "1e9"])
def test_budget_not_a_time_is_refused(ring_runs, seconds):
    proc = visgen("eval", ring_runs[0], "--budget", seconds)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "--budget" in err and seconds in err


def test_quality_spread_is_the_spread_of_the_late_quality_measurements():
    import numpy as np

    from visgen.metrics.run_report import quality_spread

    hq = np.full(1000, np.nan)
    hq[::50] = np.r_[np.linspace(0, 0.8, 15), [0.8, 0.9, 0.7, 0.8, 0.8]]  # 20 measurements, the last 4 settle
    assert quality_spread({"high_quality": hq}) == pytest.approx(np.std([0.9, 0.7, 0.8, 0.8]))
    bpd = np.array([5.0, 4.0, 3.0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5])
    assert quality_spread({"heldout_bits_per_dim": bpd}) == 0  # the mixtures' measure is preferred, this is next
    assert np.isnan(quality_spread({"loss": np.ones(100)}))    # nothing measured: no number, not 0
