"""The main window: the run panel, the theory panel, the plugin list and a page per run.

Each run's docks live on a page of their own (``RunPage``) in the central run
area: one tab per run, or every page side by side. The left docks keep their
width however many runs there are, because the central widget takes what is left.
"""
from __future__ import annotations

import html
import time
from concurrent.futures import TimeoutError as FutureTimeout

from PySide6.QtCore import QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QHBoxLayout, QLabel, QMainWindow,
                               QScrollArea, QSplitter, QTabBar, QTextBrowser, QToolButton,
                               QVBoxLayout, QWidget)

from ..core.errors import VisgenError
from ..core.run import Run
from .run_page import RunPage
from .run_panel import RunPanel
from .views.theory import TheoryView

PULL_HZ = 30
LAYOUT_VERSION = 2  # 2: the view docks moved from the window onto run pages
PANEL_WIDTH = 330


class MainWindow(QMainWindow):
    """Owns the runs and their pages; pulls from every run at about 30 Hz."""

    def __init__(self, registry, settings: QSettings | None = None, restore_layout: bool = True):
        super().__init__()
        self.registry = registry
        self.settings = settings if settings is not None else QSettings("visgen", "visgen")
        self.setWindowTitle("visgen — watch generative models learn")
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.AllowNestedDocks | QMainWindow.AllowTabbedDocks | QMainWindow.AnimatedDocks)
        self._slots = 0  # numbers the pages, never reused
        self.compare_window = None  # made when first asked for
        self.only_view: str | None = None  # "One view of every run": the view id shown, side by side
        self._views_before: dict = {}  # page -> {view id: visible} before only_view hid the others
        self.pages: dict = {}  # Run -> RunPage, in the order of the tabs and of the run list
        self._frames: dict = {}  # Run -> the scroll area its page sits in
        self.run_views: dict = {}  # Run -> its page's RunViews (docks and views)
        self.restore_layout = restore_layout  # False: neither the window's nor any page's saved layout
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
        self._build_run_area()
        self._build_menu()
        self._show_pages()

        self.panel.new_run_requested.connect(self._new_run_from_form)
        self.panel.current_changed.connect(self._current_changed)
        self.panel.close_run_requested.connect(self.close_run)
        self.panel.reset_requested.connect(self.reset_run)
        self.panel.file_result.connect(self._show_file_result)  # a method: queued from the worker
        self.panel.model_box.currentIndexChanged.connect(lambda _i: self._show_theory(self.panel.model_id))
        self._show_theory(self.panel.model_id)

        self.speed_label = QLabel(objectName="speed")
        self.speed_label.setMinimumWidth(1)  # many runs make a long line: clip it, never widen the window
        self.statusBar().addPermanentWidget(self.speed_label)
        if self.registry.failed:
            self.statusBar().showMessage(
                f"{len(self.registry.failed)} plugin(s) failed to load: see the Plugins tab", 15000)

        restored = False
        if restore_layout and self.settings.value("layout_version", 0, type=int) == LAYOUT_VERSION:
            geometry = self.settings.value("geometry")
            if geometry is not None:
                self.restoreGeometry(geometry)
            size = self.settings.value("size")
            # The offscreen platform's 800x800 "screen" is nominal, yet restoreGeometry clamps to
            # it: each headless launch (screenshots, CI) would shrink the window further.
            if size is not None and QGuiApplication.platformName() == "offscreen":
                self.resize(size)
            state = self.settings.value("state")
            restored = state is not None and self.restoreState(state, LAYOUT_VERSION)
            self.side_by_side.setChecked(self.settings.value("side_by_side", False, type=bool))
        if self.settings.value("geometry") is None or not restore_layout:
            self.resize(1600, 1000)
        if not restored:
            self.resizeDocks([self.panel_dock], [PANEL_WIDTH], Qt.Horizontal)

        self._ticks = 0
        self.before_close = None  # called first thing on close (the --screenshot hook)
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / PULL_HZ))
        self.timer.timeout.connect(self._pull)
        self.timer.start()

    def _build_run_area(self) -> None:
        """The central widget: a tab per run over the pages, which sit in one splitter.

        Tabs only choose which page is shown; side by side shows every page. Pages are never
        moved between containers, so switching modes keeps each page's layout as it is."""
        self.side_by_side = QAction("Side by side", self, checkable=True, objectName="side-by-side")
        self.side_by_side.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.side_by_side.setToolTip("Show every run at once, each keeps updating (Ctrl+Shift+B); "
                                     "off: one run at a time, chosen by its tab")
        self.side_by_side.toggled.connect(self._side_by_side_toggled)

        area = QWidget(objectName="run-area")
        column = QVBoxLayout(area)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 2, 0)
        self.tabs = QTabBar(objectName="run-tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.setExpanding(False)
        self.tabs.setTabsClosable(True)  # the same as Close run
        self.tabs.currentChanged.connect(self._tab_changed)
        self.tabs.tabCloseRequested.connect(lambda i: self.close_run(self.tabs.tabData(i)))
        side_button = QToolButton(objectName="side-by-side-button")
        side_button.setDefaultAction(self.side_by_side)
        side_button.setAutoRaise(True)
        bar.addWidget(self.tabs, 1)
        bar.addWidget(side_button)
        column.addLayout(bar)
        self.splitter = QSplitter(Qt.Horizontal, objectName="run-pages")
        self.splitter.setChildrenCollapsible(False)
        self._auto_share = True  # until the user drags a divider
        self.splitter.splitterMoved.connect(lambda *_: setattr(self, "_auto_share", False))
        column.addWidget(self.splitter, 1)
        self.empty_hint = QLabel("No run yet: choose a model and data under New run, then press New run.",
                                 alignment=Qt.AlignCenter, objectName="no-run")
        self.empty_hint.setStyleSheet("color: #7f7f7f")
        column.addWidget(self.empty_hint, 1)
        self.setCentralWidget(area)

    def _build_menu(self) -> None:
        menu = self.menuBar().addMenu("&View")
        menu.addAction(self.side_by_side)
        self.default_layout_action = menu.addAction("Default layout of this run", self._default_layout)
        self.default_layout_action.setToolTip("Every view of the current run shown again, in a grid")
        self.run_views_menu = menu.addMenu("Views of this run")
        self.run_views_menu.aboutToShow.connect(self._fill_run_views_menu)
        menu.addSeparator()
        for dock in (self.panel_dock, self.theory_dock, self.plugins_dock):
            menu.addAction(dock.toggleViewAction())

        compare = self.menuBar().addMenu("&Compare")
        self.compare_action = compare.addAction("Compare runs…", self.open_compare)
        self.compare_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.compare_action.setToolTip("Measure runs on one data set side by side: table, samples, triangle")
        self.families_action = compare.addAction("Compare the families", self._compare_families_clicked)
        self.families_action.setToolTip("Train one run of each family (VAE, GAN, diffusion, flow, PixelCNN) on the "
                                        "data chosen under New run, a few minutes on a 2-core CPU, then measure them")
        self.one_view_menu = compare.addMenu("One view of every run")
        self.one_view_menu.aboutToShow.connect(self._fill_one_view_menu)
        compare.addAction("Save a picture of the run pages…", lambda: self.save_pages_png())

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
        """Create a run and its page, and make it the current run (raises VisgenError on bad
        names or values). The page takes the layout last used for this model on these views."""
        settings = kwargs.pop("settings", ())
        run = Run(self.registry, model, dataset, **kwargs)
        run.params.parse_assignments(settings)
        run.use_worker()  # nothing of a trainer is ever built or run in the GUI thread
        self._slots += 1
        page = RunPage(run, self._slots)
        state = self._saved_layout(page.layout_key)
        if state is not None:
            page.restore_layout(state)
        # Pages too narrow for their docks scroll: side by side, they never widen the window.
        frame = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        frame.setWidget(page)
        frame.hide()  # shown by _show_pages: in tabs only the current page is
        self.pages[run] = page
        self._frames[run] = frame
        self.run_views[run] = page.views
        self.splitter.addWidget(frame)
        self.tabs.blockSignals(True)  # the panel makes it current, and the tab follows
        i = self.tabs.addTab(run.name)
        self.tabs.setTabData(i, run)
        self.tabs.setTabToolTip(i, f"{run.spec.title} on {run.dataset_spec.name}")
        self.tabs.blockSignals(False)
        self.panel.add_run(run)
        if self.side_by_side.isChecked():
            self._share_width()
        return run

    def _saved_layout(self, key: str):
        """The layout of an open page with these views (the newest), else the one saved."""
        for page in reversed(list(self.pages.values())):
            if page.layout_key == key:
                return page.save_layout()
        return self.settings.value(key) if self.restore_layout else None

    def _save_layout(self, page: RunPage) -> None:
        self.settings.setValue(page.layout_key, page.save_layout())

    @Slot(str, bool)
    def _show_file_result(self, text: str, error: bool) -> None:
        self.statusBar().showMessage(("error: " if error else "") + text, 15_000)

    @Slot(object)
    def reset_run(self, run: Run) -> None:
        """Returns at once; the views clear when the reset has happened (a new generation)."""
        run.reset()

    @Slot(object)
    def close_run(self, run: Run) -> None:
        """Returns at once: a worker stuck in the trainer is left to end on its own (or with the process)."""
        run.stop()
        self.closed_runs.append(run)
        page = self.pages.pop(run)
        self._views_before.pop(page, None)
        del self.run_views[run]
        self._save_layout(page)
        page.views.shutdown()
        self.tabs.blockSignals(True)  # the panel picks the next current run; the tab follows
        self.tabs.removeTab(self._tab_of(run))
        self.tabs.blockSignals(False)
        frame = self._frames.pop(run)
        frame.hide()
        frame.setParent(None)
        frame.deleteLater()  # and the page and its docks with it
        self.panel.remove_run(run)
        if self.side_by_side.isChecked():
            self._share_width()

    @Slot(object)
    def _current_changed(self, run) -> None:
        if run is not None:
            self._show_theory(run.spec.id)
            self.tabs.setCurrentIndex(self._tab_of(run))
        self._show_pages()

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        self.panel.select_run(self.tabs.tabData(index))

    def _tab_of(self, run) -> int:
        return next(i for i in range(self.tabs.count()) if self.tabs.tabData(i) is run)

    def select_run(self, run: Run) -> None:
        """Make ``run`` current: its row in the run list, its tab, and its page shown."""
        self.panel.select_run(run)

    @property
    def current_page(self) -> RunPage | None:
        """The page of the current run (the run the panel's controls act on)."""
        return self.pages.get(self.panel.current)

    def _show_pages(self) -> None:
        """Tabs: only the current run's page; side by side: every page (with ``only_view``,
        every page that has that view). A hidden page's views ask for nothing, so only what
        is on screen costs its run any time."""
        current, side = self.panel.current, self.side_by_side.isChecked()
        shown = {run for run, page in self.pages.items()
                 if (run is current and not side) or (side and (self.only_view is None or self.only_view in page.docks))}
        for run, frame in self._frames.items():  # hide first, so two pages are never both shown
            if run not in shown:
                frame.hide()
        for run, frame in self._frames.items():
            if run in shown:
                frame.show()
        self.splitter.setVisible(bool(self.pages))
        self.empty_hint.setVisible(not self.pages)
        self.default_layout_action.setEnabled(current is not None)
        self.run_views_menu.setEnabled(current is not None)

    @Slot(bool)
    def _side_by_side_toggled(self, on: bool) -> None:
        if not on and self.only_view is not None:
            self.show_one_view(None)
        self._show_pages()
        if on:
            self._share_width()

    def _share_width(self, again: bool = False) -> None:
        """Side by side: every page an equal share of the width, or at least what it needs
        where that fits (``fair_shares``). ``again``: only if the user has not dragged a
        divider since, and only if that changes something (pages need more once they draw)."""
        if again and not self._auto_share:
            return
        self._auto_share = True
        shown = [run for run in self.pages if not self._frames[run].isHidden()]
        total = self.splitter.width() - self.splitter.handleWidth() * (len(shown) - 1)
        if not shown or total <= 0:
            return
        shares = dict(zip(shown, fair_shares([self.pages[run].minimumSizeHint().width() for run in shown], total)))
        sizes = [shares.get(run, 0) for run in self.pages]  # the splitter's order: every page, hidden ones 0
        if not again or any(abs(a - b) > 4 for a, b in zip(sizes, self.splitter.sizes())):
            self.splitter.setSizes(sizes)

    def _default_layout(self) -> None:
        page = self.current_page
        if page is not None:
            page.default_layout()

    def _fill_run_views_menu(self) -> None:
        self.run_views_menu.clear()
        page = self.current_page
        if page is not None:
            for dock in page.docks.values():
                self.run_views_menu.addAction(dock.toggleViewAction())

    # -- comparing -----------------------------------------------------------------------
    def open_compare(self):
        """Show the Compare window (made on first use), with the open runs to pick from."""
        from .compare.compare_window import CompareWindow

        if self.compare_window is None:
            self.compare_window = CompareWindow(self.registry, lambda: self.runs, parent=self)
        self.compare_window.show()
        self.compare_window.raise_()
        return self.compare_window

    def compare_families(self, dataset: str | None = None) -> list:
        """The preset: one run per family on ``dataset`` (default: the data chosen under New
        run, else ring8), each for the preset's steps, all started at once; the Compare
        window measures them when all have finished. Returns the runs."""
        from ..core.families import family_runs

        name = dataset or self.panel.dataset_box.currentData() or "ring8"
        path = None if dataset else (self.panel.path_edit.text().strip() or None)
        plan = family_runs(self.registry, name)
        if not plan:
            raise VisgenError(f"no family model trains on {name}")
        ok, why = self.registry.dataset(name).available(path)
        if not ok:  # say it once here, not in five failing runs
            raise VisgenError(f"{name}: {why}")
        seed = self.panel.seed_box.value()
        runs = [self.new_run(model, name, max_steps=steps, seed=seed, dataset_path=path) for model, steps in plan]
        for run in runs:
            run.start()
        self.open_compare().measure_when_finished(runs)
        return runs

    def _compare_families_clicked(self) -> None:
        try:
            self.compare_families()
        except VisgenError as exc:  # data that is unavailable, or that no family trains on: one line
            self._show_file_result(f"Compare the families: {exc}", True)

    def _fill_one_view_menu(self) -> None:
        self.one_view_menu.clear()
        counts: dict = {}
        for page in self.pages.values():
            for view_id, dock in page.docks.items():
                counts.setdefault(view_id, [dock.windowTitle(), 0])[1] += 1
        for view_id, (title, n) in counts.items():
            if n >= 2:
                act = self.one_view_menu.addAction(f"{title} ({n} runs)", lambda v=view_id: self.show_one_view(v))
                act.setCheckable(True)
                act.setChecked(view_id == self.only_view)
        if self.only_view is not None:
            self.one_view_menu.addSeparator()
            self.one_view_menu.addAction("Every view again", lambda: self.show_one_view(None))
        if not counts or max(n for _, n in counts.values()) < 2:
            self.one_view_menu.addAction("(open two runs with a view in common)").setEnabled(False)

    def show_one_view(self, view_id: str | None) -> None:
        """Side by side, only the ``view_id`` dock of every run that has one (two GAN decision
        maps at once); None puts every page's docks back as they were."""
        for page, shown in self._views_before.items():  # undo the last one first
            for vid, visible in shown.items():
                if vid in page.docks:
                    page.docks[vid].setVisible(visible)
        self._views_before = {}
        self.only_view = view_id
        if view_id is not None:
            for page in self.pages.values():
                if view_id in page.docks:
                    self._views_before[page] = {vid: not d.isHidden() for vid, d in page.docks.items()}
                    for vid, dock in page.docks.items():
                        dock.setVisible(vid == view_id)
            if not self.side_by_side.isChecked():
                self.side_by_side.setChecked(True)  # shows the pages via _side_by_side_toggled
                return
        self._show_pages()
        if self.side_by_side.isChecked():
            self._share_width()

    def save_pages_png(self, path: str | None = None) -> str | None:
        """Save the run pages as they are shown (one view of every run, say) as a PNG; asks
        for a file when ``path`` is None. Returns the path, or None (the status bar says why)."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save a picture of the run pages", "runs.png", "PNG (*.png)")
            if not path:
                return None
        if not self.centralWidget().grab().save(path, "PNG"):
            self._show_file_result(f"{path}: cannot be written", True)
            return None
        self._show_file_result(f"wrote {path}", False)
        return path

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
        for page in self.pages.values():
            page.views.refresh()
        self._ticks += 1
        if self._ticks % PULL_HZ == 0 and self.side_by_side.isChecked():
            self._share_width(again=True)
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
        if self.compare_window is not None:
            self.compare_window.close()
        self.statusBar().clearMessage()  # a timed message keeps the status bar's timer running
        stopping = [run.stop() for run in self.runs + self.closed_runs]  # all at once, in parallel
        deadline = time.monotonic() + self.CLOSE_WAIT
        for fut in stopping:
            try:
                fut.result(max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                pass
        current = self.current_page
        for page in sorted(self.pages.values(), key=lambda p: p is current):  # the current one wins a tie
            page.views.shutdown()
            self._save_layout(page)
        self.theory.shutdown()
        self.settings.setValue("layout_version", LAYOUT_VERSION)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("size", self.size())
        self.settings.setValue("state", self.saveState(LAYOUT_VERSION))
        self.settings.setValue("side_by_side", self.side_by_side.isChecked())
        self.settings.sync()
        super().closeEvent(event)


def fair_shares(needs: list, total: int) -> list:
    """Split ``total`` pixels among pages that need ``needs`` pixels each: equal shares,
    except that a page needing more than its share gets what it needs while the others can
    still have theirs; when even that cannot be, shares in proportion to the needs."""
    if sum(needs) >= total:
        whole = max(1, sum(needs))
        return [max(1, total * n // whole) for n in needs]
    sizes = list(needs)
    free, left = list(range(len(needs))), total
    while free:
        each = left // len(free)
        big = [i for i in free if needs[i] > each]
        if not big:
            for i in free:
                sizes[i] = each
            break
        for i in big:
            free.remove(i)
            left -= needs[i]
    return sizes

