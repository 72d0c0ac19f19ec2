"""A batch of images tiled into one grid picture."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel

from ...core.imaging import tile
from ...core.snapshots import ImageGrid
from .base import PlotWidget, View


def image_box(layout) -> tuple[PlotWidget, pg.ImageItem]:
    """A bare, aspect-locked plot holding one row-major ImageItem with y pointing down
    (row 0 at the top, so images are upright)."""
    plot = PlotWidget()
    item = pg.ImageItem(axisOrder="row-major")
    pi = plot.getPlotItem()
    pi.addItem(item)
    pi.hideAxis("left")
    pi.hideAxis("bottom")
    pi.setMenuEnabled(False)
    vb = pi.getViewBox()
    vb.setAspectLocked(True)
    vb.invertY(True)
    vb.setDefaultPadding(0.01)
    layout.addWidget(plot)
    return plot, item


def set_image(item: pg.ImageItem, image: np.ndarray) -> None:
    """Fixed (0, 1) levels: no per-frame min/max scan, and brightness means the same every frame."""
    item.setImage(np.ascontiguousarray(image, dtype=np.float32), autoLevels=False, levels=(0.0, 1.0))


class ImageGridView(View):
    """Draws ``ImageGrid`` snapshots: the images tiled by ``tile()`` into one ImageItem."""

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.title = QLabel(wordWrap=True)
        self.title.setAlignment(Qt.AlignCenter)
        self.title.setMinimumWidth(1)  # a long title wraps; it must not make the dock (or a page) wider
        self.title.setVisible(False)
        self.layout_.addWidget(self.title)
        self.plot, self.image = image_box(self.layout_)
        self._shape = None
        self.captions: list[pg.TextItem] = []

    def show_snapshot(self, snapshot: ImageGrid) -> None:
        self.last_snapshot = snapshot
        grid = tile(snapshot.images, snapshot.nrow)
        set_image(self.image, grid)
        if grid.shape != self._shape:  # refit only when the layout changes, keep user zoom otherwise
            self._shape = grid.shape
            self.plot.getPlotItem().getViewBox().autoRange()
        self.title.setText(snapshot.title)
        self.title.setVisible(bool(snapshot.title))
        self._show_captions(snapshot)

    def _show_captions(self, snapshot: ImageGrid) -> None:
        captions = list(snapshot.captions or [])
        n, h, w = snapshot.images.shape[:3]
        ncol = snapshot.nrow or max(1, math.ceil(math.sqrt(n)))  # same layout as tile()
        while len(self.captions) < len(captions):
            item = pg.TextItem(color=(0, 0, 0), fill=(255, 255, 255, 170), anchor=(0, 0))
            item.setFont(QFont(item.textItem.font().family(), 7))
            self.plot.getPlotItem().addItem(item, ignoreBounds=True)
            self.captions.append(item)
        for i, item in enumerate(self.captions):
            item.setVisible(i < len(captions))
            if i < len(captions):
                r, c = divmod(i, ncol)
                item.setText(str(captions[i]))
                item.setPos(1 + c * (w + 1), 1 + r * (h + 1))

    def clear(self) -> None:
        super().clear()
        self.image.clear()
        self.title.setText("")
        for item in self.captions:
            item.setVisible(False)
