"""One bar per label, e.g. KL per latent dimension or codebook usage."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetricsF

from ...core.imaging import class_color
from ...core.snapshots import Bars
from .base import View, make_plot, qcolor


BAR_BRUSH = pg.mkBrush(qcolor(class_color(0), 200))
MARKED_BRUSH = pg.mkBrush(170, 170, 170, 200)  # a marked bar (e.g. a collapsed latent dimension)


class BarsView(View):
    """Draws ``Bars`` snapshots with one BarGraphItem; labels become x-axis ticks.

    Labels never overlap: when the plot is too narrow for all of them, every k-th
    bar is labelled, and a label wider than the room it gets is shortened with "…".
    """

    GAP = 8  # pixels between neighbouring labels

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.plot = make_plot(self.layout_)
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot_item = self.plot.getPlotItem()
        self.bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.8,
                                    brush=BAR_BRUSH, pen=pg.mkPen(None))
        self.plot_item.addItem(self.bars)
        # A reference line (e.g. the KL below which a latent dimension counts as collapsed).
        self.threshold = pg.InfiniteLine(angle=0, pen=pg.mkPen((120, 120, 120), style=Qt.DashLine))
        self.threshold.setVisible(False)
        self.plot_item.addItem(self.threshold)
        self._labels: tuple = ()
        self.plot_item.getViewBox().sigResized.connect(self._label_ticks)

    def show_snapshot(self, snapshot: Bars) -> None:
        self.last_snapshot = snapshot
        n = len(snapshot.values)
        brushes = None
        if snapshot.marked is not None:
            brushes = [MARKED_BRUSH if m else BAR_BRUSH for m in snapshot.marked]
        self.bars.setOpts(x=np.arange(n, dtype=np.float32), height=snapshot.values, width=0.8,
                          brush=BAR_BRUSH, brushes=brushes)
        if snapshot.y_max is not None:  # bars that shrink must be seen to shrink: no auto-scaling below y_max
            finite = snapshot.values[np.isfinite(snapshot.values)]
            top = max(float(finite.max()) if finite.size else 0.0, float(snapshot.y_max))
            self.plot_item.setYRange(0.0, top * 1.05, padding=0)
        else:
            self.plot_item.enableAutoRange(axis="y")
        self.threshold.setVisible(snapshot.threshold is not None)
        if snapshot.threshold is not None:
            self.threshold.setValue(float(snapshot.threshold))
        labels = tuple(str(l) for l in snapshot.labels)
        if labels != self._labels:
            self._labels = labels
            self._label_ticks()
        self.plot_item.setLabel("left", snapshot.y_label or None)

    def _label_ticks(self, *_args) -> None:
        """Label every k-th bar, k the smallest that keeps neighbouring labels apart, and
        widen the x range so that the labels of the outer bars are not cut off."""
        labels, n = self._labels, len(self._labels)
        axis = self.plot_item.getAxis("bottom")
        if not n:
            axis.setTicks([[]])
            return
        fm = QFontMetricsF(axis.style["tickFont"] or axis.font())
        widest = max(fm.horizontalAdvance(line) for label in labels for line in label.split("\n"))
        width = max(self.plot_item.getViewBox().width(), 1.0)
        # Margin in bar slots beyond the outer bar centres: at least the usual 0.6, and
        # half the widest label, since pyqtgraph drops a label that would cross the edge.
        half = widest / 2 + 2
        margin = max(0.6, half * (n - 1) / (width - 2 * half)) if width > 4 * half else 0.6
        per_bar = width / (n - 1 + 2 * margin)
        # Past every other bar, thinning hides more than it saves: shorten instead.
        k = min(max(1, math.ceil((widest + self.GAP) / per_bar)), max(1, n // 2))
        room = min(k * per_bar - self.GAP, 2 * (margin * per_bar - 2))
        shown = ["\n".join(fm.elidedText(line, Qt.ElideRight, room) for line in labels[i].split("\n"))
                 for i in range(0, n, k)]
        axis.setTicks([list(zip(range(0, n, k), shown))])
        self.plot_item.setXRange(-margin, n - 1 + margin, padding=0)
        lines = max(label.count("\n") + 1 for label in labels)
        # Room for every line of a multi-line label (pyqtgraph sizes the axis for one).
        axis.setStyle(autoExpandTextSpace=False, tickTextHeight=int(math.ceil(lines * fm.lineSpacing())))

    def clear(self) -> None:
        super().clear()
        self.bars.setOpts(x=np.zeros(0), height=np.zeros(0), brushes=None)
        self.threshold.setVisible(False)
