"""Run folders are transactions: whatever stops ``visgen train --out DIR`` (a kill -9 at any
moment, SIGTERM, Ctrl-C, a full disk), DIR holds the complete earlier run or a complete new
one, never a mix; an earlier run is replaced only with --overwrite."""
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visgen.cli.main import main
from visgen.core.checkpoint import read_checkpoint

TRAIN = ["train", "vae", "--dataset", "digits", "--set", "hidden=32", "--set", "batch_size=32"]


def env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}


def popen(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "visgen", *map(str, args)], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def fingerprint(folder: Path) -> dict:
    """Name -> sha256 of every file under ``folder`` (what 'unchanged' means)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_consistent(folder: Path) -> dict:
    """One run's files, all of them: same run_id, checkpoint and metrics at the summary's step."""
    config = json.loads((folder / "config.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    assert config["run_id"] == summary["run_id"]
    assert read_checkpoint(folder / "checkpoint.pt")["step"] == summary["steps"]
    rows = (folder / "metrics.csv").read_text().splitlines()
    last = int(rows[-1].split(",")[0]) if len(rows) > 1 else 0
    assert last == summary["steps"], f"metrics.csv ends at step {last}, the summary says {summary['steps']}"
    if summary["status"] == "finished":
        assert (folder / "samples.png").is_file()
    assert not list(folder.glob("*.tmp"))
    return summary


def leftovers(out: Path) -> list:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished 30-step run, made once; tests copy it."""
    out = tmp_path_factory.mktemp("earlier") / "run"
    assert main([*TRAIN, "--steps", "30", "--out", str(out)]) == 0
    return out


@pytest.fixture
def old_run(earlier_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(earlier_run, out)
    return out, fingerprint(out)


def one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("visgen:")]
    assert len(err) == 1, err
    return err[0]


# -- refusals: said at once, nothing written ---------------------------------------------------

def test_an_earlier_run_is_not_replaced_without_overwrite(old_run, capsys):
    out, before = old_run
    assert main([*TRAIN, "--steps", "5", "--out", str(out)]) == 2
    line = one_error_line(capsys)
    assert str(out) in line and "--overwrite" in line
    assert fingerprint(out) == before and leftovers(out) == []


@pytest.mark.parametrize("case", ["a file", "under a file", "a folder of other files", "a link"])
def test_out_that_cannot_hold_a_run_is_refused(tmp_path, capsys, case):
    target = tmp_path / "x"
    if case == "a file":
        target.write_text("notes")
    elif case == "under a file":
        (tmp_path / "f").write_text("notes")
        target = tmp_path / "f" / "run"
    elif case == "a link":  # a swap would replace the link, not the folder it names
        (tmp_path / "real").mkdir()
        target.symlink_to(tmp_path / "real")
    else:
        target.mkdir()
        (target / "thesis.tex").write_text("mine")
    before = fingerprint(tmp_path)
    assert main([*TRAIN, "--steps", "5", "--out", str(target)]) == 2
    assert str(target) in one_error_line(capsys)
    assert fingerprint(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in tmp_path.iterdir() if not p.name.startswith("."))


def test_an_empty_folder_takes_the_run(tmp_path):
    out = tmp_path / "made-for-it"
    out.mkdir()
    assert main([*TRAIN, "--steps", "5", "--out", str(out)]) == 0
    assert assert_consistent(out)["status"] == "finished" and leftovers(out) == []


def test_overwrite_replaces_the_earlier_run_whole(old_run):
    out, before = old_run
    old_id = json.loads((out / "config.json").read_text())["run_id"]
    assert main([*TRAIN, "--steps", "7", "--overwrite", "--out", str(out)]) == 0
    summary = assert_consistent(out)
    assert summary["steps"] == 7 and summary["run_id"] != old_id and leftovers(out) == []


# -- stopped from outside ---------------------------------------------------------------------

def staging_metrics_rows(out: Path) -> int:
    for stage in out.parent.glob(f".{out.name}.partial-*"):
        try:
            return len((stage / "metrics.csv").read_text().splitlines()) - 1
        except OSError:
            return 0
    return 0


