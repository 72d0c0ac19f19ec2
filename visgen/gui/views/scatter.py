"""2D point clouds (latent codes, data against samples) with optional arrows and clicks."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from ...core.snapshots import Scatter
from .base import PointLayer, RangeFollower, VectorLayer, View, add_legend, make_plot, robust_bounds


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
        self.marker = pg.ScatterPlotItem(symbol="x", size=16, pen=pg.mkPen("r", width=2), brush=None)
        self.marker.setZValue(10)
        self.marker.setVisible(False)
        self.plot_item.addItem(self.marker)
        if decl.clickable:
            self.plot.scene().sigMouseClicked.connect(self._on_click)
            self.plot.setCursor(Qt.CrossCursor)

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

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.LeftButton:
            return
        vb = self.plot_item.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return  # on an axis or the legend margin
        p = vb.mapSceneToView(ev.scenePos())
        self.marker.setData(pos=np.array([[p.x(), p.y()]], np.float32))
        self.marker.setVisible(True)
        self.clicked.emit(float(p.x()), float(p.y()))

    def clear(self) -> None:
        super().clear()
        self.points.clear()
        self.vectors.clear()
        self.range.forget()
        self.marker.setVisible(False)
