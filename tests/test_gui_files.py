"""The window and files: a Save still happens (and is reported) when its run is closed at once;
a screenshot that cannot be written is an error, said at start when it can be."""
import os
import shutil
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("pytestqt")
WAIT = 30_000  # ms: a loaded 2-core machine
from PySide6.QtWidgets import QFileDialog  # noqa: E402

from visgen.core.checkpoint import read_checkpoint  # noqa: E402
from test_app_subprocess import app_env  # noqa: E402


def test_save_then_close_at_once_writes_the_file_and_says_so(qtbot, make_window, registry, tmp_path, monkeypatch):
    window = make_window(registry)
    run = window.new_run("vae", "digits", params={"hidden": 32})
    run.start()
    qtbot.waitUntil(lambda: run.step >= 10, timeout=WAIT)
    path = tmp_path / "vae.pt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.panel._save()        # File dialog answered; the save is queued to the worker...
    window.close_run(run)       # ...and the run closed before it ran
    qtbot.waitUntil(lambda: "saved" in window.statusBar().currentMessage(), timeout=WAIT)
    assert window.statusBar().currentMessage() == f"{run.name}: saved {path}"
    assert read_checkpoint(path)["model"] == "vae"


def test_a_failed_save_is_reported_in_the_window(qtbot, make_window, registry, tmp_path, monkeypatch):
    window = make_window(registry)
    run = window.new_run("vae", "digits", params={"hidden": 32})
    run.step_once()
    qtbot.waitUntil(lambda: run.step == 1, timeout=WAIT)
    (tmp_path / "file").write_text("")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "file" / "x.pt"), ""))
    window.panel._save()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("error:"), timeout=WAIT)
    assert "x.pt" in window.statusBar().currentMessage()


def visgen(tmp_path, *args):
    return subprocess.Popen([sys.executable, "-m", "visgen", *args], env=app_env(tmp_path), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("where", ["missing folder", "a folder", "not png"])
def test_a_screenshot_that_cannot_be_written_is_refused_at_start(tmp_path, where):
    target = {"missing folder": tmp_path / "nowhere" / "x.png", "a folder": tmp_path,
              "not png": tmp_path / "x.jpg"}[where]
    t0 = time.monotonic()
    proc = visgen(tmp_path, "--run", "vae", "--quit-after", "30", "--screenshot", str(target))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and time.monotonic() - t0 < 25, err   # at once, not after 30 s
    lines = [line for line in err.splitlines() if line.startswith("visgen:")]
    assert len(lines) == 1 and f"--screenshot {target}" in lines[0], err


def test_a_screenshot_that_fails_when_taken_exits_non_zero(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    proc = visgen(tmp_path, "--run", "vae", "--quit-after", "8", "--screenshot", str(folder / "x.png"))
    time.sleep(5)
    shutil.rmtree(folder)       # gone by the time the window closes
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.startswith("visgen:")]
    assert len(lines) == 1 and "--screenshot" in lines[0] and "Traceback" not in err, err


def test_load_of_another_data_set_leaves_the_run_as_it_was(registry, tmp_path, stop_runs):
    """ring8 and moons give a 2D VAE the same shapes: the weights would load, silently wrong."""
    from visgen.core.errors import CheckpointError
    from visgen.core.run import Run

    ring = Run(registry, "vae", "ring8", params={"hidden": 32}, threads=1)
    ring.train(3)
    path = ring.save_checkpoint(tmp_path / "ring.pt").result()
    moons = Run(registry, "vae", "moons", params={"hidden": 32}, threads=1)
    stop_runs(moons)
    moons.train(5)
    before = {k: v.clone() for k, v in moons.trainer.model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"ring\.pt: trained on 'ring8', this run uses 'moons'"):
        moons.load_checkpoint(path).result(timeout=30)
    assert moons.step == 5
    assert all((before[k] == v).all() for k, v in moons.trainer.model.state_dict().items())


def test_reset_early_in_an_image_diffusion_run_keeps_the_window_responsive(qtbot, make_window):
    """Reset once froze the window 5 s and failed while ddpm:digits built its first views."""
    from conftest import registry_with

    window = make_window(registry_with("ddpm"))
    run = window.new_run("ddpm", "digits")
    run.start()
    qtbot.waitUntil(lambda: run.step >= 1, timeout=WAIT)
    t0 = time.monotonic()
    window.reset_run(run)
    assert time.monotonic() - t0 < 0.2                 # the window does not wait for the worker
    qtbot.waitUntil(lambda: run.step == 0 and run.status.generation > 0, timeout=WAIT)
    run.start()
    qtbot.waitUntil(lambda: run.step >= 2, timeout=WAIT)
    assert run.status.error is None


def test_headless_launches_keep_the_window_full_size(tmp_path):
    """offscreen's nominal 800x800 screen made each restored window smaller than the last."""
    from PIL import Image

    for i in range(2):
        shot = tmp_path / f"s{i}.png"
        proc = visgen(tmp_path, "--run", "vae", "--quit-after", "3", "--screenshot", str(shot))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        with Image.open(shot) as im:
            assert im.size == (1600, 1000), f"launch {i + 1}: {im.size}"
