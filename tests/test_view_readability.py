"""Views that read cleanly and say what is true: legends beside the data, grid lines as
lines, a critic called a critic, theory colours that match the plots, a clicked decode
that follows the model, labels that never overlap, no stray buttons."""
import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pyqtgraph")
import torch  # noqa: E402
from conftest import registry_with  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

from visgen.core.imaging import class_color  # noqa: E402
from visgen.core.run import Run  # noqa: E402
from visgen.core.snapshots import (Bars, Field2D, Histogram, HistogramSeries, PointSet,  # noqa: E402
                                   Scatter)
from visgen.core.spec import ViewDecl, resolve  # noqa: E402
from visgen.core.trainer import to_numpy  # noqa: E402

rng = np.random.default_rng(0)


def make(qtbot, kind, cls, width=500, height=400, **decl):
    view = resolve("visgen.gui.views." + cls)(ViewDecl(id=kind, kind=kind, title=kind, **decl))
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    return view


# -- legends sit beside the data, never on it -------------------------------------------------

def ten_classes():
    return Scatter([PointSet("z", rng.normal(size=(300, 2)), rng.integers(0, 10, 300), [str(i) for i in range(10)]),
                    PointSet("samples", rng.normal(size=(50, 2)))])


@pytest.mark.parametrize("kind, cls, show", [
    ("scatter", "scatter:ScatterView", lambda v: v.show_snapshot(ten_classes())),
    ("field", "field:FieldView", lambda v: v.show_snapshot(
        Field2D(rng.random((8, 8)), (-3, 3, -3, 3), points=[PointSet("real", rng.normal(size=(40, 2)))]))),
    ("histogram", "histogram:HistogramView", lambda v: v.show_snapshot(
        Histogram([HistogramSeries("real", rng.normal(size=99)), HistogramSeries("fake", rng.normal(size=99))]))),
    ("lines", "lines:LinesView", lambda v: v.show_scalars(
        {"d_loss": (np.arange(50), rng.random(50)), "g_loss": (np.arange(50), rng.random(50))})),
])
def test_legend_lies_outside_the_data_area(qtbot, kind, cls, show):
    view = make(qtbot, kind, cls, scalars=("d_loss", "g_loss") if kind == "lines" else ())
    show(view)
    qtbot.wait(20)
    legend = view.legend
    assert legend.isVisible() and legend.items
    data_area = view.plot_item.getViewBox().sceneBoundingRect()
    box = legend.sceneBoundingRect()
    assert box.height() > 5 and not box.intersects(data_area), (box, data_area)
    assert box.top() >= data_area.bottom()  # below the plot, the x axis between
    # every entry is inside the view's widget, none cut off
    assert view.plot.sceneRect().contains(box)


# -- the warped z grid is drawn as lines ----------------------------------------------------------

def test_polyline_point_set_is_drawn_as_connected_lines(qtbot):
    view = make(qtbot, "field", "field:FieldView")
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)), -1).reshape(-1, 2)  # 4 rows of 5
    view.show_snapshot(Field2D(np.zeros((4, 4)), (-2, 2, -2, 2),
                               points=[PointSet("real", rng.normal(size=(9, 2))),
                                       PointSet("G(z grid)", grid, color=(0, 140, 60), polyline=5)]))
    dots, line = view.points.items[1], view.points.lines[1]
    assert not dots.isVisible() and len(dots.getData()[0]) == 0
    assert line.isVisible() and line.opts["symbol"] is None
    pen = line.opts["pen"]
    assert pen.style() == Qt.SolidLine and pen.widthF() >= 1.0
    np.testing.assert_allclose(np.column_stack(line.getData()), grid)
    # joined within a grid line, never from the end of one to the start of the next
    assert list(line.opts["connect"]) == ([True] * 4 + [False]) * 4
    assert view.points.items[0].isVisible() and not view.points.lines[0].isVisible()


def gan_run(model, **params):
    run = Run(registry_with("gan"), model, "ring8", params=params, seed=0, device="cpu", threads=1,
              dataset_options={"n": 2000})
    run.train(2)
    return run


def test_gan_decision_map_draws_the_z_grid_as_lines(qtbot):
    run = gan_run("gan")
    field = run.trainer.snapshot("decision")
    grid = next(p for p in field.points if p.name == "G(z grid)")
    assert grid.polyline == 60 and len(grid.xy) == 2 * 15 * 60
    view = make(qtbot, "field", "field:FieldView")
    view.show_snapshot(field)
    i = [p.name for p in field.points].index("G(z grid)")
    assert view.points.lines[i].isVisible() and not view.points.items[i].isVisible()


# -- a Wasserstein critic is called a critic ---------------------------------------------------------

@pytest.mark.parametrize("model, name", [("gan", "D(x)"), ("lsgan", "D(x)"), ("wgan", "critic f(x)"),
                                         ("wgan-gp", "critic f(x)")])
