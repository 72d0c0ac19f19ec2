"""The Compare window: runs on one data set measured side by side, rows that say when they
were measured, the preset that trains the families, and one view of every run."""
import csv
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from conftest import registry_with  # noqa: E402
from visgen.cli.main import main  # noqa: E402

N = 400  # samples per run: the metrics' numbers are not under test here, the window is


def trained(window, qtbot, model, dataset="ring8", steps=150):
    """An open run trained to ``steps`` (FINISHED) in its worker, as the window trains it."""
    run = window.new_run(model, dataset, max_steps=steps)
    run.start()
    qtbot.waitUntil(lambda: run.status.state.ended, timeout=60_000)
    return run


def measured(window, qtbot, ticked):
    cw = window.open_compare()
    cw.n_box.setValue(N)
    cw.check(ticked)
    assert cw.measure()
    qtbot.waitUntil(lambda: not cw.measuring, timeout=120_000)
    qtbot.waitUntil(lambda: cw.measure_button.isEnabled(), timeout=5_000)  # the finished signal arrived
    return cw


def cells(cw, row):
    return [cw.table.item(row, j).text() for j in range(cw.table.columnCount())]


def headings(cw):
    return [cw.table.horizontalHeaderItem(j).text() for j in range(cw.table.columnCount())]


@pytest.fixture
def window(make_window):
    return make_window(registry_with("vae", "gan"))


def test_one_row_per_ticked_run_beside_real_data_with_grids_and_the_triangle(window, qtbot, tmp_path):
    vae, gan = trained(window, qtbot, "vae"), trained(window, qtbot, "gan")
    third = window.new_run("gan", "ring8")  # open, not ticked: no row
    cw = measured(window, qtbot, [vae, gan])
    assert cw.table.rowCount() == 3, [cells(cw, i) for i in range(cw.table.rowCount())]
    assert cells(cw, 0)[0] == "held-out real data"
    assert [cells(cw, i)[0] for i in (1, 2)] == [vae.name, gan.name]
    assert all(cells(cw, i)[1] == "150" for i in (1, 2))  # the step each was measured at
    heads = headings(cw)
    for name in ("energy", "prec", "recall", "modes", "ms/sample"):
        assert name in heads
    energy = heads.index("energy")
    assert abs(float(cells(cw, 0)[energy])) < 0.05  # real data against real data: about 0
    assert float(cells(cw, 1)[energy]) > 0
    assert third.name not in [cells(cw, i)[0] for i in range(3)]
    assert len(cw.panels.panels) == 2
    assert not cw.pictures.isTabEnabled(1) and not cw.pictures.isTabEnabled(2)  # points: no images, no classes
    assert [label for label, _ in cw.chart.drawn] == [vae.name, gan.name]
    assert not cw.banner.isVisible()

    out = cw.export_csv(str(tmp_path / "t.csv"))
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["held-out real data", vae.name, gan.name]
    assert float(rows[2]["sample_time_ms"]) > 0 and "energy_distance" in rows[0]
    png = cw.export_png(str(tmp_path / "v.png"))
    image = QImage(png)
    assert (image.width(), image.height()) == (cw.width(), cw.height())


def test_a_row_says_when_its_run_has_moved_on(window, qtbot):
    run = window.new_run("gan", "ring8")
    run.step_once()
    qtbot.waitUntil(lambda: run.status.step == 1, timeout=30_000)
    cw = measured(window, qtbot, [run])
    assert cells(cw, 1)[1] == "1" and "(" not in cells(cw, 1)[0]
    run.step_once()
    qtbot.waitUntil(lambda: run.status.step == 2, timeout=30_000)
    cw._tick()
    assert cells(cw, 1)[0].endswith("(now at step 2)")
    assert cw.banner.isVisible() and "Press Measure" in cw.banner.text()
    window.close_run(run)
    cw._tick()
    assert cells(cw, 1)[0].endswith("(closed since)")
    assert cw.run_list.count() == 0  # a closed run can no longer be ticked


def test_runs_on_other_data_cannot_be_ticked_together(window, qtbot):
    a, b = window.new_run("gan", "ring8"), window.new_run("gan", "moons")
    cw = window.open_compare()
    cw.check([a, b])
    assert [c.run for c in cw.checked()] == [a]
    assert "different data" in cw.status.text() and b.name in cw.status.text()
    cw.check([])
    assert not cw.measure() and "Tick at least one run" in cw.status.text()


