"""The GAN family in the window: step-D/G buttons and the 2D views a learner watches."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402


@pytest.fixture
def window(window_with):
    return window_with("gan")


def test_gan_on_ring8_shows_decision_map_points_arrows_and_histograms(window, qtbot):
    run = window.new_run("gan", "ring8", seed=0)
    views = window.run_views[run].views
    assert {"decision", "scores", "losses", "coverage"} <= set(views)
    run.start()
    qtbot.waitUntil(lambda: views["decision"].last_snapshot is not None
                    and views["scores"].last_snapshot is not None and run.step > 300, timeout=30_000)
    run.pause()
    field = views["decision"].last_snapshot
    assert field.values.shape == (80, 80) and 0.0 <= field.values.min() <= field.values.max() <= 1.0
    assert [p.name for p in field.points] == ["real", "fake G(z)", "G(z grid)"]
    assert [v.name for v in field.vectors] == ["G gradient"] and len(field.vectors[0].origins) == 100
    # what is drawn is what the last snapshot held
    drawn = [it.getData() for it in views["decision"].points.items if it.isVisible()]
    assert np.allclose(np.column_stack(drawn[1]), field.points[1].xy)
    hist = views["scores"].last_snapshot
    assert [s.name for s in hist.series] == ["D(x) on real", "D(x) on fake"]
    qtbot.waitUntil(lambda: "modes_covered" in run.scalars.names, timeout=30_000)


def test_step_d_only_and_g_only_buttons(window, qtbot):
    run = window.new_run("gan", "ring8", seed=0)
    d_button = window.panel.findChild(QPushButton, "step-D")
    g_button = window.panel.findChild(QPushButton, "step-G")
    assert d_button is not None and g_button is not None
    qtbot.mouseClick(d_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: run.step == 1, timeout=30_000)
    g_before = [p.detach().clone() for p in run.trainer.G.parameters()]
    qtbot.mouseClick(d_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: run.step == 2, timeout=10_000)
    assert all(np.array_equal(a, b.detach()) for a, b in zip(g_before, run.trainer.G.parameters()))
    assert "g_loss" not in run.scalars.names  # only the discriminator has moved
    qtbot.mouseClick(g_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "g_loss" in run.scalars.names, timeout=10_000)
    assert not all(np.array_equal(a, b.detach()) for a, b in zip(g_before, run.trainer.G.parameters()))
