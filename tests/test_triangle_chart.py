"""The quality / diversity / speed triangle of the Compare window: where each run's corners
go, what the legend says, and that the picture really shows every run."""
import html
import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pg = pytest.importorskip("pyqtgraph")
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from visgen.gui.compare.triangle_chart import TriangleChart, run_colour, triangle_vertices  # noqa: E402

SQRT3_2 = math.sqrt(3) / 2
CORNERS = np.array([(0.0, 1.0), (-SQRT3_2, -0.5), (SQRT3_2, -0.5)])  # quality, diversity, speed
RUNS = [("vae:digits#1", 0.9, 0.2, 0.95), ("gan:ring8#2", 0.85, 0.6, None), ("ddpm:digits#3", 0.8, 0.95, 0.25)]
LONG_RUNS = RUNS + [("flow:moons#4", 0.5, math.nan, 0.7), ("pixelcnn:digits#5", 0.7, 0.8, 0.1)]


# --- triangle_vertices -------------------------------------------------------------

def test_full_scores_are_the_three_corners_at_distance_one():
    v = triangle_vertices(1, 1, 1)
    assert v.shape == (3, 2)
    np.testing.assert_allclose(v, CORNERS, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)


def test_half_scores_are_half_the_triangle():
    np.testing.assert_allclose(triangle_vertices(0.5, 0.5, 0.5), 0.5 * CORNERS, atol=1e-12)
    # Each score moves only its own corner.
    np.testing.assert_allclose(triangle_vertices(0.2, 0.6, 0.9), CORNERS * [[0.2], [0.6], [0.9]], atol=1e-12)


def test_unmeasured_scores_sit_at_the_centre():
    v = triangle_vertices(None, math.nan, 0.4)
    np.testing.assert_allclose(v[:2], 0.0)
    np.testing.assert_allclose(v[2], 0.4 * CORNERS[2])
    np.testing.assert_allclose(triangle_vertices(np.float32("nan"), 0.3, None)[[0, 2]], 0.0)


def test_scores_outside_zero_one_are_clipped():
    v = triangle_vertices(1.7, -0.2, 0.3)
    np.testing.assert_allclose(v[0], CORNERS[0])
    np.testing.assert_allclose(v[1], 0.0)
    np.testing.assert_allclose(v[2], 0.3 * CORNERS[2])


# --- the widget -------------------------------------------------------------------

def make(qtbot, size=400, runs=None):
    chart = TriangleChart()
    qtbot.addWidget(chart)
    chart.resize(size, size)
    chart.show()
    qtbot.waitExposed(chart)
    if runs is not None:
        chart.set_runs(runs)
    QApplication.processEvents()
    return chart


def polygons(chart):
    """The filled run triangles the plot holds (the guides are one path item, not data)."""
    item = chart.plot.getPlotItem()
    found = [i for i in item.items if isinstance(i, pg.PlotDataItem)]
    assert found == [i for i in item.getViewBox().addedItems if isinstance(i, pg.PlotDataItem)]
    return found


def legend_texts(chart):
    return [html.unescape(label.text) for _, label in chart.legend.items]


def test_a_fixed_picture(qtbot):
    chart = make(qtbot)
    assert chart.objectName() == "triangle-chart"
    item = chart.plot.getPlotItem()
    vb = item.getViewBox()
    assert vb.state["mouseEnabled"] == [False, False]
    assert vb.state["aspectLocked"]
    assert not item.getAxis("left").isVisible() and not item.getAxis("bottom").isVisible()
    chart.set_runs(RUNS)
    QApplication.processEvents()
    before = vb.viewRange()
    # Other scores, same legend: the axes stay put (0..1 is the same length in every picture).
    chart.set_runs([(label, *(None if v is None else 1.0 - v for v in scores)) for label, *scores in RUNS])
    QApplication.processEvents()
    np.testing.assert_allclose(vb.viewRange(), before)


def test_three_runs_three_triangles_and_a_legend(qtbot):
    chart = make(qtbot, runs=RUNS)
    assert [label for label, _ in chart.drawn] == [r[0] for r in RUNS]
    for (_, vertices), run in zip(chart.drawn, RUNS):
        np.testing.assert_allclose(vertices, triangle_vertices(*run[1:]))
    drawn = polygons(chart)
    assert len(drawn) == 3
    for item, (_, vertices) in zip(drawn, chart.drawn):
        x, y = item.getData()
        np.testing.assert_allclose(np.c_[x, y], np.vstack([vertices, vertices[:1]]))  # closed
        assert item.opts["fillLevel"] == "enclosed" and item.opts["fillBrush"] is not None
    assert legend_texts(chart) == ["vae:digits#1", "gan:ring8#2 (no speed)", "ddpm:digits#3"]
    assert not chart.hint.isVisible()


def test_legend_names_every_axis_not_measured(qtbot):
    chart = make(qtbot, runs=[("a", math.nan, 0.5, None), ("b<c", None, None, None)])
    assert legend_texts(chart) == ["a (no quality or speed)", "b<c (no quality, diversity or speed)"]
    chart.set_axis_labels(speed=("pace", "samples per second, log"))
    assert legend_texts(chart)[0] == "a (no quality or pace)"
    assert "pace" in chart._labels[2].toPlainText() and "samples per second" in chart._labels[2].toPlainText()
    assert chart._labels[0].toPlainText().strip() == "quality"  # None keeps a label