def test_a_saved_run_is_measured_beside_an_open_one(window, qtbot, tmp_path, capsys):
    folder = tmp_path / "saved"
    assert main(["train", "vae", "--dataset", "ring8", "--steps", "100", "--out", str(folder)]) == 0
    live = trained(window, qtbot, "gan")
    cw = window.open_compare()
    assert not cw.add_folder(str(tmp_path))  # not a run folder: one line naming it
    assert str(tmp_path) in cw.status.text()
    assert cw.add_folder(str(folder))
    cw = measured(window, qtbot, [live, str(folder)])
    labels = [cells(cw, i)[0] for i in range(cw.table.rowCount())]
    assert labels == ["held-out real data", live.name, "saved (vae)"]
    assert cells(cw, 2)[1] == "100"


def test_the_families_preset_trains_every_family_then_measures_them(window, qtbot, monkeypatch):
    import visgen.core.families as families
    monkeypatch.setitem(families.FAMILIES, "points", [("vae", 60), ("gan", 60), ("ddpm", 60)])
    runs = window.compare_families("ring8")
    assert [r.spec.id for r in runs] == ["vae", "gan"]  # this registry has no ddpm: left out, not an error
    assert all(r.max_steps == 60 for r in runs)
    cw = window.compare_window
    qtbot.waitUntil(lambda: cw.table.rowCount() == 3 and not cw.measuring, timeout=120_000)
    assert [cells(cw, i)[0] for i in (1, 2)] == [r.name for r in runs]
    assert all(cells(cw, i)[1] == "60" for i in (1, 2))


def test_one_view_of_every_run_side_by_side_and_back(window, qtbot, tmp_path):
    a, b, v = window.new_run("gan", "ring8"), window.new_run("gan", "ring8"), window.new_run("vae", "ring8")
    pages = window.pages
    view = next(vid for vid in pages[a].docks if vid not in pages[v].docks)  # a GAN-only view
    before = {r: {vid: not d.isHidden() for vid, d in pages[r].docks.items()} for r in (a, b)}
    window.show_one_view(view)
    assert window.side_by_side.isChecked()
    for r in (a, b):
        assert [vid for vid, d in pages[r].docks.items() if not d.isHidden()] == [view]
        assert window._frames[r].isVisible()
    assert not window._frames[v].isVisible()  # the VAE has no such view: its page steps aside
    png = QImage(window.save_pages_png(str(tmp_path / "pages.png")))
    assert png.width() == window.centralWidget().width()
    assert not window.save_pages_png(str(tmp_path / "no such folder" / "p.png"))
    assert "cannot be written" in window.statusBar().currentMessage()
    window.show_one_view(None)
    for r in (a, b):
        assert {vid: not d.isHidden() for vid, d in pages[r].docks.items()} == before[r]
    assert window._frames[v].isVisible()


def test_images_show_the_samples_nearest_a_training_image_above_it(window, qtbot):
    import numpy as np

    run = trained(window, qtbot, "vae", "digits", steps=100)
    cw = window.open_compare()
    cw.n_box.setValue(200)
    cw.check([run])
    assert cw.measure()
    qtbot.waitUntil(lambda: cw.measure_button.isEnabled() and cw.table.rowCount() == 2, timeout=120_000)
    assert "Frechet" in headings(cw) and cw.pictures.isTabEnabled(1)
    (_, measured, _), = cw.results
    assert len(measured.neighbours) == 4
    train = run.dataset.x.reshape(len(run.dataset.x), -1)
    for sample, image, distance in measured.neighbours:
        d = np.linalg.norm(train - sample.reshape(1, -1), axis=1)  # the whole training set, by brute force
        assert distance == pytest.approx(d.min(), rel=1e-5)
        assert np.array_equal(image.reshape(-1), train[d.argmin()])
    distances = [d for _, _, d in measured.neighbours]
    assert distances == sorted(distances)
    (caption, _), = cw.neighbours.panels
    assert f"{distances[0]:.2f}" in caption.text() and "held-out images: median" in caption.text()
    # which digits the samples are, beside real data's fractions
    assert cw.pictures.isTabEnabled(2)
    (_, plot, bars), = cw.histograms.plots
    heights = bars.opts["height"]
    assert len(heights) == 10 and sum(heights) == pytest.approx(1.0)
    assert list(heights) == pytest.approx(measured.row["class_histogram"])
    assert measured.row["class_names"] == [str(k) for k in range(10)]


def test_the_families_preset_on_data_it_cannot_use_says_so_in_one_line(window, qtbot):
    window.panel.select_model("vae")
    window.panel.select_dataset("csv")  # needs a path, and none is given
    window.families_action.trigger()
    assert window.runs == [] and window.statusBar().currentMessage().startswith("error: Compare the families:")
