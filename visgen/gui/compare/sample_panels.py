"""The measured runs' samples side by side: one panel per run, all the same size.

Images: the first 16 samples of each run, tiled 4 x 4 - drawn from the same seeded noise
for every run, so where two models map noise alike the grids correspond. Points: each
run's samples over the training data (grey), every panel on the same axes.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from ...core.imaging import chw_to_hwc, tile
from ..views.image_grid import image_box, set_image

GRID_IMAGES = 16
POINTS_SHOWN = 2500
PANEL_MIN = 170  # pixels: a panel is never drawn smaller than half this


class SamplePanels(QWidget):
    """Equal panels, one per measured run (``set_panels``), in as many rows as make them
    biggest in the space they have."""

    CAPTION_HEIGHT = 34  # pixels: a run's name and its step

    def __init__(self, parent=None):
        super().__init__(parent, objectName="sample-panels")
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.panels: list = []  # (caption, cell) per run, in order
        self._columns = 0

    def set_panels(self, panels: list, real: np.ndarray | None = None, columns: int = 4) -> None:
        """``panels``: ``(caption, samples, colour)`` per run; ``real``: the training data's
        points, drawn grey under each run's points (points only); ``columns``: images per
        row of a panel (the first ``GRID_IMAGES`` are shown)."""
        for caption, cell in self.panels:
            self._layout.removeWidget(cell)
            cell.deleteLater()
        self.panels = []
        bounds = _bounds([s for _, s, _ in panels if s.ndim == 2] + ([real] if real is not None else []))
        for text, samples, colour in panels:
            cell = QWidget()
            column = QVBoxLayout(cell)
            column.setContentsMargins(2, 0, 2, 2)
            caption = QLabel(text, alignment=Qt.AlignCenter, wordWrap=True)
            caption.setMinimumWidth(1)
            caption.setStyleSheet(f"color: {pg.mkColor(colour).name()}; font-weight: bold")
            column.addWidget(caption)
            plot = (_image_panel(column, samples, columns) if samples.ndim == 4
                    else _points_panel(column, samples, colour, real, bounds))
            plot.setMinimumSize(PANEL_MIN // 2, PANEL_MIN // 2)
            self.panels.append((caption, cell))
        self._columns = 0
        self._arrange()

    def best_columns(self, width: int, height: int) -> int:
        """The number of columns that makes ``len(panels)`` square panels biggest in ``width`` x ``height``."""
        n = len(self.panels)
        best, best_side = 1, -1.0
        for cols in range(1, n + 1):
            rows = math.ceil(n / cols)
            side = min(width / cols, (height - rows * self.CAPTION_HEIGHT) / rows)
            if side > best_side:
                best, best_side = cols, side
        return best

    def _arrange(self) -> None:
        if not self.panels:
            return
        cols = self.best_columns(max(1, self.width()), max(1, self.height()))
        if cols == self._columns:
            return
        self._columns = cols
        for _, cell in self.panels:
            self._layout.removeWidget(cell)
        for c in range(self._layout.columnCount()):
            self._layout.setColumnStretch(c, 0)
        for r in range(self._layout.rowCount()):
            self._layout.setRowStretch(r, 0)
        for i, (_, cell) in enumerate(self.panels):
            r, c = divmod(i, cols)
            self._layout.addWidget(cell, r, c)
            self._layout.setColumnStretch(c, 1)  # equal stretch: every panel the same size
            self._layout.setRowStretch(r, 1)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()


def _image_panel(column, samples: np.ndarray, columns: int):
    plot, item = image_box(column)
    set_image(item, tile(chw_to_hwc(np.clip(samples[:GRID_IMAGES], 0.0, 1.0)), nrow=columns))
    plot.getPlotItem().getViewBox().autoRange()
    plot.setMouseEnabled(False, False)
    return plot


def _points_panel(column, samples: np.ndarray, colour, real, bounds):
    plot = pg.PlotWidget()
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(False, False)
    plot.getPlotItem().hideAxis("left")
    plot.getPlotItem().hideAxis("bottom")
    plot.setAspectLocked(True)
    if real is not None:
        plot.addItem(pg.ScatterPlotItem(real[:POINTS_SHOWN, 0], real[:POINTS_SHOWN, 1], size=3,
                                        pen=None, brush=pg.mkBrush(170, 170, 170, 120)))
    c = pg.mkColor(colour)
    c.setAlpha(150)
    plot.addItem(pg.ScatterPlotItem(samples[:POINTS_SHOWN, 0], samples[:POINTS_SHOWN, 1], size=3,
                                    pen=None, brush=pg.mkBrush(c)))
    if bounds is not None:
        (x0, y0), (x1, y1) = (map(float, b) for b in bounds)  # float32 overflows pyqtgraph's range checks
        plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
    column.addWidget(plot)
    return plot


def _bounds(point_sets: list):
    """One box for every panel: the real data's, and the samples' up to their 1st-99th
    percentiles (one far-flung sample must not shrink everything else)."""
    sets = [np.asarray(p)[np.isfinite(p).all(axis=1)] for p in point_sets if len(p)]
    if not sets:
        return None
    lo = np.min([np.percentile(p, 1, axis=0) for p in sets], axis=0)
    hi = np.max([np.percentile(p, 99, axis=0) for p in sets], axis=0)
    return lo, hi
