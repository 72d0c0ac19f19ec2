"""Axes follow the data: every point, field and frame view fits its current snapshot
(never its first), a range the snapshot states wins, and a learner's zoom is kept."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from visgen.core.snapshots import Field2D, FrameSequence, PointSet, Scatter  # noqa: E402
from visgen.core.spec import ViewDecl, resolve  # noqa: E402

VIEWS = "visgen.gui.views."


def make(qtbot, kind, cls):
    view = resolve(VIEWS + cls)(ViewDecl(id=kind, kind=kind, title=kind))
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    return view


def cloud(scale, n=400, seed=0):
    """Points filling [-scale, scale]^2 (corners included, so the range is known)."""
    r = np.random.default_rng(seed)
    xy = r.uniform(-scale, scale, size=(n, 2))
    xy[:4] = [[-scale, -scale], [scale, scale], [-scale, scale], [scale, -scale]]
    return xy


def view_range(view):
    return np.array(view.plot_item.getViewBox().viewRange())


def assert_about(rng, bounds):
    """``rng`` shows all of ``bounds`` and not much more: one axis fits within 30 %; an
    aspect-locked plot may widen the other to the widget's shape, at most 2x."""
    ratios = []
    for (lo, hi), (blo, bhi) in zip(rng, bounds):
        span = bhi - blo
        assert lo <= blo + 1e-6 * span and hi >= bhi - 1e-6 * span, (rng, bounds)
        ratios.append((hi - lo) / span)
    assert min(ratios) <= 1.3 and max(ratios) <= 2.0, (rng, bounds)


def frames(scale, t=6, n=200, seed=0):
    return FrameSequence([f"t = {i}" for i in range(t)], points=np.stack([cloud(scale, n, seed + i) for i in range(t)]))


def wheel(qtbot, view, steps=3):
    """A real mouse-wheel zoom in the middle of the plot (what a learner does)."""
    vb = view.plot_item.getViewBox()
    pos = QPointF(view.plot.mapFromScene(vb.sceneBoundingRect().center()))
    ev = QWheelEvent(pos, QPointF(view.plot.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                     Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(view.plot.viewport(), ev)
    qtbot.wait(10)


# -- the current snapshot, never the first --------------------------------------------------

def test_scatter_rescales_from_600_to_3(qtbot):
    view = make(qtbot, "scatter", "scatter:ScatterView")
    view.show_snapshot(Scatter([PointSet("s", cloud(600))]))
    assert_about(view_range(view), [(-600, 600), (-600, 600)])
    view.show_snapshot(Scatter([PointSet("s", cloud(3))]))
    assert_about(view_range(view), [(-3, 3), (-3, 3)])


def test_point_frames_rescale_from_600_to_3(qtbot):
    view = make(qtbot, "frames", "frames:FramesView")
    view.show_snapshot(frames(600))
    assert_about(view_range(view), [(-600, 600), (-600, 600)])
    view.show_snapshot(frames(3))
    assert_about(view_range(view), [(-3, 3), (-3, 3)])
    view.shutdown()


def test_field_rescales_to_its_extent_and_fills_the_plot(qtbot):
    view = make(qtbot, "field", "field:FieldView")
    view.show_snapshot(Field2D(np.zeros((8, 8)), (-600, 600, -600, 600)))
    view.show_snapshot(Field2D(np.zeros((8, 8)), (-3, 3, -2, 2)))
    # exactly the extent on both axes: the heatmap fills the plot, no empty bands
    np.testing.assert_allclose(view_range(view), [(-3, 3), (-2, 2)], atol=1e-6)


def test_one_range_for_the_whole_sequence_robust_to_outliers(qtbot):
    view = make(qtbot, "frames", "frames:FramesView")
    pts = np.stack([cloud(3.0 / (i + 1), 200, i) for i in range(5)])  # noise shrinking onto data
    pts[2, :3] = 1e4  # a few points blown far away by an untrained model
    view.show_snapshot(FrameSequence(list("abcde"), points=pts))
    shown = view_range(view)
    assert_about(shown, [(-3, 3), (-3, 3)])
    for i in range(5):  # scrubbing never rescales
        view.slider.setValue(i)
        np.testing.assert_allclose(view_range(view), shown)
    view.shutdown()


# -- a stated range wins ------------------------------------------------------------------------

def test_stated_bounds_win_over_the_points(qtbot):
    view = make(qtbot, "scatter", "scatter:ScatterView")
    view.show_snapshot(Scatter([PointSet("s", cloud(3))], bounds=((-10, 10), (-8, 8))))
    assert_about(view_range(view), [(-10, 10), (-8, 8)])
    frames_view = make(qtbot, "frames", "frames:FramesView")
    seq = frames(600)
    seq.bounds = ((-2, 2), (-1, 1))
    frames_view.show_snapshot(seq)
    assert_about(view_range(frames_view), [(-2, 2), (-1, 1)])
    frames_view.shutdown()


# -- the learner's zoom is kept; "A" hands the range back -----------------------------------------

@pytest.mark.parametrize("kind, cls, first, second, bounds", [
    ("scatter", "scatter:ScatterView", lambda: Scatter([PointSet("s", cloud(3))]),
     lambda: Scatter([PointSet("s", cloud(600))]), [(-600, 600), (-600, 600)]),
    ("frames", "frames:FramesView", lambda: frames(3), lambda: frames(600), [(-600, 600), (-600, 600)]),
    ("field", "field:FieldView", lambda: Field2D(np.zeros((4, 4)), (-3, 3, -3, 3)),
     lambda: Field2D(np.zeros((4, 4)), (-600, 600, -600, 600)), [(-600, 600), (-600, 600)]),
])
def test_a_user_zoom_is_kept_until_auto_range(qtbot, kind, cls, first, second, bounds):
    view = make(qtbot, kind, cls)
    view.show_snapshot(first())
    before = view_range(view)
    wheel(qtbot, view)
    zoomed = view_range(view)
    assert (zoomed[0][1] - zoomed[0][0]) < 0.9 * (before[0][1] - before[0][0])  # the wheel zoomed in
    view.show_snapshot(second())
    np.testing.assert_allclose(view_range(view), zoomed)  # the learner's view stands
    view.plot_item.autoBtn.clicked.emit(view.plot_item.autoBtn)  # the plot's "A" button
    assert_about(view_range(view), bounds)
    view.show_snapshot(first())  # and snapshots are followed again
    assert_about(view_range(view), [(-3, 3), (-3, 3)])
    view.shutdown()
