"""Each built-in view shows exactly what its last snapshot holds."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")
from PySide6.QtCore import QPointF, Qt  # noqa: E402

from visgen.core.imaging import tile  # noqa: E402
from visgen.core.snapshots import (Bars, Curves, Field2D, FrameSequence, Histogram, HistogramSeries,  # noqa: E402
                                   ImageGrid, PointSet, Scatter, Vectors)
from visgen.core.spec import ViewDecl, resolve  # noqa: E402

rng = np.random.default_rng(0)


def make(qtbot, kind, cls_path, **decl):
    view = resolve(cls_path)(ViewDecl(id=kind, kind=kind, title=kind, **decl))
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    return view


def scatter(n=50, k=3, seed=0):
    r = np.random.default_rng(seed)
    return Scatter([PointSet("data", r.normal(size=(n, 2)), labels=r.integers(0, k, n),
                             class_names=[f"c{i}" for i in range(k)]),
                    PointSet("samples", r.normal(size=(n + 7, 2)))],
                   vectors=[Vectors("v", r.normal(size=(4, 2)), r.normal(size=(4, 2)))])


def test_builtin_view_kinds_resolve_without_qt_in_module():
    from visgen import view_kinds as builtin_views
    kinds = {k.name: k for k in builtin_views.visgen_register_views()}
    assert set(kinds) == {"lines", "scatter", "image_grid", "histogram", "frames", "field", "bars", "theory"}
    for k in kinds.values():
        assert isinstance(k.widget, str)
        assert resolve(k.widget).__name__.endswith("View")


def test_scatter_items_hold_last_snapshot(qtbot):
    view = make(qtbot, "scatter", "visgen.gui.views.scatter:ScatterView")
    view.show_snapshot(Scatter([PointSet("a", rng.normal(size=(10, 2))), PointSet("b", rng.normal(size=(5, 2))),
                                PointSet("c", rng.normal(size=(3, 2)))]))
    last = scatter(seed=1)
    view.show_snapshot(last)
    assert view.last_snapshot is last
    for item, ps in zip(view.items, last.series):
        x, y = item.getData()
        np.testing.assert_allclose(np.column_stack([x, y]), ps.xy)
    assert not view.items[2].isVisible() and len(view.items[2].getData()[0]) == 0
    # each arrow is three segments: shaft plus two head strokes
    assert len(view.vectors.items[0].xData) == 6 * 4


def test_scatter_brushes_are_cached_per_class(qtbot):
    view = make(qtbot, "scatter", "visgen.gui.views.scatter:ScatterView")
    snap = scatter()
    view.show_snapshot(snap)
    brushes = view.items[0].data["brush"]
    labels = snap.series[0].labels
    for k in range(3):
        ids = {id(b) for b, l in zip(brushes, labels) if l == k}
        assert len(ids) == 1


@pytest.mark.parametrize("kind", ["scatter", "field"])
def test_clickable_scatter_and_field_emit_data_coordinates(qtbot, kind):
    if kind == "scatter":
        view = make(qtbot, "scatter", "visgen.gui.views.scatter:ScatterView", clickable=True)
        view.show_snapshot(scatter())
    else:  # a heatmap takes clicks too (the flow's density: click a point to follow it to z)
        view = make(qtbot, "field", "visgen.gui.views.field:FieldView", clickable=True)
        view.show_snapshot(Field2D(np.random.default_rng(0).random((8, 8)), (-3, 3, -3, 3)))
    view.plot.getPlotItem().setRange(xRange=(-3, 3), yRange=(-3, 3), padding=0)
    qtbot.wait(20)
    vb = view.plot.getPlotItem().getViewBox()
    target = QPointF(1.0, -0.5)
    widget_pos = view.plot.mapFromScene(vb.mapViewToScene(target))
    with qtbot.waitSignal(view.clicked, timeout=2000) as blocker:
        qtbot.mouseClick(view.plot.viewport(), Qt.LeftButton, pos=widget_pos)
    x, y = blocker.args
    span = vb.viewRange()[0][1] - vb.viewRange()[0][0]
    assert abs(x - 1.0) < 0.02 * span and abs(y + 0.5) < 0.02 * span
    assert view.marker.isVisible()
    np.testing.assert_allclose(np.column_stack(view.marker.getData())[0], (x, y), rtol=1e-5)


def test_unclickable_scatter_ignores_clicks(qtbot):
    view = make(qtbot, "scatter", "visgen.gui.views.scatter:ScatterView")
    view.show_snapshot(scatter())
    qtbot.wait(20)
    got = []
    view.clicked.connect(lambda x, y: got.append((x, y)))
    qtbot.mouseClick(view.plot.viewport(), Qt.LeftButton, pos=view.plot.rect().center())
    qtbot.wait(20)
    assert got == []


def test_image_grid_shows_tiled_last_images(qtbot):
    view = make(qtbot, "image_grid", "visgen.gui.views.image_grid:ImageGridView")
    view.show_snapshot(ImageGrid(rng.random((4, 8, 8))))
    last = ImageGrid(rng.random((6, 5, 7, 3)), nrow=3, title="step 7", captions=list("abcdef"))
    view.show_snapshot(last)
    img = view.image.image
    assert img.dtype == np.float32 and img.flags.c_contiguous
    np.testing.assert_array_equal(img, tile(last.images, 3))
    assert tuple(view.image.levels) == (0.0, 1.0)
    assert view.plot.getPlotItem().getViewBox().yInverted()
    assert view.title.text() == "step 7"
    assert [c.toPlainText() for c in view.captions if c.isVisible()] == list("abcdef")


def test_histogram_counts_match_numpy(qtbot):
    view = make(qtbot, "histogram", "visgen.gui.views.histogram:HistogramView")
    view.show_snapshot(Histogram([HistogramSeries("x", rng.normal(size=100))]))
    a, b = rng.normal(size=500), rng.normal(1.0, 2.0, size=300)
    view.show_snapshot(Histogram([HistogramSeries("real", a), HistogramSeries("fake", b)], bins=25))
    edges = np.linspace(min(a.min(), b.min()), max(a.max(), b.max()), 26)
    for item, v in zip(view.items, (a, b)):
        np.testing.assert_allclose(item.xData, edges, rtol=1e-5)
        np.testing.assert_array_equal(item.yData, np.histogram(v.astype(np.float32), bins=item.xData)[0])
    view.show_snapshot(Histogram([HistogramSeries("r", a)], bins=10, range=(-1, 1)))
    np.testing.assert_allclose(view.items[0].xData, np.linspace(-1, 1, 11))
    assert not view.items[1].isVisible()


def image_frames(t=5):
    return FrameSequence([f"t = {i}" for i in range(t)], images=rng.random((t, 12, 10)))


def test_frames_scrubber_and_shown_frame(qtbot):
    view = make(qtbot, "frames", "visgen.gui.views.frames:FramesView")
    seq = image_frames(5)
    view.show_snapshot(seq)
    assert view.slider.maximum() == 4
    assert view.index == 4  # a fresh sequence opens on its final frame
    view.slider.setValue(2)
    np.testing.assert_array_equal(view.current_frame(), seq.images[2])
    assert "t = 2" in view.frame_label.text()
    # a new sequence of the same length keeps the scrubbed index
    seq2 = image_frames(5)
    view.show_snapshot(seq2)
    assert view.index == 2
    np.testing.assert_array_equal(view.current_frame(), seq2.images[2])
    view.show_snapshot(image_frames(8))
    assert view.slider.maximum() == 7 and view.index == 7
    view.shutdown()


def test_frames_points_coloured_by_labels(qtbot):
    view = make(qtbot, "frames", "visgen.gui.views.frames:FramesView")
    pts = rng.normal(size=(4, 30, 2))
    view.show_snapshot(FrameSequence(list("abcd"), points=pts, point_labels=rng.integers(0, 3, 30)))
    view.slider.setValue(1)
    np.testing.assert_allclose(view.current_frame(), pts[1], rtol=1e-6)
    assert not view.image.isVisible() and view.scatter.isVisible()
    view.shutdown()


def test_frames_play_advances_and_shutdown_stops(qtbot):
    view = make(qtbot, "frames", "visgen.gui.views.frames:FramesView")
    view.show_snapshot(image_frames(6))
    view.slider.setValue(0)
    view.play_button.click()
    assert view.timer.isActive() and view.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: view.index >= 2, timeout=3000)
    qtbot.waitUntil(lambda: view.index == 0, timeout=3000)  # loops round
    view.shutdown()
    assert not view.timer.isActive()


def test_field_image_equals_values(qtbot):
    view = make(qtbot, "field", "visgen.gui.views.field:FieldView")
    view.show_snapshot(Field2D(rng.random((5, 5)), (0, 1, 0, 1)))
    values = rng.normal(size=(20, 30))
    pts = rng.normal(size=(7, 2))
    view.show_snapshot(Field2D(values, (-3, 3, -2, 2), points=[PointSet("p", pts)],
                               vectors=[Vectors("v", pts, pts)]))
    np.testing.assert_array_equal(view.image.image, values.astype(np.float32))
    np.testing.assert_allclose(view.image.levels, (values.min(), values.max()), rtol=1e-6)
    rect = view.image.mapRectToParent(view.image.boundingRect())
    np.testing.assert_allclose([rect.left(), rect.right(), rect.top(), rect.bottom()], [-3, 3, -2, 2], atol=1e-6)
    np.testing.assert_allclose(np.column_stack(view.points.items[0].getData()), pts, rtol=1e-6)
    view.show_snapshot(Field2D(values, (-3, 3, -2, 2), levels=(-1, 1)))
    np.testing.assert_allclose(view.image.levels, (-1, 1))
    assert not view.points.items[0].isVisible()


def test_bars_heights_equal_values(qtbot):
    view = make(qtbot, "bars", "visgen.gui.views.bars:BarsView")
    view.show_snapshot(Bars(["a", "b"], [1, 2]))
    values = rng.random(6)
    view.show_snapshot(Bars([f"z{i}" for i in range(6)], values, y_label="KL"))
    np.testing.assert_allclose(view.bars.opts["height"], values, rtol=1e-6)
    np.testing.assert_array_equal(view.bars.opts["x"], np.arange(6))
    ticks = view.plot_item.getAxis("bottom")._tickLevels[0]
    assert [t[1] for t in ticks] == [f"z{i}" for i in range(6)]


def test_lines_scalars_smoothing_and_log_y(qtbot):
    from visgen.gui.views.lines import ema
    view = make(qtbot, "lines", "visgen.gui.views.lines:LinesView", scalars=("loss", "kl"))
    steps = np.arange(1000)
    series = {"loss": (steps, rng.random(1000) + 1), "kl": (steps, rng.random(1000))}
    view.show_scalars({"loss": (steps[:10], np.ones(10)), "kl": (steps[:10], np.ones(10))})
    view.show_scalars(series)
    for name, (s, v) in series.items():
        np.testing.assert_allclose(view.raw_curves[name].xData, s)
        np.testing.assert_allclose(view.raw_curves[name].yData, v, rtol=1e-6)
        np.testing.assert_allclose(view.curves[name].yData, ema(v, 0.6), rtol=1e-6)
    view.smoothing.setValue(0)
    for name, (s, v) in series.items():
        np.testing.assert_allclose(view.curves[name].yData, v, rtol=1e-6)
        assert not view.raw_curves[name].isVisible()
    assert not view.plot_item.ctrl.logYCheck.isChecked()
    view.log_y.setChecked(True)
    assert view.plot_item.ctrl.logYCheck.isChecked()
    view.log_y.setChecked(False)
    assert not view.plot_item.ctrl.logYCheck.isChecked()


def test_ema_matches_loop():
    from visgen.gui.views.lines import ema
    x = rng.normal(size=3000).cumsum()
    for w in (0.0, 0.05, 0.6, 0.99):
        ref, prev = [], x[0]
        for v in x:
            prev = w * prev + (1 - w) * v
            ref.append(prev)
        np.testing.assert_allclose(ema(x, w), ref, rtol=1e-5, atol=1e-4)


def test_lines_curves_snapshot(qtbot):
    view = make(qtbot, "lines", "visgen.gui.views.lines:LinesView", log_y=True)
    assert view.log_y.isChecked()
    x = np.linspace(0, 1, 50)
    snap = Curves(x, {"alpha_bar": np.exp(-3 * x), "beta": 0.1 + x}, x_label="t", log_y=False)
    view.show_snapshot(snap)
    assert view.last_snapshot is snap and not view.log_y.isChecked()
    for name, y in snap.ys.items():
        np.testing.assert_allclose(view.curves[name].xData, snap.x)
        np.testing.assert_allclose(view.curves[name].yData, y)


def test_theory_renders_html(qtbot):
    view = make(qtbot, "theory", "visgen.gui.views.theory:TheoryView")
    view.set_theory("VAE", '<p class="eq">ℒ = 𝔼[log <i>p</i>(<i>x</i>|<i>z</i>)] − β·KL</p>')
    text = view.browser.toPlainText()
    assert "VAE" in text and "ℒ" in text and "β" in text
    view.show_snapshot(object())  # ignored


def test_field_layers_switch_on_and_off(qtbot):
    """Each layer gets a check box; unchecking hides it and the choice holds for the next snapshot."""
    from visgen.core.snapshots import Field2D, PointSet, Vectors
    from visgen.core.spec import ViewDecl
    from visgen.gui.views.field import FieldView

    view = FieldView(ViewDecl("decision", "field", "D"))
    qtbot.addWidget(view)
    snap = lambda: Field2D(np.zeros((4, 4)), (-1, 1, -1, 1),  # noqa: E731
                           points=[PointSet("real", np.zeros((3, 2))), PointSet("fake", np.ones((5, 2)))],
                           vectors=[Vectors("G gradient", np.zeros((2, 2)), np.ones((2, 2)))])
    view.show_snapshot(snap())
    assert set(view.toggles) == {"heatmap", "real", "fake", "G gradient"}
    view.toggles["fake"].setChecked(False)
    view.toggles["heatmap"].setChecked(False)
    view.show_snapshot(snap())
    visible = [it for it in view.points.items if it.isVisible()]
    assert len(visible) == 1 and len(visible[0].getData()[0]) == 3  # only "real" is drawn
    assert not view.image.isVisible()
    view.toggles["fake"].setChecked(True)
    assert sum(it.isVisible() for it in view.points.items) == 2


def test_lines_draw_sparse_metrics_as_points_never_smoothed(qtbot):
    view = make(qtbot, "lines", "visgen.gui.views.lines:LinesView", scalars=("loss", "modes_covered"))
    view.sparse = frozenset({"modes_covered"})
    steps = np.arange(1, 1001)
    cov_steps, cov = np.array([250, 500, 750, 1000]), np.array([2.0, 8.0, 3.0, 8.0])
    view.show_scalars({"loss": (steps, np.linspace(5, 1, 1000)), "modes_covered": (cov_steps, cov)})
    main = view.curves["modes_covered"]
    x, y = main.getData()
    np.testing.assert_array_equal(y, cov)                 # the measured values, not an average of them
    assert main.opts["symbol"] == "o" and not view.raw_curves["modes_covered"].isVisible()
    assert view.curves["loss"].opts["symbol"] is None     # per-step losses stay smoothed lines
    assert view.raw_curves["loss"].isVisible()
