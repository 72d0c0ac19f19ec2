"""2D point clouds (latent codes, data against samples) with optional arrows and clicks."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...core.snapshots import Scatter
from .base import ClickMarker, PointLayer, RangeFollower, VectorLayer, View, add_legend, make_plot, robust_bounds


class ScatterView(View):
    """Draws ``Scatter`` snapshots: one ScatterPlotItem per series slot, arrows on top.

    On a ``clickable`` view a left click emits ``clicked(x, y)`` in data
    coordinates and leaves a cross where it landed. The axes fit each snapshot
    (its ``bounds``, or nearly all its points) until the learner zooms or pans.
    """

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.plot = make_plot(self.layout_, aspect=True)
        self.plot_item = self.plot.getPlotItem()
        self.legend = add_legend(self.plot_item)
        self.points = PointLayer(self.plot_item, self.legend)
        self.vectors = VectorLayer(self.plot_item)
        self.range = RangeFollower(self.plot_item)
        self.clicks = ClickMarker(self, self.plot) if decl.clickable else None
        self.marker = self.clicks.marker if self.clicks else None

    @property
    def items(self) -> list[pg.ScatterPlotItem]:
        """The per-series ScatterPlotItems (hidden ones hold no points)."""
        return self.points.items

    def show_snapshot(self, snapshot: Scatter) -> None:
        self.last_snapshot = snapshot
        self.points.show(snapshot.series)
        self.vectors.show(snapshot.vectors)
        self.plot_item.setLabel("bottom", snapshot.x_label or None)
        self.plot_item.setLabel("left", snapshot.y_label or None)
        if snapshot.bounds is not None:
            self.range.fit(snapshot.bounds, stated=True)
        elif snapshot.series:
            self.range.fit(robust_bounds(np.concatenate([ps.xy for ps in snapshot.series])))

    def clear(self) -> None:
        super().clear()
        self.points.clear()
        self.vectors.clear()
        self.range.forget()
        if self.clicks:
            self.clicks.hide()