def test_no_runs_shows_the_hint_and_nothing_else(qtbot):
    chart = make(qtbot, runs=[])
    assert chart.hint.isVisible()
    assert "Measure runs" in chart.hint.toPlainText()
    assert chart.drawn == [] and polygons(chart) == [] and legend_texts(chart) == []


def test_set_runs_replaces_what_was_drawn(qtbot):
    chart = make(qtbot, runs=LONG_RUNS)
    assert len(polygons(chart)) == 5
    chart.set_runs([("vae", 0.9, 0.2, 0.95), ("gan", 0.85, 0.6, 0.95)])
    assert len(polygons(chart)) == 2
    assert legend_texts(chart) == ["vae", "gan"]
    assert [label for label, _ in chart.drawn] == ["vae", "gan"]
    chart.set_runs([])
    assert polygons(chart) == [] and chart.hint.isVisible()


def image_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    raw = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    # Copied: the array must not outlive the QImage's buffer.
    return raw[:, :image.width() * 4].reshape(image.height(), image.width(), 4)[..., 2::-1].copy()  # BGRA -> RGB


def plot_area(chart) -> np.ndarray:
    """The grabbed chart's pixels inside the plot area only (the legend's samples left out)."""
    image = image_array(chart.grab().toImage())
    vb = chart.plot.getPlotItem().getViewBox()
    rect = chart.plot.mapFromScene(vb.sceneBoundingRect()).boundingRect()
    origin = chart.plot.viewport().mapTo(chart, rect.topLeft())
    return image[origin.y():origin.y() + rect.height(), origin.x():origin.x() + rect.width()]


def has_colour(pixels: np.ndarray, colour, tolerance: int = 24) -> bool:
    target = np.array([colour.red(), colour.green(), colour.blue()])
    return bool((np.abs(pixels.astype(int) - target).max(axis=-1) <= tolerance).any())


def test_every_run_is_painted_in_its_colour(qtbot):
    runs = [("vae", 0.9, 0.2, 0.95), ("gan", 0.85, 0.6, 0.95), ("ddpm", 0.8, 0.95, 0.25)]
    chart = make(qtbot, 400)
    colours = [run_colour(i) for i in range(3)]
    assert len({c.name() for c in colours}) == 3
    empty = plot_area(chart)
    assert not any(has_colour(empty, c) for c in colours)  # the check can fail
    chart.set_runs(runs)
    QApplication.processEvents()
    drawn = plot_area(chart)
    for colour in colours:
        assert has_colour(drawn, colour), colour.name()


def test_a_given_colour_is_used_and_fills_the_triangle_translucently(qtbot):
    chart = make(qtbot, 400, runs=[("x", 1, 1, 1, (255, 0, 255))])
    assert has_colour(plot_area(chart), pg.mkColor(255, 0, 255))
    # A point inside the triangle, clear of the guide lines: tinted magenta, but light.
    image = image_array(chart.grab().toImage())
    at = chart.plot.viewport().mapTo(chart, chart.plot.mapFromScene(
        chart.plot.getPlotItem().getViewBox().mapViewToScene(pg.Point(0.35, 0.05))))
    r, g, b = (int(c) for c in image[at.y() - 1:at.y() + 2, at.x() - 1:at.x() + 2].reshape(-1, 3).min(axis=0))
    assert r > 200 and b > 200 and g < min(r, b) - 20, (r, g, b)


@pytest.mark.parametrize("runs", [RUNS, LONG_RUNS], ids=["3 runs", "5 runs"])
@pytest.mark.parametrize("size", [300, 500, 900])
def test_labels_and_triangle_stay_inside_at_any_size(qtbot, size, runs):
    chart = make(qtbot, size)
    chart.set_axis_labels(quality=("quality", "precision"), diversity=("diversity", "recall"),
                          speed=("speed", "samples per second, log"))
    chart.set_runs(runs)
    for _ in range(3):
        QApplication.processEvents()  # the legend's rows take their height from the plot
    chart.grab()  # text items place themselves when painted
    vb = chart.plot.getPlotItem().getViewBox()
    assert vb.height() < size - 40  # the legend's rows are there, under the plot
    box = vb.sceneBoundingRect()
    rects = [label.mapRectToScene(label.boundingRect()) for label in chart._labels]
    for rect in rects:
        assert box.contains(rect), (rect, box)
    assert not rects[1].intersects(rects[2]) and not rects[0].intersects(rects[1])
    # The whole triangle in view, and below the top label.
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 < -SQRT3_2 and x1 > SQRT3_2 and y0 < -0.5 and y1 > 1.0
    assert vb.mapViewToScene(pg.Point(0, 1)).y() > rects[0].bottom()
    # Bigger widgets draw a bigger triangle, not just more margin.
    if runs is RUNS:
        assert vb.width() / (x1 - x0) > 0.2 * size
