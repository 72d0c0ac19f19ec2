"""Several runs in one window: a page per run, tabs or side by side, layouts per model.

Each test builds a real ``MainWindow`` (offscreen, 1600x1000) with its own settings
file; the autouse fixture checks that no run's thread outlives the test.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from conftest import registry_with, settings_at

pytest.importorskip("pytestqt")
import shiboken6  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QTabBar, QToolButton  # noqa: E402

from visgen.gui.main_window import fair_shares  # noqa: E402

WAIT = 30_000  # ms: a loaded 2-core machine; passing waits return as soon as they can
MIN_W, MIN_H = 200, 150  # the smallest dock that still reads as a picture


def big_window(make_window, *plugins, settings=None):
    window = make_window(registry_with(*plugins), settings=settings)
    window.resize(1600, 1000)
    return window


def click_tab(qtbot, window, run) -> None:
    i = next(i for i in range(window.tabs.count()) if window.tabs.tabData(i) is run)
    qtbot.mouseClick(window.tabs, Qt.LeftButton, pos=window.tabs.tabRect(i).center())


def on_screen(dock) -> bool:
    return dock.isVisible() and not dock.visibleRegion().isEmpty()


def roomy(dock) -> bool:
    return on_screen(dock) and dock.width() >= MIN_W and dock.height() >= MIN_H


def test_three_runs_each_get_a_whole_page_and_one_click_switches(qtbot, make_window):
    window = big_window(make_window, "vae", "gan", "ddpm")
    runs = [window.new_run("vae", "digits"), window.new_run("gan", "ring8"), window.new_run("ddpm", "ring8")]
    assert window.panel.current is runs[-1] and window.tabs.currentIndex() == 2  # the new run is shown
    assert [window.tabs.tabText(i) for i in range(3)] == [r.name for r in runs]
    for run in (runs[1], runs[0], runs[2]):
        click_tab(qtbot, window, run)
        assert window.panel.current is run  # the run list follows the tab
        docks = window.run_views[run].docks
        qtbot.waitUntil(lambda: all(roomy(d) for d in docks.values()), timeout=WAIT)
        for other in runs:
            if other is not run:
                assert not any(d.isVisible() for d in window.run_views[other].docks.values())
    assert window.run_views[runs[1]].docks["decision"].height() >= MIN_H  # the GAN's decision map

    window.panel.run_list.setCurrentRow(0)  # and the tab follows the run list
    assert window.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: all(roomy(d) for d in window.run_views[runs[0]].docks.values()), timeout=WAIT)
    assert 300 <= window.panel_dock.width() < 400

    window.side_by_side.setChecked(True)  # three pages at once do not widen the window or the panel
    qtbot.waitUntil(lambda: all(window.pages[r].isVisible() for r in runs), timeout=WAIT)
    qtbot.wait(50)
    assert window.width() == 1600 and window.panel_dock.width() < 400


def snapshot_step(view) -> int:
    return -1 if view.last_snapshot is None else view.last_snapshot.step


def test_side_by_side_both_runs_keep_updating(qtbot, make_window, one_torch_thread, stop_runs):
    window = big_window(make_window, "vae", "gan")
    vae, gan = window.new_run("vae", "digits"), window.new_run("gan", "ring8")
    latent, decision = window.run_views[vae].views["latent"], window.run_views[gan].views["decision"]
    assert window.pages[gan].isVisible() and not window.pages[vae].isVisible()  # tabs: one at a time
    qtbot.mouseClick(window.findChild(QToolButton, "side-by-side-button"), Qt.LeftButton)
    assert window.side_by_side.isChecked()
    for run in (vae, gan):
        stop_runs(run)
        run.start()
    qtbot.waitUntil(lambda: snapshot_step(latent) > 0 and snapshot_step(decision) > 0, timeout=WAIT)
    seen = snapshot_step(latent), snapshot_step(decision)
    qtbot.waitUntil(lambda: snapshot_step(latent) > seen[0] and snapshot_step(decision) > seen[1],
                    timeout=WAIT)
    assert on_screen(window.run_views[vae].docks["latent"]) and on_screen(window.run_views[gan].docks["decision"])


def test_closing_a_run_removes_its_page_and_docks(qtbot, make_window):
    window = big_window(make_window, "vae", "gan")
    vae, gan = window.new_run("vae", "digits"), window.new_run("gan", "ring8")
    page, docks = window.pages[gan], list(window.run_views[gan].docks.values())
    close = window.tabs.tabButton(1, QTabBar.RightSide)  # the tab's own close button
    qtbot.mouseClick(close, Qt.LeftButton)
    assert window.runs == [vae] and list(window.pages) == [vae]
    assert window.tabs.count() == 1 and window.splitter.count() == 1
    assert window.panel.current is vae
    qtbot.waitUntil(lambda: not any(shiboken6.isValid(w) for w in [page, *docks]), timeout=WAIT)
    qtbot.waitUntil(lambda: all(roomy(d) for d in window.run_views[vae].docks.values()), timeout=WAIT)

    window.close_run(vae)  # the Close run button's path; nothing left: the hint shows
    assert window.tabs.count() == 0 and window.splitter.count() == 0
    qtbot.waitUntil(window.empty_hint.isVisible, timeout=WAIT)


def test_layout_is_kept_per_model(qtbot, make_window, tmp_path):
    window = big_window(make_window, "vae", "gan", settings=settings_at(tmp_path, "layout.ini"))
    first = window.new_run("vae", "digits")
    page, docks = window.pages[first], window.run_views[first].docks
    qtbot.waitUntil(lambda: all(roomy(d) for d in docks.values()), timeout=WAIT)
    docks["kl_dims"].close()
    qtbot.wait(50)  # the column closes up first
    page.resizeDocks([docks["losses"], docks["latent"], docks["samples"]], [700, 250, 250], Qt.Horizontal)
    qtbot.waitUntil(lambda: docks["losses"].width() > 600, timeout=WAIT)
    qtbot.wait(50)
    wide = docks["losses"].width()
    window.close_run(first)  # saves the page's layout under the model

    second = window.new_run("vae", "digits")
    again = window.run_views[second].docks
    qtbot.waitUntil(lambda: not window.pages[second].settling, timeout=WAIT)
    assert all(on_screen(d) for view_id, d in again.items() if view_id != "kl_dims")
    assert again["kl_dims"].isHidden()
    assert abs(again["losses"].width() - wide) < 10, (again["losses"].width(), wide)

    window.default_layout_action.trigger()  # View > Default layout of this run: the grid again
    qtbot.waitUntil(lambda: all(roomy(d) for d in again.values()), timeout=WAIT)

    for model, data in (("gan", "ring8"), ("vae", "ring8")):  # another model; other views of the VAE
        run = window.new_run(model, data)
        qtbot.waitUntil(lambda: not window.pages[run].settling, timeout=WAIT)
        docks = window.run_views[run].docks
        assert all(roomy(d) for d in docks.values())
        assert docks["losses"].width() < 600  # the grid's third of the width


def test_a_layout_made_side_by_side_fills_a_whole_page_in_proportion(qtbot, make_window):
    window = big_window(make_window, "vae", "gan")
    window.side_by_side.setChecked(True)
    narrow = window.new_run("vae", "digits")
    window.new_run("gan", "ring8")
    qtbot.waitUntil(lambda: not window.pages[narrow].settling, timeout=WAIT)
    window.run_views[narrow].docks["kl_dims"].close()  # a layout of its own, to see it restored
    window.close_run(narrow)
    window.side_by_side.setChecked(False)
    wide = window.new_run("vae", "digits")
    qtbot.waitUntil(lambda: not window.pages[wide].settling, timeout=WAIT)
    docks = window.run_views[wide].docks
    assert docks["kl_dims"].isHidden()
    assert all(roomy(d) for view_id, d in docks.items() if view_id != "kl_dims")
    widths = [docks[v].width() for v in ("losses", "latent", "samples")]  # the three columns
    assert max(widths) < 1.2 * min(widths), widths


def test_fair_shares():
    assert fair_shares([300, 400], 1200) == [600, 600]            # equal when both fit
    assert fair_shares([900, 100], 1200) == [900, 300]           # the needy page gets what it needs
    assert fair_shares([800, 800], 1200) == [600, 600]           # neither fits: in proportion
    assert sum(fair_shares([786, 644], 1270)) <= 1270


def test_curves_of_a_hidden_tab_are_not_drawn_until_shown(qtbot, make_window):
    """A run in a hidden tab trains on, but its loss curves cost the GUI thread nothing."""
    window = big_window(make_window, "vae", "gan")
    hidden, shown = window.new_run("vae", "digits"), window.new_run("gan", "ring8")
    hidden.start()
    loss = window.run_views[hidden].views["losses"]
    qtbot.waitUntil(lambda: hidden.step > 50, timeout=WAIT)
    qtbot.wait(600)                                      # several redraw intervals pass
    assert loss.freshness.text() == ""                   # never drawn while hidden
    click_tab(qtbot, window, hidden)
    qtbot.waitUntil(lambda: loss.freshness.text().startswith("to step "), timeout=WAIT)
    assert shown.step == 0
