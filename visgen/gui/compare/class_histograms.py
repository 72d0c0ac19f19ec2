"""Which classes each run's samples fall in, by the feature classifier, beside real data's.

A GAN that drops classes (mode collapse on images) shows as missing bars; held-out real
data's fractions are drawn as a grey outline behind every run's bars for scale.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

REFERENCE_PEN = pg.mkPen(110, 110, 110, width=1.5)


class ClassHistograms(QWidget):
    """One bar chart per run (``set_histograms``), in a grid, all on one y scale."""

    COLUMNS = 3

    def __init__(self, parent=None):
        super().__init__(parent, objectName="class-histograms")
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.plots: list = []  # (caption, plot, bars) per run, in order

    def set_histograms(self, runs: list, reference=None, class_names=None) -> None:
        """``runs``: ``(caption, fractions, colour)``; ``reference``: held-out real data's
        fractions; ``class_names``: the x-axis labels (class numbers without them)."""
        for caption, plot, _ in self.plots:
            self._layout.removeWidget(caption)
            self._layout.removeWidget(plot)
            caption.deleteLater()
            plot.deleteLater()
        self.plots = []
        top = max([max(h) for _, h, _ in runs if len(h)] + [max(reference) if reference else 0] + [0.05])
        for i, (text, fractions, colour) in enumerate(runs):
            n = len(fractions)
            plot = pg.PlotWidget()
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            bars = pg.BarGraphItem(x=np.arange(n), height=np.asarray(fractions, float), width=0.7,
                                   brush=pg.mkBrush(colour), pen=None)
            plot.addItem(bars)
            if reference is not None and len(reference) == n:
                # real data's fractions as steps over the bars: missing classes stand out
                edges = np.arange(n + 1) - 0.5
                plot.addItem(pg.PlotDataItem(edges, np.asarray(reference, float), stepMode="center",
                                             pen=REFERENCE_PEN))
            names = [str(k) for k in range(n)]
            if class_names is not None and len(class_names) == n:
                if all(len(str(name)) <= 3 for name in class_names):
                    names = [str(name) for name in class_names]
                else:  # long names crowd a small axis: numbers on it, names in the tooltip
                    plot.setToolTip("\n".join(f"{k}: {name}" for k, name in enumerate(class_names)))
            plot.getAxis("bottom").setTicks([list(enumerate(names))])
            plot.setYRange(0, top * 1.1, padding=0)
            plot.setXRange(-0.6, n - 0.4, padding=0)
            plot.setMinimumSize(120, 90)
            caption = QLabel(text, alignment=Qt.AlignCenter, wordWrap=True)
            caption.setStyleSheet(f"color: {pg.mkColor(colour).name()}; font-weight: bold")
            r, c = divmod(i, self.COLUMNS)
            self._layout.addWidget(caption, 2 * r, c)
            self._layout.addWidget(plot, 2 * r + 1, c)
            self._layout.setRowStretch(2 * r + 1, 1)
            self._layout.setColumnStretch(c, 1)
            self.plots.append((caption, plot, bars))
