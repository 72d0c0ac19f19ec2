"""The left-hand panel: make a run, pick one, drive it, tune its parameters."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QListWidget,
                               QListWidgetItem, QMessageBox, QPushButton, QScrollArea, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from ..core.run import RunState
from .param_form import ParamForm

_STATE_COLORS = {RunState.RUNNING: "#2ca02c", RunState.PAUSED: "#ff7f0e", RunState.FAILED: "#d62728",
                 RunState.DIVERGED: "#d62728", RunState.FINISHED: "#1f77b4", RunState.STOPPED: "#7f7f7f",
                 RunState.IDLE: "#7f7f7f"}
ERROR = "#d62728"
BUSY_NOTE_AFTER = 2.0  # seconds inside one trainer call before the status line says so


class RunPanel(QWidget):
    """New-run form, the list of runs, the controls and the parameter form of the current run."""

    new_run_requested = Signal(str, str, str, int, str)  # model, dataset, path, seed, device
    current_changed = Signal(object)  # Run or None
    close_run_requested = Signal(object)
    reset_requested = Signal(object)
    #: the outcome of a Save or Load (text, is_error), emitted from the worker: the window shows it
    #: in its status bar too, which still stands when the run has been closed meanwhile
    file_result = Signal(str, bool)

    def __init__(self, registry, parent=None):
        super().__init__(parent)
        self.registry = registry
        self.runs: list = []
        self.notes: dict = {}  # run -> (text, is_error): results of Save and Load, shown under the status
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)

        # -- new run ---------------------------------------------------------
        box = QGroupBox("New run")
        form = QFormLayout(box)
        self.model_box = QComboBox(objectName="model")
        for m in sorted(registry.models.values(), key=lambda m: (m.family, m.id)):
            self.model_box.addItem(f"{m.family} · {m.title} ({m.id})", m.id)
        self.dataset_box = QComboBox(objectName="dataset")
        self.path_edit = QLineEdit(objectName="data-path", placeholderText="file or folder")
        browse = QToolButton(text="…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit)
        path_row.addWidget(browse)
        self.seed_box = QSpinBox(objectName="seed", maximum=2**31 - 1)
        self.device_box = QComboBox(objectName="device")
        self.device_box.addItems(["auto", "cpu", "cuda"])
        self.new_button = QPushButton("New run", objectName="new-run")
        self.new_button.clicked.connect(self._request_new)
        form.addRow("Model", self.model_box)
        form.addRow("Data", self.dataset_box)
        form.addRow("Path", path_row)
        form.addRow("Seed", self.seed_box)
        form.addRow("Device", self.device_box)
        form.addRow(self.new_button)
        self.new_error = QLabel(objectName="new-run-error", wordWrap=True)
        self.new_error.setStyleSheet("color: #d62728")
        form.addRow(self.new_error)
        outer.addWidget(box)
        self.model_box.currentIndexChanged.connect(self._fill_datasets)
        self.dataset_box.currentIndexChanged.connect(self._dataset_changed)
        self._fill_datasets()

        # -- runs and controls -------------------------------------------------
        runs_box = QGroupBox("Runs")
        rl = QVBoxLayout(runs_box)
        self.run_list = QListWidget(objectName="runs")
        self.run_list.setMaximumHeight(90)
        self.run_list.currentRowChanged.connect(self._row_changed)
        rl.addWidget(self.run_list)
        row = QHBoxLayout()
        self.train_button = QPushButton("Train", objectName="train")
        self.step_button = QPushButton("Step", objectName="step")
        self.stop_button = QPushButton("Stop", objectName="stop")
        self.reset_button = QPushButton("Reset", objectName="reset")
        for b in (self.train_button, self.step_button, self.stop_button, self.reset_button):
            row.addWidget(b)
        rl.addLayout(row)
        self.phase_row = QHBoxLayout()
        rl.addLayout(self.phase_row)
        slow_row = QHBoxLayout()
        self.slow_box = QCheckBox("Slow mode", objectName="slow")
        self.delay_box = QDoubleSpinBox(objectName="delay", minimum=0.05, maximum=5.0, value=0.5,
                                        singleStep=0.1, suffix=" s/step")
        slow_row.addWidget(self.slow_box)
        slow_row.addWidget(self.delay_box)
        rl.addLayout(slow_row)
        io_row = QHBoxLayout()
        self.save_button = QPushButton("Save…", objectName="save-checkpoint")
        self.load_button = QPushButton("Load…", objectName="load-checkpoint")
        self.close_button = QPushButton("Close run", objectName="close-run")
        for b in (self.save_button, self.load_button, self.close_button):
            io_row.addWidget(b)
        rl.addLayout(io_row)
        self.status = QLabel(objectName="run-status", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        rl.addWidget(self.status)
        self.details_button = QPushButton("Show traceback", objectName="details")
        self.details_button.setVisible(False)
        self.details_button.clicked.connect(self._show_details)
        rl.addWidget(self.details_button)
        outer.addWidget(runs_box)

        self.train_button.clicked.connect(self._train_clicked)
        self.step_button.clicked.connect(lambda: self.current and self.current.step_once())
        self.stop_button.clicked.connect(lambda: self.current and self.current.stop())  # returns at once
        self.reset_button.clicked.connect(lambda: self.current and self.reset_requested.emit(self.current))
        self.slow_box.toggled.connect(self._slow_changed)
        self.delay_box.valueChanged.connect(self._slow_changed)
        self.save_button.clicked.connect(self._save)
        self.load_button.clicked.connect(self._load)
        self.close_button.clicked.connect(lambda: self.current and self.close_run_requested.emit(self.current))

        # -- parameters ----------------------------------------------------
        params_box = QGroupBox("Hyperparameters (⟳ = needs Reset)")
        pl = QVBoxLayout(params_box)
        self.param_form = ParamForm()
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.param_form)
        scroll.setFrameShape(QScrollArea.NoFrame)
        pl.addWidget(scroll)
        outer.addWidget(params_box, 1)
        # The panel must fit a ~330 px dock: left alone, the longest model name ("Diffusion · …")
        # and the buttons' 80 px floor make it ~430 px wide.
        self.model_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.model_box.setMinimumContentsLength(16)  # the rest is elided; the open list shows it whole
        self.model_box.setMinimumWidth(120)
        for button in self.findChildren(QPushButton):
            _compact_button(button)
        self.update_controls()

    # -- new-run form ----------------------------------------------------------
    @property
    def model_id(self) -> str:
        return self.model_box.currentData() or ""

    def _fill_datasets(self) -> None:
        self.dataset_box.blockSignals(True)
        self.dataset_box.clear()
        spec = self.registry.models.get(self.model_id)
        if spec is not None:
            names = sorted((d for d in self.registry.datasets.values() if d.kind in spec.data_kinds),
                           key=lambda d: (d.kind != "images", d.name))
            for d in names:
                ok, why = d.available()
                self.dataset_box.addItem(d.name if ok or d.takes_path else f"{d.name} (unavailable)", d.name)
                i = self.dataset_box.count() - 1
                self.dataset_box.setItemData(i, d.summary if ok else why, Qt.ToolTipRole)
            self.select_dataset(spec.default_dataset)
        self.dataset_box.blockSignals(False)
        self._dataset_changed()

    def select_model(self, model_id: str) -> None:
        i = self.model_box.findData(model_id)
        if i >= 0:
            self.model_box.setCurrentIndex(i)

    def select_dataset(self, name: str) -> None:
        i = self.dataset_box.findData(name)
        if i >= 0:
            self.dataset_box.setCurrentIndex(i)

    def _dataset_changed(self) -> None:
        spec = self.registry.datasets.get(self.dataset_box.currentData() or "")
        takes = bool(spec and spec.takes_path)
        self.path_edit.setEnabled(takes)
        self.path_edit.setPlaceholderText((spec.default_path or "file or folder") if takes else "not needed")

    def _browse(self) -> None:
        spec = self.registry.datasets.get(self.dataset_box.currentData() or "")
        if spec is None or not spec.takes_path:
            return
        if spec.name == "csv":
            path, _ = QFileDialog.getOpenFileName(self, "CSV of 2D points", "", "CSV (*.csv *.txt);;All (*)")
        else:
            path = QFileDialog.getExistingDirectory(self, f"Folder for {spec.name}")
        if path:
            self.path_edit.setText(path)

    def _request_new(self) -> None:
        self.new_error.clear()
        self.new_run_requested.emit(self.model_id, self.dataset_box.currentData() or "",
                                     self.path_edit.text().strip(), self.seed_box.value(),
                                     self.device_box.currentText())

    # -- runs --------------------------------------------------------------------
    @property
    def current(self):
        i = self.run_list.currentRow()
        return self.runs[i] if 0 <= i < len(self.runs) else None

    def add_run(self, run) -> None:
        self.runs.append(run)
        self.run_list.addItem(QListWidgetItem(run.name))
        self.run_list.setCurrentRow(len(self.runs) - 1)

    def select_run(self, run) -> None:
        """Make ``run`` the current run, as a click on its row would (the window's tabs call this)."""
        if run in self.runs:
            self.run_list.setCurrentRow(self.runs.index(run))

    def remove_run(self, run) -> None:
        i = self.runs.index(run)
        self.runs.pop(i)
        self.notes.pop(run, None)
        self.run_list.takeItem(i)
        self._row_changed(self.run_list.currentRow())

    @Slot(int)
    def _row_changed(self, _row: int) -> None:
        run = self.current
        self.param_form.set_run(run)
        while self.phase_row.count():
            old = self.phase_row.takeAt(0).widget()
            # deleteLater waits for the event loop; until then a taken button still
            # paints at its old place, showing through the gap between the new ones.
            old.hide()
            old.deleteLater()
        if run is not None:
            for phase in run.spec.phases:
                b = _compact_button(QPushButton(f"Step {phase} only", objectName=f"step-{phase}"))
                b.clicked.connect(lambda _=False, p=phase: self.current and self.current.step_once(p))
                self.phase_row.addWidget(b)
            self.slow_box.blockSignals(True)
            self.slow_box.setChecked(run.delay > 0)
            self.slow_box.blockSignals(False)
        self.update_controls()
        self.current_changed.emit(run)

    def _train_clicked(self) -> None:
        run = self.current
        if run is None:
            return
        if run.state == RunState.RUNNING:
            run.pause()
        else:
            run.start()
        self.update_controls()

    def _slow_changed(self, *_args) -> None:
        if self.current is not None:
            self.current.delay = self.delay_box.value() if self.slow_box.isChecked() else 0.0

    def update_controls(self) -> None:
        """Refresh buttons and the status line from the current run's state (called by a timer)."""
        run = self.current
        for w in (self.train_button, self.step_button, self.stop_button, self.reset_button,
                  self.save_button, self.load_button, self.close_button):
            w.setEnabled(run is not None)
        if run is None:
            self.status.setText("No run yet: choose a model and data, then press New run.")
            self.details_button.setVisible(False)
            return
        self.param_form.refresh()
        st = run.status  # one consistent value: state, step and message belong together
        state = st.state
        self.train_button.setText("Pause" if state == RunState.RUNNING else
                                  "Resume" if state == RunState.PAUSED else "Train")
        self.train_button.setEnabled(not state.ended)
        self.step_button.setEnabled(not state.ended)
        self.status.setText(status_html(st, self.notes.get(run)))
        self.details_button.setVisible(state == RunState.FAILED)

    def _show_details(self) -> None:
        run = self.current
        if run is not None and run.status.traceback:
            box = QMessageBox(QMessageBox.Critical, f"{run.name} failed", run.status.error or "", parent=self)
            box.setDetailedText(run.status.traceback)
            box.open()

    # -- checkpoints ---------------------------------------------------------------
    def _save(self) -> None:
        run = self.current
        if run is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint", f"{run.spec.id}.pt", "Checkpoints (*.pt)")
        if path:
            self.notes[run] = (f"saving {path}…", False)
            run.save_checkpoint(path).add_done_callback(
                lambda f: self._note(run, f, f"saved {path}", f"could not save {path}"))

    def _load(self) -> None:
        run = self.current
        if run is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", "", "Checkpoints (*.pt);;All (*)")
        if path:
            self.load_checkpoint(run, path)

    def load_checkpoint(self, run, path):
        """Load weights into ``run`` in its worker; the outcome is shown under the status.
        A bad file leaves the run as it was. Returns the Future."""
        self.notes[run] = (f"loading {path}…", False)
        fut = run.load_checkpoint(path)
        fut.add_done_callback(lambda f: self._note(run, f, f"loaded {path}", f"could not load {path}"))
        return fut

    def _note(self, run, fut, ok_text: str, failed_text: str) -> None:
        # Runs in the worker thread: only store the text; update_controls shows it.
        exc = fut.exception()
        if exc is None:
            self.notes[run] = (ok_text, False)
        elif isinstance(exc, OSError):  # the file system's words, with the file the learner chose
            self.notes[run] = (f"{failed_text}: {exc.strerror or exc}", True)
        else:  # visgen's own errors name the file already
            self.notes[run] = (str(exc), True)
        self.file_result.emit(f"{run.name}: {self.notes[run][0]}", exc is not None)  # queued to the GUI thread


def status_html(st, note=None) -> str:
    """The status line of a run: state, step, speed, then its plain-text messages, escaped."""
    color = _STATE_COLORS.get(st.state, "#000")
    rate = f" · {st.steps_per_second:.0f} steps/s" if st.state == RunState.RUNNING else ""
    text = f"<b style='color:{color}'>{st.state.value}</b> · step {st.step}{rate}"
    if st.needs_reset:
        text += " · <b>Reset to apply changed parameters</b>"
    if not st.responding:
        text += (f"<br><b style='color:{ERROR}'>not responding</b>: the model has been inside "
                 f"{html.escape(st.busy or 'one call')} for {st.busy_for:.0f} s. Close the run, or quit: "
                 f"visgen still exits.")
    elif st.busy and st.busy_for > BUSY_NOTE_AFTER:
        text += f"<br>busy: {html.escape(st.busy)} ({st.busy_for:.0f} s)"
    if st.message:
        bad = st.state in (RunState.FAILED, RunState.DIVERGED)
        text += "<br>" + (f"<span style='color:{ERROR}'>{html.escape(st.message)}</span>" if bad
                          else html.escape(st.message))
    if note:
        msg, is_error = note
        text += "<br>" + (f"<span style='color:{ERROR}'>{html.escape(msg)}</span>" if is_error else html.escape(msg))
    return text


def _compact_button(button: QPushButton) -> QPushButton:
    """As narrow as its text: the Fusion style's 80 px floor for buttons would widen the panel."""
    button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 16)
    return button
