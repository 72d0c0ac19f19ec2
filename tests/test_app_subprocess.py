"""The real ``visgen`` program in a subprocess: start, train, screenshot, quit.

Each run gets its own HOME and XDG_CONFIG_HOME under ``tmp_path`` so the
user's saved layout is neither read nor overwritten.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from visgen.core.imaging import PALETTE

Image = pytest.importorskip("PIL.Image")

# Colours of the palette that only the class-coloured scatter points use: 0-2 are
# also the loss curves (and 0 the KL bars), 7 is a grey like anti-aliased text.
CLASS_ONLY = (3, 4, 5, 6, 8, 9)


def app_env(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path / "home"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), OMP_WAIT_POLICY="PASSIVE")
    for k in ("VISGEN_DISABLE_PLUGIN_AUTOLOAD", "VISGEN_BLOCK_PLUGINS"):
        env.pop(k, None)  # the VAE comes in through its entry point, as for a user
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def visgen(tmp_path, *args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "visgen.cli.main", *args], env=app_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def load_rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def tinted_pixels(img: np.ndarray, rgb, min_opacity: float = 0.5, tol: float = 8.0) -> int:
    """Pixels that look like ``rgb`` drawn over the white plot background at an opacity
    of at least ``min_opacity``: points are drawn translucent and anti-aliased at the
    edges, so few pixels hold the exact palette colour."""
    d = 255.0 - img.reshape(-1, 3).astype(float)
    c = 255.0 - np.asarray(rgb, float)
    t = d @ c / (c @ c)  # opacity along the white -> rgb line
    off_line = np.linalg.norm(d - t[:, None] * c, axis=1)
    return int(((t >= min_opacity) & (t <= 1.05) & (off_line <= tol)).sum())


def assert_not_blank(img: np.ndarray) -> None:
    h, w = img.shape[:2]
    assert w >= 1000 and h >= 600, f"screenshot is only {w}x{h}"
    distinct = len(np.unique(img.reshape(-1, 3), axis=0))
    assert distinct > 500, f"only {distinct} distinct colours"
    assert img.std() > 30, f"pixel std {img.std():.1f}"


def test_app_trains_vae_on_digits_and_screenshots(tmp_path):
    png = tmp_path / "shot.png"
    proc = visgen(tmp_path, "--run", "vae:digits", "--quit-after", "10", "--screenshot", str(png),
                  "--fresh-layout")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Fatal Python error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert png.is_file()
    img = load_rgb(png)
    assert_not_blank(img)
    # the latent scatter colours its points by digit class (0-9)
    found = [k for k in CLASS_ONLY if tinted_pixels(img, PALETTE[k]) >= 100]
    assert len(found) >= 5, f"class colours found: {found}"
    # closing saved the layout into the private config folder, not the user's
    saved = list((tmp_path / "config").rglob("*.conf"))
    assert saved and all(tmp_path in p.parents for p in saved)


def test_unknown_model_exits_2_naming_valid_models(tmp_path):
    proc = visgen(tmp_path, "--run", "nope", timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "nope" in lines[0] and "valid" in lines[0] and "vae" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # about 20 s; still part of the default run
def test_stress_2d_scatter_updates_do_not_crash(tmp_path):
    """2D data: both scatter views redraw several times a second for 15 s. Guards against
    the abort inside ScatterPlotItem.setData seen with PySide6 6.12 (none_dealloc)."""
    png = tmp_path / "ring8.png"
    proc = visgen(tmp_path, "--run", "vae:ring8", "--quit-after", "15", "--screenshot", str(png),
                  "--fresh-layout", timeout=90)
    assert "Fatal Python error" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    img = load_rgb(png)
    assert_not_blank(img)
    # the latent scatter shows ring8's 8 modes in the first 8 class colours, and no others
    counts = {k: tinted_pixels(img, PALETTE[k]) for k in CLASS_ONLY}
    assert all(counts[k] >= 50 for k in (3, 4, 5, 6)), counts
    assert counts[8] < 20 and counts[9] < 20, counts


def test_quitting_while_an_image_diffusion_run_is_busy_exits_0(tmp_path):
    """ddpm:digits is inside a dear step or view most of the time; quitting once aborted the
    process ("terminate called without an active exception", exit 134) in 2 of 3 tries."""
    for _ in range(2):
        proc = visgen(tmp_path, "--run", "ddpm:digits", "--quit-after", "6", "--fresh-layout", timeout=60)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "terminate called" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
