"""The main window end to end: forms, controls, views, plugins, layout and shutdown.

Every test builds a real ``MainWindow`` (offscreen) with its own settings file,
drives it the way a user would where that is practical, and closes it at the
end, which stops its runs (the autouse ``no_leaked_threads`` fixture checks).
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from conftest import registry_with, settings_at

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QLabel, QLineEdit  # noqa: E402

from visgen import ModelSpec, Param, Snapshot, ViewDecl, ViewKind, hookimpl  # noqa: E402
from visgen.core.run import RunState  # noqa: E402
from visgen.gui.views.base import View  # noqa: E402
from visgen.gui.views.image_grid import ImageGridView  # noqa: E402
from visgen.gui.views.scatter import ScatterView  # noqa: E402

# ms: generous, for a loaded 2-core machine where the first run of a process also pays for
# importing scikit-learn and warming torch up; passing waits return as soon as they can.
WAIT = 30_000


def click(qtbot, button) -> None:
    assert button.isEnabled(), f"{button.objectName()} is disabled"
    qtbot.mouseClick(button, Qt.LeftButton)


def curve_len(view, name: str = "neg_elbo") -> int:
    curve = view.curves.get(name)
    if curve is None:
        return 0
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def stable_step(qtbot, run, quiet_ms: int = 300) -> int:
    """Wait until the step count stops moving for ``quiet_ms`` and return it."""
    while True:
        s = run.step
        qtbot.wait(quiet_ms)
        if run.step == s:
            return s


def wait_docks_shown(qtbot, window, run) -> dict:
    """New docks show once the event loop has laid them out."""
    docks = window.run_views[run].docks
    qtbot.waitUntil(lambda: all(d.isVisible() for d in docks.values()), timeout=WAIT)
    return docks


def run_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("visgen-") and t.is_alive()]


# -- 1. a run from the form --------------------------------------------------------------------

def test_new_run_from_form_trains_and_shows_views(qtbot, make_window, registry):
    window = make_window(registry)
    panel = window.panel
    assert not panel.train_button.isEnabled()  # nothing to train yet
    panel.select_model("vae")
    panel.select_dataset("digits")
    assert panel.dataset_box.currentData() == "digits"
    click(qtbot, window.findChild(type(panel.new_button), "new-run"))

    assert len(window.runs) == 1
    run = window.runs[0]
    assert (run.spec.id, run.dataset_spec.name, run.state) == ("vae", "digits", RunState.IDLE)
    views = window.run_views[run]
    declared = [v.id for v in registry.models["vae"].views_for("images")]
    assert list(views.docks) == declared + ["likelihood"]  # the runtime's curve (or why there is none)
    assert "samples2d" not in views.docks  # a points-only view
    for view_id, dock in views.docks.items():
        assert dock.parent() is window.pages[run] and dock.window() is window  # on the run's own page
        assert dock.objectName() == f"view:{view_id}"
    wait_docks_shown(qtbot, window, run)

    click(qtbot, panel.train_button)
    assert run.state == RunState.RUNNING
    losses, latent = views.views["losses"], views.views["latent"]
    assert isinstance(latent, ScatterView)
    qtbot.waitUntil(lambda: curve_len(losses) > 0 and latent.last_snapshot is not None, timeout=WAIT)
    # wait for a second latent snapshot so the item has been redrawn over an older one
    first = latent.last_snapshot
    qtbot.waitUntil(lambda: latent.last_snapshot is not first, timeout=WAIT)
    # no events are processed between these lines, so the view cannot move on meanwhile
    snap = latent.last_snapshot
    x, y = latent.items[0].getData()
    np.testing.assert_array_equal(np.column_stack([x, y]), snap.series[0].xy)
    assert len(x) == min(2000, len(run.dataset)) and snap.step > first.step

    qtbot.waitUntil(lambda: "steps/s" in window.speed_label.text(), timeout=WAIT)
    assert run.name in window.speed_label.text()
    assert "steps/s" in panel.status.text() and "running" in panel.status.text()
    assert panel.train_button.text() == "Pause"
    window.close()
    assert not run.alive


# -- 2. pause, single step, stop, reset --------------------------------------------------------

def test_pause_step_stop_reset(qtbot, make_window, registry):
    window = make_window(registry)
    run = window.new_run("vae", "digits")
    panel = window.panel
    losses = window.run_views[run].views["losses"]
    click(qtbot, panel.train_button)
    qtbot.waitUntil(lambda: run.step >= 20 and curve_len(losses) > 0, timeout=WAIT)

    click(qtbot, panel.train_button)  # now labelled Pause
    assert run.state == RunState.PAUSED
    paused_at = stable_step(qtbot, run)
    qtbot.wait(300)
    assert run.step == paused_at
    qtbot.waitUntil(lambda: panel.train_button.text() == "Resume", timeout=WAIT)

    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: run.step == paused_at + 1, timeout=WAIT)
    qtbot.wait(300)
    assert run.step == paused_at + 1 and run.state == RunState.PAUSED

    t0 = time.perf_counter()
    click(qtbot, panel.stop_button)  # returns at once; the worker ends after its current call
    assert time.perf_counter() - t0 < 0.5
    qtbot.waitUntil(lambda: run.state == RunState.STOPPED and not run.alive, timeout=3000)
    assert run.trainer is not None  # kept for saving

    assert curve_len(losses) > 0
    click(qtbot, panel.reset_button)
    qtbot.waitUntil(lambda: run.step == 0 and run.state == RunState.IDLE and run.trainer is None, timeout=3000)
    qtbot.waitUntil(lambda: curve_len(losses) == 0, timeout=3000)  # the views follow the new generation
    assert curve_len(losses) == 0
    qtbot.wait(200)  # a few pulls: nothing comes back
    assert curve_len(losses) == 0
    qtbot.waitUntil(lambda: "step 0" in panel.status.text(), timeout=WAIT)
    window.close()


# -- 3. the hyperparameter form ------------------------------------------------------------------

def type_into(qtbot, editor: QLineEdit, text: str) -> None:
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key_Return)


def first_width(run) -> int:
    import torch
    return next(m for m in run.trainer.model.encoder.modules() if isinstance(m, torch.nn.Linear)).out_features


def test_param_form_refuses_bad_values_applies_live_and_flags_structural(qtbot, make_window, registry):
    window = make_window(registry)
    run = window.new_run("vae", "digits")
    form = window.panel.param_form
    run.step_once()  # build the trainer, so later changes are changes to a live model
    qtbot.waitUntil(lambda: run.step == 1, timeout=WAIT)
    assert run.trainer.params["beta"] == 1.0

    beta = form.findChild(QLineEdit, "param-beta")
    lr = form.findChild(QLineEdit, "param-lr")
    assert beta is not None and lr is not None and beta.text() == "1"
    for editor, name, bad in ((beta, "beta", "-1"), (beta, "beta", "abc"), (lr, "lr", "5")):
        before = run.params.values[name]
        form.message.clear()
        type_into(qtbot, editor, bad)
        msg = form.message.text()
        assert "Refused" in msg and name in msg, msg
        assert run.params.values[name] == before
        assert editor.text() == form._fmt(before)
        assert "d62728" in editor.styleSheet()  # red border
    assert run.trainer.params["beta"] == 1.0 and run.trainer.params["lr"] == 1e-3

    type_into(qtbot, beta, "4")
    assert run.params.values["beta"] == 4.0 and beta.styleSheet() == ""
    assert "next step" in form.message.text()
    assert not run.status.needs_reset
    run.step_once()
    qtbot.waitUntil(lambda: run.step == 2, timeout=WAIT)
    assert run.trainer.params["beta"] == 4.0

    hidden = form.findChild(QLineEdit, "param-hidden")
    type_into(qtbot, hidden, "64")
    assert run.params.values["hidden"] == 64
    assert run.status.needs_reset
    assert "Reset" in form.message.text()
    qtbot.waitUntil(lambda: "Reset to apply" in window.panel.status.text(), timeout=WAIT)
    assert first_width(run) == 256  # the change does not touch the model until Reset

    click(qtbot, window.panel.reset_button)  # returns at once; the reset happens in the worker's wake
    qtbot.waitUntil(lambda: run.trainer is None and not run.status.needs_reset, timeout=WAIT)
    run.step_once()
    qtbot.waitUntil(lambda: run.step == 1, timeout=WAIT)
    assert first_width(run) == 64
    assert run.trainer.params["beta"] == 4.0  # the live value survived the reset
    window.close()


# -- 4. click to decode ------------------------------------------------------------------------

def test_click_on_latent_decodes_that_point(qtbot, make_window, registry):
    window = make_window(registry)
    run = window.new_run("vae", "digits")
    views = window.run_views[run]
    latent, decoded = views.views["latent"], views.views["decoded"]
    assert isinstance(decoded, ImageGridView)
    run.start()
    qtbot.waitUntil(lambda: run.step >= 30 and latent.last_snapshot is not None, timeout=WAIT)
    assert decoded.last_snapshot is None  # nothing is decoded before a click

    # a real click in the middle of the plot area
    vb = latent.plot_item.getViewBox()
    centre = vb.sceneBoundingRect().center()
    pos = latent.plot.mapFromScene(centre)
    with qtbot.waitSignal(latent.clicked, timeout=WAIT) as sig:
        qtbot.mouseClick(latent.plot.viewport(), Qt.LeftButton, pos=QPoint(pos.x(), pos.y()))
    x, y = sig.args
    expected = vb.mapSceneToView(centre)
    (x0, x1), (y0, y1) = vb.viewRange()
    assert abs(x - expected.x()) < 0.02 * (x1 - x0) and abs(y - expected.y()) < 0.02 * (y1 - y0)
    assert latent.marker.isVisible()

    qtbot.waitUntil(lambda: decoded.last_snapshot is not None, timeout=WAIT)
    snap = decoded.last_snapshot
    assert snap.images.shape[0] == 1
    assert snap.images.min() >= 0.0 and snap.images.max() <= 1.0
    assert decoded.image.image is not None

    # the signal path too: emitting (0, 0) decodes z = (0, 0)
    decoded.last_snapshot = None
    latent.clicked.emit(0.0, 0.0)
    qtbot.waitUntil(lambda: decoded.last_snapshot is not None, timeout=WAIT)
    assert decoded.last_snapshot.images.shape[0] == 1
    window.close()


# -- 5. failing and diverging trainers -----------------------------------------------------------

class BoomTrainer:
    """A callable class as trainer factory; its step always raises."""

    def __init__(self, ctx):
        self.params = dict(ctx.params)
        self.step_count = 0

    def step(self, phase=None):
        raise RuntimeError("kaboom in step")

    def set_params(self, changed):
        self.params.update(changed)

    def snapshot(self, view_id):
        return None


class NaNTrainer(BoomTrainer):
    def step(self, phase=None):
        return {"loss": 1.0 if self.step_count < 3 else float("nan")}


class TinyModels:
    @hookimpl
    def visgen_register_models(self):
        views = [ViewDecl("loss", "lines", "Loss", scalars=("loss",))]
        common = dict(family="Test", summary="test model", views=views, data_kinds=("points",),
                      default_dataset="ring8", params=[Param("lr", 0.1, min=0.0, max=1.0, live=True)])
        return [ModelSpec(id="boom", title="Boom", trainer=BoomTrainer, **common),
                ModelSpec(id="nan", title="NaN", trainer=NaNTrainer, **common)]


def test_failing_trainer_is_reported_and_others_keep_training(qtbot, make_window, registry):
    assert registry.register(TinyModels(), "tiny").ok
    window = make_window(registry)
    vae = window.new_run("vae", "digits")
    vae.start()
    boom = window.new_run("boom")
    assert window.panel.current is boom and boom.dataset_spec.name == "ring8"
    # the runtime measures coverage on ring8, and likelihood (or says why there is none) everywhere
    assert list(window.run_views[boom].docks) == ["loss", "coverage", "likelihood"]
    click(qtbot, window.panel.train_button)
    qtbot.waitUntil(lambda: boom.state == RunState.FAILED, timeout=WAIT)
    assert "kaboom in step" in boom.status.error and "RuntimeError" in boom.status.traceback

    panel = window.panel
    qtbot.waitUntil(lambda: "kaboom in step" in panel.status.text(), timeout=WAIT)
    assert "failed" in panel.status.text()
    assert panel.details_button.isVisible() and panel.details_button.objectName() == "details"
    assert not panel.train_button.isEnabled() and not panel.step_button.isEnabled()

    before = vae.step
    qtbot.waitUntil(lambda: vae.step > before + 20, timeout=WAIT)
    assert vae.state == RunState.RUNNING and vae.status.error is None
    window.close()
    assert not vae.alive and not boom.alive


def test_nan_stops_run_as_diverged_and_names_the_scalar(qtbot, make_window, registry):
    assert registry.register(TinyModels(), "tiny").ok
    window = make_window(registry)
    run = window.new_run("nan")
    click(qtbot, window.panel.train_button)
    qtbot.waitUntil(lambda: run.state == RunState.DIVERGED, timeout=WAIT)
    assert run.step == 4  # three finite steps, then the NaN
    assert run.status.message.startswith("loss became nan at step 4")
    qtbot.waitUntil(lambda: "loss became nan" in window.panel.status.text(), timeout=WAIT)
    assert "diverged" in window.panel.status.text()
    assert not window.panel.train_button.isEnabled()  # Reset first
    assert not window.panel.details_button.isVisible()
    qtbot.wait(200)
    assert run.step == 4  # it stays paused
    window.close()


# -- 6. the layout is restored -----------------------------------------------------------------

def test_layout_and_geometry_restored(qtbot, make_window, registry, tmp_path):
    window_a = make_window(registry, settings=settings_at(tmp_path, "layout.ini"))
    run = window_a.new_run("vae", "digits")
    # The offscreen screen is 800x800 and restoreGeometry fits windows to the screen,
    # so the saved size must fit too to be restored exactly.
    window_a.resize(780, 720)
    qtbot.waitUntil(lambda: window_a.size().width() == 780, timeout=WAIT)
    size_a = (window_a.size().width(), window_a.size().height())
    assert size_a == (780, 720)
    kl_dock = wait_docks_shown(qtbot, window_a, run)["kl_dims"]
    assert not window_a.theory_dock.isFloating()
    window_a.theory_dock.setFloating(True)
    kl_dock.close()
    assert not kl_dock.isVisible()
    window_a.close()

    window_b = make_window(registry, settings=settings_at(tmp_path, "layout.ini"))
    assert (window_b.size().width(), window_b.size().height()) == size_a
    assert window_b.theory_dock.isFloating()
    run_b = window_b.new_run("vae", "digits")
    docks = window_b.run_views[run_b].docks
    assert docks["kl_dims"].objectName() == kl_dock.objectName()
    others = [d for view_id, d in docks.items() if view_id != "kl_dims"]
    qtbot.waitUntil(lambda: all(d.isVisible() for d in others), timeout=WAIT)
    qtbot.wait(100)  # the same event-loop turns that showed the others
    assert not docks["kl_dims"].isVisible() and docks["kl_dims"].isHidden()

    # a window told to ignore the saved layout does not restore it
    window_c = make_window(registry, settings=settings_at(tmp_path, "layout.ini"), restore_layout=False)
    assert not window_c.theory_dock.isFloating()
    assert window_c.size().width() == 1600
    for w in (window_b, window_c):
        w.close()


# -- 7. a clean, quick exit ------------------------------------------------------------------

def test_close_stops_all_runs_quickly(qtbot, make_window, registry):
    window = make_window(registry)
    runs = [window.new_run("vae", "digits"), window.new_run("vae", "ring8")]
    for r in runs:
        r.start()
    qtbot.waitUntil(lambda: all(r.step > 5 for r in runs), timeout=WAIT)
    assert len(run_threads()) == 2
    t0 = time.perf_counter()
    window.close()
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, f"close took {elapsed:.2f} s"
    assert run_threads() == []
    assert not window.timer.isActive()
    assert all(r.state == RunState.STOPPED for r in runs)


# -- 8. checkpoints ----------------------------------------------------------------------------

def test_checkpoint_save_load_and_corrupt_file(qtbot, make_window, registry, tmp_path):
    window = make_window(registry)
    run = window.new_run("vae", "digits", seed=1)
    run.start()
    qtbot.waitUntil(lambda: run.step >= 20, timeout=WAIT)
    run.stop().result(timeout=10)  # so the weights saved are the weights compared
    path = tmp_path / "vae.pt"
    assert run.save_checkpoint(path).result(timeout=30) == path

    run2 = window.new_run("vae", "digits", seed=2)
    run2.step_once()
    qtbot.waitUntil(lambda: run2.step == 1, timeout=WAIT)
    w1 = run.trainer.model.state_dict()
    assert not all(np.array_equal(w1[k].numpy(), v.numpy()) for k, v in run2.trainer.model.state_dict().items())

    window.panel.load_checkpoint(run2, path).result(timeout=30)  # loaded in the worker, not here
    qtbot.waitUntil(lambda: run2.trainer is not None and run2.step == run.step, timeout=WAIT)
    w2 = run2.trainer.model.state_dict()
    assert w1.keys() == w2.keys()
    for k in w1:
        np.testing.assert_array_equal(w1[k].numpy(), w2[k].numpy(), err_msg=k)
    assert window.panel.notes[run2] == (f"loaded {path}", False)
    qtbot.waitUntil(lambda: f"loaded {path}" in window.panel.status.text(), timeout=WAIT)
    run2.step_once()  # and it trains on from there
    qtbot.waitUntil(lambda: run2.step == run.step + 1, timeout=WAIT)

    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    step = run2.step
    window.panel.load_checkpoint(run2, bad).exception(timeout=30)  # must not raise here
    text, is_error = window.panel.notes[run2]
    assert is_error and "corrupt.pt" in text and "not a readable visgen checkpoint" in text
    qtbot.waitUntil(lambda: "corrupt.pt" in window.panel.status.text(), timeout=WAIT)
    assert "d62728" in window.panel.status.text()
    assert run2.step == step and run2.trainer is not None  # a bad file leaves the run as it was
    window.close()


# -- 9. a broken plugin is shown, the rest works ------------------------------------------------

class BrokenPlugin:
    @hookimpl
    def visgen_register_models(self):
        raise RuntimeError("the broken plugin broke")


def test_failed_plugin_listed_and_vae_still_works(qtbot, make_window, registry):
    info = registry.register(BrokenPlugin(), "broken-plugin", source="tests")
    assert not info.ok
    window = make_window(registry)
    text = window.plugins_view.toPlainText()
    line = next(l for l in text.splitlines() if "broken-plugin" in l)
    assert "failed" in line and "the broken plugin broke" in line
    assert "vae" in text and "ok" in next(l for l in text.splitlines() if l.startswith("vae"))
    msg = window.statusBar().currentMessage()
    assert "failed" in msg and "1 plugin" in msg

    run = window.new_run("vae", "digits")
    run.start()
    qtbot.waitUntil(lambda: run.step >= 10, timeout=WAIT)
    assert run.state == RunState.RUNNING
    window.close()


def test_no_failed_plugins_no_message(make_window, registry):
    window = make_window(registry, show=False)
    assert "failed" not in window.plugins_view.toPlainText()
    assert window.statusBar().currentMessage() == ""
    window.close()


# -- 10. a view kind from a plugin -------------------------------------------------------------

@dataclass
class Note(Snapshot):
    text: str


class TextView(View):
    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.label = QLabel(objectName="note-text")
        self.layout_.addWidget(self.label)

    def show_snapshot(self, snapshot: Note) -> None:
        self.last_snapshot = snapshot
        self.label.setText(snapshot.text)


class NoteTrainer(BoomTrainer):
    def step(self, phase=None):
        return {"loss": 1.0}

    def snapshot(self, view_id):
        return Note(f"{view_id} after {self.step_count} steps") if view_id == "note" else None


class TextPlugin:
    @hookimpl
    def visgen_register_views(self):
        return [ViewKind(name="text", widget=TextView, snapshot_types=(Note,))]

    @hookimpl
    def visgen_register_models(self):
        return [ModelSpec(id="noter", family="Test", title="Noter", summary="writes notes",
                          trainer=NoteTrainer, data_kinds=("points",), default_dataset="ring8",
                          views=[ViewDecl("loss", "lines", "Loss", scalars=("loss",)),
                                 ViewDecl("note", "text", "Note", datasets=("points",))])]


def test_plugin_view_kind_gets_a_dock_and_shows_snapshots(qtbot, make_window, registry):
    assert registry.register(TextPlugin(), "text-plugin").ok
    assert registry.view_kinds["text"].widget is TextView
    window = make_window(registry)
    run = window.new_run("noter")
    views = window.run_views[run]
    assert list(views.docks) == ["loss", "note", "coverage", "likelihood"]
    dock, view = views.docks["note"], views.views["note"]
    assert isinstance(view, TextView) and dock.widget() is view
    wait_docks_shown(qtbot, window, run)
    assert view.label.text() == ""
    for n in (1, 2, 3):
        run.step_once()
        qtbot.waitUntil(lambda: view.label.text() == f"note after {n} steps", timeout=WAIT)
    assert view.last_snapshot.step == 3
    window.close()


# -- 11. hidden views cost nothing ------------------------------------------------------------

def test_hidden_view_is_not_requested(qtbot, make_window, registry):
    window = make_window(registry)
    run = window.new_run("vae", "digits")
    views = window.run_views[run]
    run.start()
    qtbot.waitUntil(lambda: run.trainer is not None and views.views["latent"].last_snapshot is not None,
                    timeout=WAIT)
    counts: Counter = Counter()
    lock = threading.Lock()
    original = run.trainer.snapshot

    def counting(view_id):
        with lock:
            counts[view_id] += 1
        return original(view_id)

    run.trainer.snapshot = counting  # the worker looks the method up on every call

    def snapshot_counts():
        with lock:
            return Counter(counts)

    qtbot.waitUntil(lambda: snapshot_counts()["latent"] >= 1 and snapshot_counts()["samples"] >= 1,
                    timeout=WAIT)
    views.docks["latent"].close()
    assert not views.docks["latent"].isVisible()
    # a request made before the close is still served once (when its budget allows)
    qtbot.waitUntil(lambda: "latent" not in run.demand.wanted(), timeout=WAIT)
    before = snapshot_counts()
    step_before = run.step
    qtbot.wait(1000)
    # the visible views go on being served (each at least twice more) while training goes on
    qtbot.waitUntil(lambda: run.step > step_before + 10 and all(
        snapshot_counts()[v] >= before[v] + 2 for v in ("samples", "kl_dims", "recon")), timeout=WAIT)
    after = snapshot_counts()
    assert after["latent"] == before["latent"], (before, after)
    assert "latent" not in run.demand.wanted()

    views.docks["latent"].show()  # shown again, it asks again
    qtbot.waitUntil(lambda: snapshot_counts()["latent"] > after["latent"], timeout=WAIT)
    window.close()


def test_plain_launch_opens_the_default_model_on_the_embedded_data(make_window):
    """`visgen` with no arguments: a VAE run on digits waits for Train (nothing trains yet)."""
    from visgen.cli.main import _gui_parser
    from visgen.gui.app import open_window

    reg = registry_with("gan", "vae")      # gan sorts before vae: the default must still be vae
    window = open_window(_gui_parser().parse_args([]), reg, make_window(reg))
    [run] = window.runs
    assert (run.spec.id, run.dataset_spec.name) == ("vae", "digits")
    assert run.state == RunState.IDLE and not run.alive
    assert window.panel.model_id == "vae" and window.panel.current is run
