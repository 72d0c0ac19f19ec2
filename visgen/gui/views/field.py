"""A scalar field over the plane as a heatmap, with points and arrows on top."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QSizePolicy, QWidget

from ...core.snapshots import Field2D
from .base import ClickMarker, PointLayer, RangeFollower, VectorLayer, View, add_legend, make_plot


class FieldView(View):
    """Draws ``Field2D`` snapshots: a viridis ImageItem stretched over ``extent``,
    a colour bar, then the snapshot's point sets and arrows.

    A check box per layer (the heatmap, each point set, each arrow set) shows or
    hides it; the choice holds across snapshots. The axes show ``extent`` until
    the learner zooms or pans; the aspect is free so that the heatmap fills the plot."""

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        toggles = QWidget()
        # The layer boxes may be clipped in a narrow dock; they must not set its minimum width.
        toggles.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.toggle_row = QHBoxLayout(toggles)
        self.toggle_row.setContentsMargins(4, 0, 4, 0)
        self.toggle_row.addStretch(1)
        self.layout_.addWidget(toggles)
        self.toggles: dict[str, QCheckBox] = {}
        self.plot = make_plot(self.layout_)
        self.plot.showGrid(x=False, y=False)
        self.plot_item = self.plot.getPlotItem()
        self.legend = add_legend(self.plot_item)
        cmap = pg.colormap.get("viridis")
        # Row 0 is at ymin and y points up, so row-major data needs no flip.
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(cmap)
        self.image.setZValue(-10)
        self.plot_item.addItem(self.image)
        self.colorbar = pg.ColorBarItem(colorMap=cmap, interactive=False, width=12, pen="k")
        self.colorbar.setImageItem(self.image, insert_in=self.plot_item)
        self.colorbar.axis.enableAutoSIPrefix(False)  # "(x0.001)" on a density axis confuses
        self.points = PointLayer(self.plot_item, self.legend)
        self.vectors = VectorLayer(self.plot_item, default_color=(255, 255, 255))
        self.range = RangeFollower(self.plot_item)
        self._cmap_name = "viridis"
        self.clicks = ClickMarker(self, self.plot) if decl is not None and decl.clickable else None
        self.marker = self.clicks.marker if self.clicks else None

    def shown(self, layer: str) -> bool:
        """Whether ``layer`` is switched on (a new layer gets a check box, on)."""
        box = self.toggles.get(layer)
        if box is None:
            box = self.toggles[layer] = QCheckBox(layer, objectName=f"layer-{layer}", checked=True)
            box.toggled.connect(self._redraw)
            self.toggle_row.insertWidget(self.toggle_row.count() - 1, box)
        return box.isChecked()

    def _redraw(self, _on=None) -> None:
        if self.last_snapshot is not None:
            self.show_snapshot(self.last_snapshot)

    def show_snapshot(self, snapshot: Field2D) -> None:
        self.last_snapshot = snapshot
        self.image.setVisible(self.shown("heatmap"))
        if snapshot.colormap != self._cmap_name:
            self._cmap_name = snapshot.colormap
            cmap = pg.colormap.get(snapshot.colormap)
            self.image.setColorMap(cmap)
            self.colorbar.setColorMap(cmap)
        values = snapshot.values
        if snapshot.levels is not None:
            levels = tuple(float(v) for v in snapshot.levels)
        else:
            finite = values[np.isfinite(values)]
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if levels[1] <= levels[0]:
            levels = (levels[0], levels[0] + 1e-6)
        self.image.setImage(values, autoLevels=False, levels=levels)
        xmin, xmax, ymin, ymax = (float(e) for e in snapshot.extent)
        self.image.setRect(QRectF(xmin, ymin, xmax - xmin, ymax - ymin))
        self.range.fit(((xmin, xmax), (ymin, ymax)), stated=True)
        self.colorbar.setLevels(levels)
        self.colorbar.setLabel("right", snapshot.value_label or None)
        self.points.show([p for p in snapshot.points if self.shown(p.name)])
        self.vectors.show([v for v in snapshot.vectors if self.shown(v.name)])

    def clear(self) -> None:
        super().clear()
        self.image.clear()
        self.points.clear()
        self.vectors.clear()
        self.range.forget()
        if self.clicks:
            self.clicks.hide()
