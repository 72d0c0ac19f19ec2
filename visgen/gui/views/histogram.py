"""Overlaid histograms sharing one set of bins."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...core.imaging import class_color
from ...core.snapshots import Histogram
from .base import View, add_legend, make_plot, qcolor


def shared_edges(series, bins: int, range_=None) -> np.ndarray:
    """Bin edges over all series together, so the overlaid bars line up."""
    if range_ is None:
        finite = [v[np.isfinite(v)] for v in (s.values for s in series)]
        finite = [v for v in finite if len(v)]
        lo = min((float(v.min()) for v in finite), default=0.0)
        hi = max((float(v.max()) for v in finite), default=1.0)
        range_ = (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)
    return np.linspace(range_[0], range_[1], int(bins) + 1)


class HistogramView(View):
    """Draws ``Histogram`` snapshots as semi-transparent filled step curves, one per series."""

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.plot = make_plot(self.layout_)
        self.plot_item = self.plot.getPlotItem()
        self.plot_item.setLabel("left", "count")
        self.legend = add_legend(self.plot_item)
        self.items: list[pg.PlotDataItem] = []
        self._legend_key = None
        self._samples: list[pg.ScatterPlotItem] = []

    def show_snapshot(self, snapshot: Histogram) -> None:
        self.last_snapshot = snapshot
        edges = shared_edges(snapshot.series, snapshot.bins, snapshot.range)
        for i, s in enumerate(snapshot.series):
            if i == len(self.items):
                item = pg.PlotDataItem(stepMode="center", fillLevel=0)
                self.plot_item.addItem(item)
                self.items.append(item)
            counts, _ = np.histogram(s.values, bins=edges)
            color = s.color or class_color(i)
            self.items[i].setData(edges, counts.astype(np.float32), stepMode="center", fillLevel=0,
                                  pen=pg.mkPen(qcolor(color), width=1.5), brush=qcolor(color, 70))
            self.items[i].setVisible(True)
        for item in self.items[len(snapshot.series):]:
            item.setVisible(False)
        key = tuple(s.name for s in snapshot.series)
        if key != self._legend_key:  # rebuild only when the series change
            self._legend_key = key
            self.legend.clear()
            # A filled square reads better than the default sample of a filled curve.
            self._samples = [pg.ScatterPlotItem(symbol="s", size=11, pen=item.opts["pen"], brush=item.opts["fillBrush"])
                             for item in self.items[:len(key)]]
            for sample, name in zip(self._samples, key):
                self.legend.addItem(sample, name)
        self.plot_item.setLabel("bottom", snapshot.x_label or None)

    def clear(self) -> None:
        super().clear()
        for item in self.items:
            item.setVisible(False)