@pytest.mark.parametrize("sig, code, status", [(signal.SIGTERM, 143, "terminated"),
                                               (signal.SIGINT, 130, "interrupted")])
def test_a_stopped_run_is_kept_whole_and_says_so(old_run, sig, code, status):
    out, _ = old_run
    proc = popen(*TRAIN, "--steps", 1_000_000, "--overwrite", "--out", out)
    deadline = time.monotonic() + 60
    while staging_metrics_rows(out) < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"visgen: {status} at step" in err
    summary = assert_consistent(out)
    assert summary["status"] == "interrupted" and summary["steps"] >= 20
    assert leftovers(out) == []


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_inside_a_step_stops_at_its_end(tmp_path, monkeypatch, capsys, sig, code):
    """The moment CI once caught: the signal lands after a step's metrics row is written and
    before the run counts the step. It takes effect at the end of that step, so the row, the
    summary and the checkpoint agree."""
    from visgen.core import runfiles as rf

    write = rf.MetricsWriter.write

    def write_then_signal(self, step, wall_time, scalars):
        write(self, step, wall_time, scalars)
        if step == 7:
            signal.raise_signal(sig)
    monkeypatch.setattr(rf.MetricsWriter, "write", write_then_signal)
    out = tmp_path / "run"
    assert main([*TRAIN, "--steps", "50", "--out", str(out)]) == code
    summary = assert_consistent(out)
    assert summary["steps"] == 7 and summary["status"] == "interrupted"
    assert "at step 7" in capsys.readouterr().err


def kill_at(out: Path, moment: str, proc) -> None:
    """Wait until the training into ``out`` reaches ``moment``, then kill -9 it."""
    def stage():
        return next(iter(out.parent.glob(f".{out.name}.partial-*")), None)

    reached = {
        "staging made": lambda: stage() is not None,
        "training": lambda: staging_metrics_rows(out) >= 5,
        "checkpoint": lambda: stage() is not None and any(stage().glob("checkpoint.pt*")),
        "summary": lambda: stage() is not None and (stage() / "summary.json").exists(),
        "samples": lambda: stage() is not None and (stage() / "samples.png").exists(),
    }[moment]
    deadline = time.monotonic() + 60
    while proc.poll() is None and not reached() and time.monotonic() < deadline:
        time.sleep(0.001)
    proc.kill()
    proc.wait(timeout=30)


MOMENTS = ["staging made", "training", "checkpoint", "summary", "samples"]


def check_after_kill(out: Path, before: dict) -> str:
    """The folder is the old run, byte for byte, or a complete new one."""
    now = fingerprint(out) if out.exists() else {}
    if now == before:
        return "old"
    assert_consistent(out)
    return "new"


@pytest.mark.parametrize("moment", MOMENTS)
def test_kill_9_at_any_moment_leaves_one_consistent_run(old_run, moment):
    out, before = old_run
    kill_at(out, moment, popen(*TRAIN, "--steps", 300, "--overwrite", "--out", out))
    check_after_kill(out, before)
    # what the killed process left beside the folder goes with the next training into it
    assert main([*TRAIN, "--steps", "3", "--overwrite", "--out", str(out)]) == 0
    assert leftovers(out) == [] and assert_consistent(out)["steps"] == 3


@pytest.mark.soak
def test_kill_9_sweep_over_a_whole_run(old_run):
    """40 kills spread over a whole run, from start to the folder swap (about 3 minutes)."""
    out, before = old_run
    t0 = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "visgen", *TRAIN, "--steps", "300", "--overwrite",
                           "--out", str(out.parent / "timing")], env=env(), capture_output=True).returncode == 0
    whole = time.monotonic() - t0
    seen = set()
    for i in range(40):
        proc = popen(*TRAIN, "--steps", 300, "--overwrite", "--out", out)
        time.sleep(whole * (0.3 + 0.8 * i / 39))
        proc.kill()
        proc.wait(timeout=30)
        seen.add(check_after_kill(out, before))
        if out.exists() and fingerprint(out) != before:
            before = fingerprint(out)  # the new run is now the one a later kill must keep
    assert seen == {"old", "new"}, f"the sweep never caught a {({'old', 'new'} - seen).pop()} folder"


