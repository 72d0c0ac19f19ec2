"""RealNVP in the window: its 2D views draw, the z grid scrubs from z to x, a click on the
x / z view draws the point's path there and over the density."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")

VIEWS = ("density", "grid", "path", "samples2d", "logdet")


def test_realnvp_on_moons_draws_scrubs_and_follows_a_click(window_with, qtbot):
    window = window_with("flow")
    run = window.new_run("realnvp", "moons", settings=["layers=4", "hidden=16"], dataset_options={"n": 2000})
    views = window.run_views[run].views
    assert set(VIEWS) <= set(views)
    run.step_once()
    qtbot.waitUntil(lambda: all(views[v].last_snapshot is not None for v in VIEWS), timeout=30_000)
    grid = views["grid"]
    snap = grid.last_snapshot
    assert len(snap) == 5 and grid.index == 4                      # z and after each of 4 layers; x first
    grid.slider.setValue(0)
    assert np.array_equal(grid.current_frame(), snap.points[0])   # frame 0: the regular z grid
    views["path"].clicked.emit(0.5, 0.25)
    qtbot.waitUntil(lambda: any(p.polyline for p in views["path"].last_snapshot.series), timeout=30_000)
    line = next(p for p in views["path"].last_snapshot.series if p.polyline)
    assert np.allclose(line.xy[0], [0.5, 0.25], atol=1e-6) and len(line.xy) == 5
    qtbot.waitUntil(lambda: any(p.polyline for p in views["density"].last_snapshot.points), timeout=30_000)
    # a click on the density heatmap follows that point too, in both views
    views["density"].clicked.emit(-0.5, 0.5)

    def starts_at_the_new_click(snapshot, series):
        lines = [p for p in getattr(snapshot, series) if p.polyline]
        return bool(lines) and np.allclose(lines[0].xy[0], [-0.5, 0.5], atol=1e-6)
    qtbot.waitUntil(lambda: starts_at_the_new_click(views["path"].last_snapshot, "series")
                    and starts_at_the_new_click(views["density"].last_snapshot, "points"), timeout=30_000)
