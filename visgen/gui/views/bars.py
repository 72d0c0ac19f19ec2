"""One bar per label, e.g. KL per latent dimension or codebook usage."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...core.imaging import class_color
from ...core.snapshots import Bars
from .base import View, make_plot, qcolor


class BarsView(View):
    """Draws ``Bars`` snapshots with one BarGraphItem; labels become x-axis ticks."""

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.plot = make_plot(self.layout_)
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot_item = self.plot.getPlotItem()
        self.bars = pg.BarGraphItem(x=np.zeros(0), height=np.zeros(0), width=0.8,
                                    brush=qcolor(class_color(0), 200), pen=pg.mkPen(None))
        self.plot_item.addItem(self.bars)
        self._labels = None

    def show_snapshot(self, snapshot: Bars) -> None:
        self.last_snapshot = snapshot
        n = len(snapshot.values)
        self.bars.setOpts(x=np.arange(n, dtype=np.float32), height=snapshot.values, width=0.8)
        labels = tuple(str(l) for l in snapshot.labels)
        if labels != self._labels:
            self._labels = labels
            # With many bars, label only every k-th so ticks do not overlap.
            k = max(1, int(np.ceil(n / 30)))
            self.plot_item.getAxis("bottom").setTicks([[(i, labels[i]) for i in range(0, n, k)]])
            self.plot_item.setXRange(-0.6, n - 0.4, padding=0)
        self.plot_item.setLabel("left", snapshot.y_label or None)

    def clear(self) -> None:
        super().clear()
        self.bars.setOpts(x=np.zeros(0), height=np.zeros(0))