# -- the disk says no ---------------------------------------------------------------------------

def _small_files(limit: int):
    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), not kills
    return limit_file_size


def test_a_write_that_fails_leaves_the_earlier_run_and_one_line(old_run):
    """Files capped at 20 kB (RLIMIT_FSIZE): the checkpoint cannot be written."""
    out, before = old_run
    proc = popen(*TRAIN, "--steps", 20, "--overwrite", "--out", out, preexec_fn=_small_files(20_000))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.startswith("visgen:")]
    assert len(lines) == 1 and str(out) in lines[0] and "Traceback" not in err, err
    assert fingerprint(out) == before and leftovers(out) == []


def _namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


needs_namespace = pytest.mark.skipif(not _namespace_works(),
                                     reason="no user+mount namespace here (unshare -rm) for a small tmpfs")


def in_small_tmpfs(tmp_path, size: str, script: str, ro: bool = False):
    """Run ``script`` (bash) with a fresh ``size`` tmpfs at $T (read-only after setup if ``ro``)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    remount = "mount -o remount,ro $T && " if ro else ""
    setup = f"export T={mnt} && mount -t tmpfs -o size={size} tmpfs $T && "
    cmd = ["unshare", "--user", "--map-root-user", "--mount", "bash", "-c",
           setup + script.replace("@RO@", remount)]
    return subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)


VISGEN = f"{sys.executable} -m visgen " + " ".join(TRAIN)


@needs_namespace
def test_a_full_disk_leaves_the_earlier_run_and_one_line(earlier_run, tmp_path):
    # The earlier run (about 130 kB) fits in 200 kB; the new one cannot be written beside it.
    script = (f"cp -r {earlier_run} $T/run && sha256sum $T/run/* > {tmp_path}/before && "
              f"{VISGEN} --steps 20 --overwrite --out $T/run 2> {tmp_path}/err; echo $? > {tmp_path}/rc; "
              f"sha256sum $T/run/* > {tmp_path}/after; ls -a $T > {tmp_path}/ls")
    proc = in_small_tmpfs(tmp_path, "200k", script)
    assert proc.returncode == 0, proc.stderr
    err = (tmp_path / "err").read_text()
    assert (tmp_path / "rc").read_text().strip() == "2", err
    lines = [line for line in err.splitlines() if line.startswith("visgen:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "Traceback" not in err, err
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text()
    assert (tmp_path / "ls").read_text().split() == [".", "..", "run"]


@needs_namespace
def test_a_read_only_place_is_one_line(tmp_path):
    script = (f"@RO@{VISGEN} --steps 3 --out $T/run 2> {tmp_path}/err; echo $? > {tmp_path}/rc")
    proc = in_small_tmpfs(tmp_path, "1m", script, ro=True)
    assert proc.returncode == 0, proc.stderr
    err = (tmp_path / "err").read_text()
    assert (tmp_path / "rc").read_text().strip() == "2", err
    lines = [line for line in err.splitlines() if line.startswith("visgen:")]
    assert len(lines) == 1 and "Read-only file system" in lines[0] and "run" in lines[0], err


def test_paths_in_run_files_are_stored_absolute(earlier_run, tmp_path, monkeypatch):
    """A latent-diffusion run names its VAE run; named relative to where training ran, it is
    stored absolute, so the new run loads from any folder."""
    monkeypatch.chdir(earlier_run.parent)
    out = tmp_path / "latent"
    assert main(["train", "ddpm", "--dataset", "digits", "--steps", "2", "--set", "vae_run=run",
                 "--set", "T=20", "--set", "hidden=32", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["params"]["vae_run"] == str(earlier_run)
    assert read_checkpoint(out / "checkpoint.pt")["params"]["vae_run"] == str(earlier_run)
    monkeypatch.chdir(tmp_path)
    assert main(["sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
