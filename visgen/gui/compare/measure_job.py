"""Measuring runs for the Compare window, in a thread of its own.

Sampling runs in each run's trainer thread (``measure_run`` uses ``run.call``), the
metrics in this job's thread; the window's thread only receives the results, through
queued signals, so the window never waits on a run, however slow its sampler.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import QObject, Signal

from ...core import runfiles as rf
from ...core.errors import VisgenError


class Cancelled(Exception):
    """The user pressed Stop: the job ends at its next progress report."""


@dataclass(frozen=True)
class Candidate:
    """A run the Compare window can measure: an open ``run`` or a saved run ``folder``."""
    label: str
    data: tuple  # (dataset name, data path or None): runs compare only on the same data
    run: object = None
    folder: Optional[str] = None

    @staticmethod
    def of_run(run) -> "Candidate":
        return Candidate(run.name, (run.dataset_spec.name, run.dataset_path), run=run)

    @staticmethod
    def of_folder(folder: str) -> "Candidate":
        """Raises VisgenError (one line naming the file) for a folder that is not a saved run."""
        config = rf.read_config(folder)
        return Candidate(f"{config['model']} ({folder})", (config["dataset"], config.get("data_path")),
                         folder=str(folder))


class MeasureJob(QObject):
    """Measures ``candidates`` one after another; ``start`` returns at once.

    Signals (delivered in the window's thread): ``progress(text, done, total)``,
    ``measured(index, Measured)``, ``failed(index, line)`` for a run that could not be
    measured (the others still are), ``finished()`` at the end, after Stop too."""

    progress = Signal(str, int, int)
    measured = Signal(int, object)
    failed = Signal(int, str)
    finished = Signal()

    def __init__(self, candidates: list, registry, n: Optional[int] = None, seed: int = 0, parent=None):
        super().__init__(parent)
        self.candidates = list(candidates)
        self.registry = registry
        self.n = n
        self.seed = seed
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, name="visgen-compare", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Stop at the next progress report (a sample chunk, a classifier batch)."""
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _report(self, label: str):
        def progress(stage, done, total):
            if self._cancel.is_set():
                raise Cancelled()
            self.progress.emit(f"{label}: {stage}", done, total)
        return progress

    def _work(self) -> None:
        from ...metrics.run_report import measure_run

        try:
            for i, c in enumerate(self.candidates):
                if self._cancel.is_set():
                    break
                self.progress.emit(f"{c.label}: loading", 0, 0)
                try:
                    if c.run is not None:
                        result = measure_run(c.run, n=self.n, seed=self.seed, label=c.label,
                                             progress=self._report(c.label))
                    else:
                        result = self._measure_folder(c, measure_run)
                except Cancelled:
                    break
                except VisgenError as exc:
                    self.failed.emit(i, f"{c.label}: {exc}")
                    continue
                except Exception as exc:  # a model's sampler that raises: the others are still measured
                    self.failed.emit(i, f"{c.label}: {type(exc).__name__}: {exc}")
                    continue
                self.measured.emit(i, result)
        finally:
            self.finished.emit()

    def _measure_folder(self, c: Candidate, measure_run):
        from ...composition import load_run

        config = rf.read_config(c.folder)
        summary = {"steps": config.get("steps"), **rf.read_summary(c.folder)}
        history = rf.read_metrics(c.folder)
        run = load_run(c.folder, self.registry, seed=self.seed)  # headless: built in this thread
        return measure_run(run, n=self.n, seed=self.seed, summary=summary, history=history,
                           label=c.folder, progress=self._report(c.label))
