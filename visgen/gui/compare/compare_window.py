"""The Compare window: runs on one data set measured side by side.

Pick open runs (live: they keep training) and saved run folders, press Measure, and
read one row per run beside held-out real data's row, each run's samples side by side,
and each run placed on the quality / diversity / speed triangle. Every row says the step
it was measured at; a row whose run has trained on, been reset or closed since says so
(and the window asks to measure again) instead of passing an old picture off as current.
The table exports as CSV, the whole window as PNG.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QSpinBox, QSplitter, QTableWidget, QTabWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ...core.atomic import replace_atomically
from ...core.errors import VisgenError
from ...metrics.run_report import MAX_N, MEANING, columns, format_cell, row_label, triangle_scores, write_csv
from .class_histograms import ClassHistograms
from .measure_job import Candidate, MeasureJob
from .sample_panels import SamplePanels
from .triangle_chart import TriangleChart, run_colour

STALE_COLOUR = QColor(160, 160, 160)


class CompareWindow(QWidget):
    """A window of its own (it needs the room), owned by the main window.

    ``open_runs()`` lists the main window's runs; saved runs are added by folder."""

    measuring_changed = Signal(bool)

    def __init__(self, registry, open_runs: Callable[[], list], parent=None):
        super().__init__(parent, Qt.Window)
        self.setObjectName("compare")
        self.setWindowTitle("visgen — compare runs")
        self.registry = registry
        self.open_runs = open_runs
        self.folders: list = []      # saved runs added, in order
        self.results: list = []      # (Candidate, Measured, generation) in the order measured
        self.failures: list = []     # one line per run that could not be measured
        self.job: Optional[MeasureJob] = None
        self._checked: set = set()   # keys of the candidates ticked
        self._auto: Optional[list] = None  # runs to measure once they have all finished (the preset)

        picker = QWidget(objectName="compare-picker")
        side = QVBoxLayout(picker)
        side.setContentsMargins(0, 0, 0, 0)
        side.addWidget(QLabel("<b>Runs</b> (one data set)"))
        self.run_list = QListWidget(objectName="compare-runs")
        self.run_list.itemChanged.connect(self._item_changed)
        side.addWidget(self.run_list, 1)
        add = QPushButton("Add saved run…", objectName="compare-add")
        add.setToolTip("A folder written by visgen train (config.json, checkpoint.pt)")
        add.clicked.connect(self._browse)
        side.addWidget(add)
        n_row = QHBoxLayout()
        n_row.addWidget(QLabel("Samples per run"))
        self.n_box = QSpinBox(objectName="compare-n", minimum=0, maximum=MAX_N, singleStep=100)
        self.n_box.setSpecialValueText("default")  # 0: 1,000 images or 2,500 points
        self.n_box.setToolTip("0: 1,000 images or 2,500 points; a slow sampler stops at its time budget")
        n_row.addWidget(self.n_box)
        side.addLayout(n_row)
        buttons = QHBoxLayout()
        self.measure_button = QPushButton("Measure", objectName="compare-measure")
        self.measure_button.setToolTip("Sample every ticked run (live runs between two of their steps) and measure")
        self.measure_button.clicked.connect(self.measure)
        self.stop_button = QPushButton("Stop", objectName="compare-stop", enabled=False)
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.measure_button)
        buttons.addWidget(self.stop_button)
        side.addLayout(buttons)
        self.progress = QProgressBar(objectName="compare-progress", textVisible=False)
        self.progress.hide()
        side.addWidget(self.progress)
        self.status = QLabel(objectName="compare-status", wordWrap=True)
        self.status.setMinimumWidth(1)
        side.addWidget(self.status)
        picker.setMinimumWidth(230)
        picker.setMaximumWidth(300)

        self.banner = QLabel(objectName="compare-banner", wordWrap=True)
        self.banner.setStyleSheet("color: #b8860b")
        self.banner.hide()
        self.table = QTableWidget(objectName="compare-table")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.notes = QLabel(objectName="compare-notes", wordWrap=True)
        self.notes.setStyleSheet("color: #7f7f7f")
        self.notes.setMinimumWidth(1)
        upper = QWidget()
        upper_col = QVBoxLayout(upper)
        upper_col.setContentsMargins(0, 0, 0, 0)
        upper_col.addWidget(self.banner)
        upper_col.addWidget(self.table, 1)
        upper_col.addWidget(self.notes)

        self.panels = SamplePanels()  # no scroll area: the panels arrange themselves to fit
        self.neighbours = SamplePanels()
        self.pictures = QTabWidget(objectName="compare-pictures")
        self.pictures.addTab(self.panels, "Samples")
        self.pictures.addTab(self.neighbours, "Nearest training images")
        self.histograms = ClassHistograms()
        self.pictures.addTab(self.histograms, "Classes")
        self.pictures.setTabToolTip(2, "The class the feature classifier gives each sample: a family that drops "
                                       "classes shows missing bars; grey steps: held-out real data")
        self.pictures.setTabToolTip(1, "Memorisation: the samples nearest to a training image (top row) above "
                                       "that image (bottom row), in pixel space, beside how near held-out real "
                                       "images come")
        self.chart = TriangleChart()
        self.chart.set_axis_labels(quality=("quality", "precision"), diversity=("diversity", "recall"),
                                   speed=("speed", "1 s to 10 µs per sample, log"))
        self.lower = lower = QSplitter(Qt.Horizontal)
        lower.addWidget(self.pictures)
        lower.addWidget(self.chart)
        self.right = right = QSplitter(Qt.Vertical, objectName="compare-split")
        right.addWidget(upper)
        right.addWidget(lower)
        self._sized = False  # the splitters are shared out once, when first shown

        exports = QHBoxLayout()
        exports.addStretch(1)
        self.csv_button = QPushButton("Export table (CSV)…", objectName="compare-csv", enabled=False)
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.png_button = QPushButton("Export view (PNG)…", objectName="compare-png")
        self.png_button.clicked.connect(lambda: self.export_png())
        exports.addWidget(self.csv_button)
        exports.addWidget(self.png_button)
        main = QVBoxLayout(self)
        body = QHBoxLayout()
        body.addWidget(picker)
        body.addWidget(right, 1)
        main.addLayout(body, 1)
        main.addLayout(exports)
        self.resize(1400, 900)

        self.timer = QTimer(self, interval=1000)  # the run list and the rows' freshness: 1 Hz is plenty
        self.timer.timeout.connect(self._tick)
        self.refresh_candidates()
        self._show_results()

    # -- the run list ---------------------------------------------------------------------------
    def candidates(self) -> list:
        """Every run that can be ticked: the open runs, then the saved ones added."""
        out = [Candidate.of_run(r) for r in self.open_runs()]
        for folder in self.folders:
            try:
                out.append(Candidate.of_folder(folder))
            except VisgenError:
                pass  # deleted or spoiled since it was added: it leaves the list
        return out

    @staticmethod
    def _key(c: Candidate):
        return ("run", c.run.id) if c.run is not None else ("folder", c.folder)

    def refresh_candidates(self) -> None:
        """Rebuild the list, keeping what was ticked."""
        cands = self.candidates()
        if [self._key(c) for c in cands] == [self._key(self.run_list.item(i).data(Qt.UserRole))
                                              for i in range(self.run_list.count())]:
            for i, c in enumerate(cands):  # same runs: only the text (a live run's step) moves
                self.run_list.item(i).setText(self._list_text(c))
            return
        self.run_list.blockSignals(True)
        self.run_list.clear()
        for c in cands:
            item = QListWidgetItem(self._list_text(c))
            item.setData(Qt.UserRole, c)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if self._key(c) in self._checked else Qt.Unchecked)
            item.setToolTip(f"{c.data[0]}" + (f" ({c.data[1]})" if c.data[1] else ""))
            self.run_list.addItem(item)
        self.run_list.blockSignals(False)
        self._checked &= {self._key(c) for c in cands}

    @staticmethod
    def _list_text(c: Candidate) -> str:
        if c.run is not None:
            st = c.run.status
            return f"{c.label} — {st.state.value}, step {st.step:,}"
        return f"{c.label} — saved"

    def checked(self) -> list:
        """The ticked candidates, in list order."""
        return [self.run_list.item(i).data(Qt.UserRole) for i in range(self.run_list.count())
                if self.run_list.item(i).checkState() == Qt.Checked]

    def check(self, runs_or_folders) -> None:
        """Tick these runs (Run objects) or saved run folders; untick the rest."""
        keys = {("run", r.id) if not isinstance(r, (str, Path)) else ("folder", str(r)) for r in runs_or_folders}
        for r in runs_or_folders:
            if isinstance(r, (str, Path)) and str(r) not in self.folders:
                self.folders.append(str(r))
        self._checked = set()
        self.refresh_candidates()
        for i in range(self.run_list.count()):
            item = self.run_list.item(i)
            if self._key(item.data(Qt.UserRole)) in keys:
                item.setCheckState(Qt.Checked)  # through _item_changed: the one-data-set rule holds
            else:
                item.setCheckState(Qt.Unchecked)

    def add_folder(self, folder: str) -> bool:
        """Add a saved run to the list, ticked; False (and one line saying why) if it cannot be."""
        try:
            c = Candidate.of_folder(folder)
        except VisgenError as exc:
            self.status.setText(f"not added: {exc}")
            return False
        if c.folder not in self.folders:
            self.folders.append(c.folder)
        self._checked.add(self._key(c))
        self.refresh_candidates()
        self._enforce_one_data_set(self._key(c))
        return True

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A run folder written by visgen train")
        if folder:
            self.add_folder(folder)

    @Slot(QListWidgetItem)
    def _item_changed(self, item: QListWidgetItem) -> None:
        key = self._key(item.data(Qt.UserRole))
        if item.checkState() == Qt.Checked:
            self._checked.add(key)
            self._enforce_one_data_set(key)
        else:
            self._checked.discard(key)

    def _enforce_one_data_set(self, key) -> None:
        """A newly ticked run on other data than those ticked before it is unticked, with one line."""
        ticked = self.checked()
        new = next((c for c in ticked if self._key(c) == key), None)
        others = [c for c in ticked if self._key(c) != key]
        if new is None or not others or new.data == others[0].data:
            return
        self._checked.discard(key)
        for i in range(self.run_list.count()):
            item = self.run_list.item(i)
            if self._key(item.data(Qt.UserRole)) == key:
                self.run_list.blockSignals(True)
                item.setCheckState(Qt.Unchecked)
                self.run_list.blockSignals(False)
        self.status.setText(f"{new.label} trains on {new.data[0]}, the ticked runs on {others[0].data[0]}: "
                            f"runs on different data cannot be compared")

    # -- measuring --------------------------------------------------------------------------------
    def measure(self) -> bool:
        """Measure the ticked runs in the background; False (one line in the window) if none is ticked."""
        if self.job is not None and self.job.running:
            return False
        cands = self.checked()
        if not cands:
            self.status.setText("Tick at least one run to measure.")
            return False
        self.results, self.failures = [], []
        self._show_results()
        self.job = MeasureJob(cands, self.registry, n=self.n_box.value() or None, parent=self)
        self.job.progress.connect(self._progress)
        self.job.measured.connect(self._measured)
        self.job.failed.connect(self._failed)
        self.job.finished.connect(self._finished)
        self.measure_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.show()
        self.status.setText(f"measuring {len(cands)} run(s)…")
        self.measuring_changed.emit(True)
        self.job.start()
        return True

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.status.setText("stopping after the current chunk…")

    @property
    def measuring(self) -> bool:
        return self.job is not None and self.job.running

    @Slot(str, int, int)
    def _progress(self, text: str, done: int, total: int) -> None:
        self.status.setText(text + (f" {done:,} / {total:,}" if total else "…"))
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)

    @Slot(int, object)
    def _measured(self, index: int, measured) -> None:
        c = self.job.candidates[index]
        generation = c.run.status.generation if c.run is not None else None
        self.results.append((c, measured, generation))
        self._show_results()

    @Slot(int, str)
    def _failed(self, _index: int, line: str) -> None:
        self.failures.append(line)
        self._show_results()

    @Slot()
    def _finished(self) -> None:
        self.measure_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.hide()
        done = len(self.results)
        self.status.setText(f"measured {done} run(s)" + (f"; {len(self.failures)} could not be" if self.failures else ""))
        self.measuring_changed.emit(False)

    def measure_when_finished(self, runs: list) -> None:
        """Tick ``runs`` and measure them once every one has finished training (the preset)."""
        self.check(runs)
        self._auto = list(runs)
        self._tick()

    # -- showing ---------------------------------------------------------------------------------
    def _reference(self):
        """Held-out real data's row: the same whichever run measured it (None before any)."""
        return next((m.reference for _, m, _ in self.results if m.reference), None)

    def _label(self, c: Candidate, row: dict) -> str:
        return c.label if c.run is not None else row_label(row)

    def _show_results(self) -> None:
        """Table, panels and chart from ``results`` (all three cleared when there are none)."""
        rows = [m.row for _, m, _ in self.results]
        kind = rows[0]["kind"] if rows else "points"
        cols = columns(kind)
        reference = self._reference()
        self.table.clear()
        self.table.setColumnCount(2 + len(cols))
        for j, (key, head) in enumerate([("run", "run"), ("step", "step")] + [(k, h) for k, h, _ in cols]):
            item = QTableWidgetItem(head)
            item.setToolTip(MEANING.get(key, ""))
            self.table.setHorizontalHeaderItem(j, item)
        table_rows = ([(reference, None)] if reference else []) + [(m.row, c) for c, m, _ in self.results]
        self.table.setRowCount(len(table_rows))
        for i, (row, c) in enumerate(table_rows):
            label = row["run"] if c is None else self._label(c, row)
            cells = [label, "" if c is None else f"{row.get('steps') or 0:,}"]
            cells += [format_cell(row, key, fmt) for key, _, fmt in cols]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j > 0:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c is None:  # the scale every row is read against
                    font = QFont()
                    font.setItalic(True)
                    item.setFont(font)
                self.table.setItem(i, j, item)
        self.csv_button.setEnabled(bool(rows))
        first = rows[0] if rows else {}
        notes = first.get("notes") or {}
        space = first.get("feature_space")
        text = []
        if space:
            text.append(f"Measured on {space}.")
        if kind == "images" and rows:
            text.append(notes.get("frechet_distance", "Not comparable with a published FID, KID or Inception Score."))
        text += [f"<span style='color:#d62728'>{f}</span>" for f in self.failures]
        self.notes.setText(" ".join(text) if text else "Tick runs on one data set and press Measure.")

        self.panels.set_panels([(self._caption(c, m.row), m.samples, run_colour(i))
                                for i, (c, m, _) in enumerate(self.results)],
                               real=self._real_points())
        pairs = [(i, c, m) for i, (c, m, _) in enumerate(self.results) if m.neighbours]
        self.neighbours.set_panels([(self._neighbour_caption(c, m), _pairs_grid(m.neighbours), run_colour(i))
                                    for i, c, m in pairs], columns=max([len(m.neighbours) for _, _, m in pairs] or [1]))
        self.pictures.setTabEnabled(1, bool(pairs))
        hists = [(i, c, m) for i, (c, m, _) in enumerate(self.results) if m.row.get("class_histogram")]
        reference_hist = (reference or {}).get("class_histogram")
        self.histograms.set_histograms([(self._label(c, m.row), m.row["class_histogram"], run_colour(i))
                                        for i, c, m in hists], reference_hist,
                                       hists[0][2].row.get("class_names") if hists else None)
        self.pictures.setTabEnabled(2, bool(hists))
        self.chart.set_runs([(self._label(c, m.row), *triangle_scores(m.row)) for c, m, _ in self.results])
        self._mark_stale()

    def _caption(self, c: Candidate, row: dict) -> str:
        return f"{self._label(c, row)}<br><small>step {row.get('steps') or 0:,}</small>"

    def _neighbour_caption(self, c: Candidate, m) -> str:
        nn = m.row.get("nearest_neighbours") or {}
        near = ", ".join(f"{d:.2f}" for _, _, d in m.neighbours)
        scale = nn.get("heldout_median_distance")
        copies = nn.get("closer_than_heldout")
        extra = (f"; held-out images: median {scale:.2f}" if scale is not None else "") + \
                (f"; {copies:.1%} of samples nearer than 99 % of them" if copies is not None else "")
        return f"{self._label(c, m.row)}<br><small>distances {near}{extra}</small>"

    def _real_points(self):
        """The training points under each run's samples (points only)."""
        return next((m.real for _, m, _ in self.results if m.real is not None), None)

    def _staleness(self, c: Candidate, row: dict, generation) -> str:
        """Why a row no longer shows its run as it is ("" while it does)."""
        if c.run is None:
            return ""
        if c.run not in self.open_runs():
            return "closed since"
        st = c.run.status
        if st.generation != generation:
            return "reset since"
        if st.step != (row.get("steps") or 0):
            return f"now at step {st.step:,}"
        return ""

    def _mark_stale(self) -> None:
        offset = 1 if self._reference() else 0
        stale = []
        for i, (c, m, generation) in enumerate(self.results):
            why = self._staleness(c, m.row, generation)
            item = self.table.item(i + offset, 0)
            if item is None:
                continue
            label = self._label(c, m.row)
            item.setText(label + (f"  ({why})" if why else ""))
            item.setForeground(QBrush(STALE_COLOUR if why else run_colour(i)))
            if why:
                stale.append(f"{label} ({why})")
        self.banner.setVisible(bool(stale))
        if stale:
            self.banner.setText("Measured earlier than the runs are now: " + "; ".join(stale)
                                + ". Press Measure to measure again.")

    @Slot()
    def _tick(self) -> None:
        self.refresh_candidates()
        self._mark_stale()
        if self._auto is not None and not self.measuring:
            open_runs = self.open_runs()
            runs = [r for r in self._auto if r in open_runs]
            if not runs:
                self._auto = None
            elif all(r.status.state.ended for r in runs):
                self._auto = None
                self.check(runs)
                self.measure()
            else:
                done = sum(r.status.step for r in runs)
                total = sum(r.max_steps or 0 for r in runs)
                self.status.setText(f"training {len(runs)} runs for the comparison: {done:,} / {total:,} steps; "
                                    "they are measured when all have finished")

    # -- export ------------------------------------------------------------------------------------
    def table_rows(self) -> list:
        """The rows as exported: held-out real data first, then one per run."""
        reference = self._reference()
        return ([reference] if reference else []) + [m.row for _, m, _ in self.results]

    def export_csv(self, path: Optional[str] = None) -> Optional[str]:
        """Write the table (every plain value of every row); asks for a file when ``path`` is None."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export the table", "comparison.csv", "CSV (*.csv)")
            if not path:
                return None
        try:
            replace_atomically(path, lambda tmp: write_csv(tmp, self.table_rows()))
        except OSError as exc:
            self.status.setText(f"{path}: cannot be written ({exc.strerror or exc})")
            return None
        self.status.setText(f"wrote {path}")
        return path

    def export_png(self, path: Optional[str] = None) -> Optional[str]:
        """Save a picture of the whole window; asks for a file when ``path`` is None."""
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export the view", "comparison.png", "PNG (*.png)")
            if not path:
                return None
        if not self.grab().save(path, "PNG"):
            self.status.setText(f"{path}: cannot be written")
            return None
        self.status.setText(f"wrote {path}")
        return path

    def showEvent(self, event) -> None:
        self.timer.start()
        self.refresh_candidates()
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            QTimer.singleShot(0, self._share_out)

    def _share_out(self) -> None:
        """The table as tall as six rows, the rest to samples and chart; the chart about
        square, the samples what is left (the splitters' own shares starve the samples)."""
        table = min(self.right.height() // 2, self.table.horizontalHeader().height() + 6 * 26 + 60)
        self.right.setSizes([table, max(1, self.right.height() - table)])
        chart = min(self.lower.height() + 60, self.lower.width() * 2 // 5)
        self.lower.setSizes([max(1, self.lower.width() - chart), chart])

    def closeEvent(self, event) -> None:
        """Stops measuring (at its next chunk) and the timer; what was measured stays for next time."""
        if self.job is not None:
            self.job.cancel()
        self.timer.stop()
        super().closeEvent(event)


def _pairs_grid(pairs: list) -> np.ndarray:
    """The samples in the first row, each one's nearest training image under it."""
    return np.stack([p[0] for p in pairs] + [p[1] for p in pairs])