def test_scores_are_named_for_what_outputs_them(model, name):
    spec = registry_with("gan").models[model]
    titles = {v.id: v.title for v in spec.views}
    critic = name.startswith("critic")
    assert titles["scores"] == f"{name} on real vs fake"
    assert titles["decision"].startswith("Critic" if critic else "Discriminator")
    assert ("f(G(z))" in titles["score_means"]) == critic
    run = gan_run(model)
    hist = run.trainer.snapshot("scores")
    assert [s.name for s in hist.series] == [f"{name} on real", f"{name} on fake"]
    assert hist.x_label == name and run.trainer.snapshot("decision").value_label == name


# -- the theory names the colours the plots use ---------------------------------------------------------

COLOURS = {"black": (20, 20, 20), "magenta": (200, 0, 200), "green": (0, 140, 60)}


@pytest.mark.parametrize("model", ["gan", "wgan", "wgan-gp", "lsgan", "cgan"])
def test_gan_theory_names_the_colours_of_the_decision_map(model):
    from visgen_gan import trainer

    spec = registry_with("gan").models[model]
    text = " ".join(re.sub(r"<[^>]+>", "", spec.theory + " " + next(v.help for v in spec.views
                                                                     if v.id == "decision")).split())
    assert COLOURS["black"] == trainer.REAL and COLOURS["magenta"] == trainer.FAKE
    assert COLOURS["green"] == trainer.GRID[:3]
    assert "black dots are real" in text and "green lines" in text
    assert ("magenta" in text) and ("coloured by class" in text) == (model == "cgan")
    for wrong in ("grey dots", "red dots", "blue dots", "(red)", "blue:"):
        assert wrong not in text, wrong  # colours no plot of this model uses for points
    assert ("critic" in text) == model.startswith("wgan")


# -- a clicked decode follows the model --------------------------------------------------------------

def vae_run(dataset, **params):
    run = Run(registry_with("vae"), "vae", dataset, params={"hidden": 64, "batch_size": 64, **params}, seed=0,
              device="cpu", threads=1, dataset_options={} if dataset == "digits" else {"n": 2000})
    run.train(3)
    return run


def test_clicked_image_is_decoded_again_as_the_model_trains():
    run = vae_run("digits", latent_dim=3)
    run.trainer.snapshot("latent")  # the plot's PCA, which a click is read through
    first = run.trainer.on_click("latent", 0.4, -0.6)["decoded"].images[0]
    run.train(150)
    again = run.trainer.snapshot("decoded")
    assert again is not None, "the decoded view forgot the click"
    z = run.trainer.pca.inverse(np.array([[0.4, -0.6]], np.float32))
    want = run.trainer.decode(z)[0, 0]
    np.testing.assert_allclose(again.images[0], want, atol=1e-5)   # today's decoder at the click
    assert np.abs(again.images[0] - first).max() > 1e-3              # which has moved on


def test_clicked_point_is_decoded_again_in_the_samples_plot():
    run = vae_run("ring8")
    first = run.trainer.on_click("latent", 0.2, 0.3)["samples2d"]
    run.train(150)
    series = {p.name: p for p in run.trainer.snapshot("samples2d").series}
    assert "decoded click" in series
    with torch.no_grad():
        want = to_numpy(run.trainer.model.mean(torch.tensor([[0.2, 0.3]])))
    np.testing.assert_allclose(series["decoded click"].xy, want, atol=1e-5)
    assert not np.allclose(series["decoded click"].xy, first.series[-1].xy, atol=1e-4)


# -- bar labels never overlap ----------------------------------------------------------------------

def drawn_labels(view):
    """The tick labels as pyqtgraph draws them: (rect in axis coordinates, text)."""
    image = QImage(10, 10, QImage.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = view.plot_item.getAxis("bottom").generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in specs[2]]


@pytest.mark.parametrize("n, width", [(10, 260), (20, 400), (10, 500), (20, 900)])
def test_bar_labels_never_overlap(qtbot, n, width):
    view = make(qtbot, "bars", "bars:BarsView", width=width, height=300)
    view.show_snapshot(Bars([f"t={100 * i}" for i in range(n)], rng.random(n)))
    qtbot.wait(20)
    labels = drawn_labels(view)
    assert len(labels) >= min(n, 4), labels   # thinned, not gone
    for (a, _), (b, _) in zip(labels, labels[1:]):
        assert a.right() < b.left(), (a, b)
    shown = [t for _, t in labels]
    assert shown[0] == "t=0"


def test_multi_line_bar_labels_get_room_for_every_line(qtbot):
    view = make(qtbot, "bars", "bars:BarsView", width=400, height=300)
    labels = ["DDPM 1000 steps\n8 modes, HQ 0.21", "DDIM 50 steps\n8 modes, HQ 0.28"]
    view.show_snapshot(Bars(labels, [4.0, 0.2]))
    qtbot.wait(20)
    drawn = drawn_labels(view)
    assert [t for _, t in drawn] == labels            # neither skipped for want of room nor shortened
    axis = view.plot_item.getAxis("bottom")
    assert all(axis.boundingRect().contains(r) for r, _ in drawn)  # not clipped by the axis either


# -- switching runs leaves no stray phase buttons ---------------------------------------------------

