"""The main window: the run panel, the theory panel, the plugin list and a dock per view."""
from __future__ import annotations

import html
import time
from concurrent.futures import TimeoutError as FutureTimeout

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QTextBrowser)

from ..core.errors import VisgenError
from ..core.run import Run
from .run_panel import RunPanel
from .run_views import RunViews
from .views.theory import TheoryView

PULL_HZ = 30
LAYOUT_VERSION = 1


class MainWindow(QMainWindow):
    """Owns the runs and their docks; pulls from every run at about 30 Hz."""

    def __init__(self, registry, settings: QSettings | None = None, restore_layout: bool = True):
        super().__init__()
        self.registry = registry
        self.settings = settings if settings is not None else QSettings("visgen", "visgen")
        self.setWindowTitle("visgen — watch generative models learn")
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.AllowNestedDocks | QMainWindow.AllowTabbedDocks | QMainWindow.AnimatedDocks)
        self.run_views: dict = {}  # Run -> RunViews
        self.closed_runs: list = []  # closed, possibly with a worker still winding down

        self.panel = RunPanel(registry)
        self.panel_dock = self._dock("Runs", "runs", self.panel, Qt.LeftDockWidgetArea)
        self.theory = TheoryView()
        self.theory_dock = self._dock("Theory", "theory", self.theory, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.panel_dock, self.theory_dock)
        self.panel_dock.raise_()
        self.plugins_view = QTextBrowser(objectName="plugins")
        self.plugins_dock = self._dock("Plugins", "plugins", self.plugins_view, Qt.LeftDockWidgetArea)
        self.tabifyDockWidget(self.theory_dock, self.plugins_dock)
        self.panel_dock.raise_()
        self._show_plugins()

        self.panel.new_run_requested.connect(self._new_run_from_form)
        self.panel.current_changed.connect(self._current_changed)
        self.panel.close_run_requested.connect(self.close_run)
        self.panel.reset_requested.connect(self.reset_run)
        self.panel.model_box.currentIndexChanged.connect(lambda _i: self._show_theory(self.panel.model_id))
        self._show_theory(self.panel.model_id)

        self.speed_label = QLabel(objectName="speed")
        self.statusBar().addPermanentWidget(self.speed_label)
        if self.registry.failed:
            self.statusBar().showMessage(
                f"{len(self.registry.failed)} plugin(s) failed to load: see the Plugins tab", 15000)

        self._saved_state = None
        if restore_layout and self.settings.value("layout_version", 0, type=int) == LAYOUT_VERSION:
            geometry = self.settings.value("geometry")
            if geometry is not None:
                self.restoreGeometry(geometry)
            self._saved_state = self.settings.value("state")
            if self._saved_state is not None:
                self.restoreState(self._saved_state, LAYOUT_VERSION)
        if self.settings.value("geometry") is None or not restore_layout:
            self.resize(1600, 1000)

        self._ticks = 0
        self.before_close = None  # called first thing on close (the --screenshot hook)
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / PULL_HZ))
        self.timer.timeout.connect(self._pull)
        self.timer.start()

    def _dock(self, title, name, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- runs ------------------------------------------------------------------
    @property
    def runs(self) -> list:
        return list(self.panel.runs)

    @Slot(str, str, str, int, str)
    def _new_run_from_form(self, model, dataset, path, seed, device) -> None:
        try:
            self.new_run(model, dataset or None, dataset_path=path or None, seed=seed, device=device)
        except VisgenError as exc:
            self.panel.new_error.setText(str(exc))

    def new_run(self, model: str, dataset: str | None = None, **kwargs) -> Run:
        """Create a run and its docks (raises VisgenError on bad names or values)."""
        settings = kwargs.pop("settings", ())
        run = Run(self.registry, model, dataset, **kwargs)
        run.params.parse_assignments(settings)
        run.use_worker()  # nothing of a trainer is ever built or run in the GUI thread
        slot = 1 + max((rv.slot for rv in self.run_views.values()), default=0)
        views = RunViews(self, run, slot)
        self.run_views[run] = views
        self._place_docks(views)
        self.panel.add_run(run)
        return run

    def _place_docks(self, views: RunViews) -> None:
        docks = list(views.docks.values())
        restored = [self.restoreDockWidget(d) for d in docks]
        if all(restored) and docks:
            return
        previous = [rv for rv in self.run_views.values() if rv is not views]
        fresh = []
        for i, (view_id, dock) in enumerate(views.docks.items()):
            if restored[i]:
                continue
            twin = next((rv.docks[view_id] for rv in reversed(previous) if view_id in rv.docks), None)
            if twin is not None:  # a second run of the same model: compare by tabs
                self.tabifyDockWidget(twin, dock)
            else:
                fresh.append(dock)
        self._grid(fresh)
        self.resizeDocks([self.panel_dock], [330], Qt.Horizontal)

    def _grid(self, docks: list, columns: int = 3) -> None:
        """Lay docks out row by row in ``columns`` columns, in declaration order."""
        if not docks:
            return
        self.addDockWidget(Qt.RightDockWidgetArea, docks[0])
        for i, dock in enumerate(docks[1:], start=1):
            if i < columns:
                self.splitDockWidget(docks[i - 1], dock, Qt.Horizontal)
            else:
                self.splitDockWidget(docks[i - columns], dock, Qt.Vertical)
        top = docks[:columns]
        self.resizeDocks(top, [1000] * len(top), Qt.Horizontal)
        for c in range(min(columns, len(docks))):
            col = docks[c::columns]
            self.resizeDocks(col, [1000] * len(col), Qt.Vertical)

    @Slot(object)
    def reset_run(self, run: Run) -> None:
        """Returns at once; the views clear when the reset has happened (a new generation)."""
        run.reset()

    @Slot(object)
    def close_run(self, run: Run) -> None:
        """Returns at once: a worker stuck in the trainer is left to end on its own (or with the process)."""
        run.stop()
        self.closed_runs.append(run)
        views = self.run_views.pop(run)
        views.shutdown()
        for dock in views.docks.values():
            self.removeDockWidget(dock)
            dock.deleteLater()
        self.panel.remove_run(run)

    @Slot(object)
    def _current_changed(self, run) -> None:
        if run is not None:
            self._show_theory(run.spec.id)

    def _show_theory(self, model_id: str) -> None:
        spec = self.registry.models.get(model_id)
        if spec is not None:
            self.theory.set_theory(spec.title, spec.theory or f"<p>{html.escape(spec.summary)}</p>")

    def _show_plugins(self) -> None:
        rows = []
        for p in self.registry.plugins:
            state = ("<span style='color:#2ca02c'>ok</span>" if p.ok
                     else f"<span style='color:#d62728'>failed: {html.escape(p.error or '')}</span>")
            models = f" — models: {', '.join(p.models)}" if p.models else ""
            rows.append(f"<p><b>{html.escape(p.name)}</b> ({html.escape(p.source)}): {state}{models}</p>")
        self.plugins_view.setHtml("".join(rows))

    # -- the pull loop ---------------------------------------------------------------
    @Slot()
    def _pull(self) -> None:
        for views in self.run_views.values():
            views.refresh()
        self._ticks += 1
        if self._ticks % 8 == 0:  # status text at ~4 Hz is plenty
            self.panel.update_controls()
            self.speed_label.setText("   ".join(self._speed_text(r.name, r.status) for r in self.runs))

    @staticmethod
    def _speed_text(name: str, st) -> str:
        if not st.responding:
            return f"{name}: not responding"
        return f"{name}: {st.state.value}" + (f" {st.steps_per_second:.0f} steps/s" if st.steps_per_second else "")

    # -- shutdown ------------------------------------------------------------------------
    CLOSE_WAIT = 2.0  # seconds the window waits, in all, for workers to end before it closes anyway

    def closeEvent(self, event) -> None:
        """Stop every run (all at once), stop timers, save the layout.

        Waits at most ``CLOSE_WAIT`` seconds for the workers: one stuck inside a
        trainer call is left behind, and the app's exit does not wait for it."""
        if self.before_close is not None:
            self.before_close()
        self.timer.stop()
        self.statusBar().clearMessage()  # a timed message keeps the status bar's timer running
        stopping = [run.stop() for run in self.runs + self.closed_runs]  # all at once, in parallel
        deadline = time.monotonic() + self.CLOSE_WAIT
        for fut in stopping:
            try:
                fut.result(max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                pass
        for views in self.run_views.values():
            views.shutdown()
        self.theory.shutdown()
        self.settings.setValue("layout_version", LAYOUT_VERSION)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()
        super().closeEvent(event)