def test_phase_buttons_of_another_run_are_gone_at_once(make_window, qtbot):
    window = make_window(registry_with("gan", "vae"))
    runs = [window.new_run("gan", "ring8"), window.new_run("vae", "ring8"), window.new_run("gan", "ring8")]
    try:
        panel = window.panel
        for row in (0, 1, 2, 0):
            panel.run_list.setCurrentRow(row)
        QApplication.processEvents()  # shows the new buttons; deferred deletes may wait longer
        visible = [b for b in panel.findChildren(QPushButton) if b.objectName().startswith("step-")
                   and b.isVisible()]
        in_row = [panel.phase_row.itemAt(i).widget() for i in range(panel.phase_row.count())]
        assert sorted(b.objectName() for b in visible) == ["step-D", "step-G"]
        assert set(visible) == set(in_row)
    finally:
        for run in runs:
            run.stop()
        for run in runs:
            run.stop().result(timeout=10)


def test_collapsed_kl_bars_are_seen_to_collapse(qtbot):
    """The axis keeps the stated floor when every bar shrinks to ~1e-5; marked bars are grey."""
    from visgen import Bars, ViewDecl
    from visgen.gui.views.bars import MARKED_BRUSH, BarsView

    view = BarsView(ViewDecl("kl", "bars", "KL"))
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    view.show_snapshot(Bars(["z1", "z2"], np.array([1.5, 0.8]), y_max=1.0, threshold=0.01))
    assert view.plot_item.viewRange()[1][1] == pytest.approx(1.5 * 1.05)
    view.show_snapshot(Bars(["z1", "z2"], np.array([1e-5, 2e-5]), y_max=1.0, threshold=0.01,
                            marked=np.array([True, True])))
    assert view.plot_item.viewRange()[1][1] == pytest.approx(1.05)   # not 2e-5: the collapse shows
    assert all(b is MARKED_BRUSH for b in view.bars.opts["brushes"])
    assert view.threshold.isVisible() and view.threshold.value() == pytest.approx(0.01)


# -- a smoothing slider only where there is something to smooth -----------------------------------

def test_sparse_series_get_no_smoothing_slider(qtbot):
    """Coverage is measured every few hundred steps and drawn as points: a slider would do nothing."""
    view = make(qtbot, "lines", "lines:LinesView", scalars=("modes_covered", "high_quality"))
    view.sparse = frozenset({"modes_covered", "high_quality"})
    view.show_scalars({"modes_covered": (np.arange(0, 1000, 250), np.array([0, 5, 8, 8.0])),
                       "high_quality": (np.arange(0, 1000, 250), np.array([0, .1, .4, .6]))})
    assert not view.smoothing.isVisible() and not view.smooth_label.isVisible()
    view.sparse = frozenset({"modes_covered"})  # a dense series joins: its curve can be smoothed
    view.show_scalars({"modes_covered": (np.arange(0, 1000, 250), np.array([0, 5, 8, 8.0])),
                       "loss": (np.arange(1000), rng.random(1000))})
    assert view.smoothing.isVisible() and view.smooth_label.isVisible()


def test_a_picture_view_says_what_it_will_show_before_its_first_picture(qtbot):
    """'Decoded from click' is filled by a click elsewhere: an empty box would not say so."""
    from visgen.core.snapshots import ImageGrid

    view = make(qtbot, "image_grid", "image_grid:ImageGridView", help="Click a point in the latent space")
    assert view.freshness.text() == "Click a point in the latent space"
    snap = ImageGrid(np.zeros((1, 8, 8)))
    snap.step = 12
    view.show_snapshot(snap)
    view.show_freshness("step 12")
    assert view.freshness.text() == "step 12"
    view.clear()  # a Reset: nothing shown, the hint is back
    assert view.freshness.text() == "Click a point in the latent space"


def test_polyline_frames_draw_each_run_as_a_line_coloured_by_its_label(qtbot):
    """A flow's z grid pulled back layer by layer: lines, horizontal and vertical in two colours."""
    from visgen.core.snapshots import FrameSequence

    view = make(qtbot, "frames", "frames:FramesView")
    t = np.linspace(-1, 1, 5)
    grid = np.concatenate([np.stack([t, np.full(5, c)], 1) for c in (-1, 1)] +     # 2 horizontal lines
                          [np.stack([np.full(5, c), t], 1) for c in (-1, 1)])      # 2 vertical ones
    frames = np.stack([grid, grid * 2])
    view.show_snapshot(FrameSequence(["z", "x"], points=frames, point_labels=np.repeat([0, 1], 10), polyline=5))
    shown = [item for item in view.lines if item.isVisible()]
    assert len(shown) == 2 and not len(view.scatter.getData()[0])             # lines, no dots
    for item, label in zip(shown, (0, 1)):
        x, _ = item.getData()
        assert len(x) == 10 and item.opts["pen"].color().getRgb()[:3] == tuple(class_color(label))
    assert np.array_equal(view.current_frame(), grid * 2)                     # the last frame
    view.slider.setValue(0)
    assert np.allclose(shown[0].getData()[0], grid[:10, 0])
    with pytest.raises(ValueError, match="whole runs"):
        FrameSequence(["z"], points=frames[:1, :7], polyline=5)
