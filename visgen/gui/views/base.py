"""The base class of every view widget, plus small drawing helpers the views share."""
from __future__ import annotations

import functools

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.imaging import PALETTE, class_color
from ...core.spec import ViewDecl

# Set once at import: every view draws on white with black axes; antialiasing
# off because views redraw many times a second.
pg.setConfigOptions(background="w", foreground="k", antialias=False)

SYMBOLS = ("o", "t", "s", "d", "star", "p")
FRESH_STYLE = "color: #606060; padding: 0 4px; font-size: 11px"
STALE_STYLE = "color: #b35900; padding: 0 4px; font-size: 11px; font-weight: bold"


class View(QWidget):
    """A widget that draws the snapshots of one ``ViewDecl``.

    Subclasses override ``show_snapshot`` (and ``show_scalars`` for scalar
    streams). Everything runs in the GUI thread. ``clicked`` carries data
    coordinates of a click on a ``clickable`` view.
    """

    clicked = Signal(float, float)
    scrubbed = Signal(int)  # the value of a scrubbed frame (frames views)
    #: names of scalar series measured now and then (coverage): drawn as points, never smoothed
    sparse: frozenset = frozenset()

    def __init__(self, decl: ViewDecl | None, parent=None):
        super().__init__(parent)
        self.decl = decl
        self.last_snapshot = None
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(2)
        # Which training step the picture is from and how old it is (``show_freshness``).
        self.freshness = QLabel(objectName="view-freshness")
        self.freshness.setStyleSheet(FRESH_STYLE)
        self.freshness.setTextFormat(Qt.PlainText)
        self.freshness.setMinimumWidth(1)  # a long note must not widen the dock
        self.stale = False
        self.layout_.addWidget(self.freshness)
        # Why this view shows nothing (the model's view raised, or sent what it cannot draw).
        self.problem = QLabel(objectName="view-problem", wordWrap=True)
        self.problem.setStyleSheet("color: #d62728; padding: 4px")
        self.problem.setTextInteractionFlags(self.problem.textInteractionFlags() | Qt.TextSelectableByMouse)
        self.problem.hide()
        self.layout_.addWidget(self.problem)
        if decl is not None and decl.help:
            self.setToolTip(decl.help)

    def show_snapshot(self, snapshot) -> None:
        """Draw ``snapshot``; keep it in ``last_snapshot``."""
        raise NotImplementedError

    def show_scalars(self, series: dict) -> None:
        """Draw scalar histories ``{name: (steps, values)}``; most views ignore them."""

    def show_problem(self, message: str) -> None:
        """Say in the dock why nothing new is drawn (``""`` hides the message)."""
        self.problem.setText(message)
        self.problem.setVisible(bool(message))

    def show_freshness(self, text: str, stale: bool = False, why: str = "") -> None:
        """Say which step the picture is from; ``stale`` colours it and ``why`` (the tooltip)
        says what keeps it old and what would refresh it."""
        if text != self.freshness.text():
            self.freshness.setText(text)
        if stale != self.stale:
            self.stale = stale
            self.freshness.setStyleSheet(STALE_STYLE if stale else FRESH_STYLE)
        if why != self.freshness.toolTip():
            self.freshness.setToolTip(why)

    def clear(self) -> None:
        """Forget the last snapshot; subclasses also blank their items."""
        self.last_snapshot = None
        self.show_freshness("")

    def shutdown(self) -> None:
        """Stop timers before the widget goes away; views with timers override."""


def make_plot(parent_layout, aspect: bool = False) -> pg.PlotWidget:
    """A PlotWidget with a grid, added to ``parent_layout``."""
    plot = pg.PlotWidget()
    plot.showGrid(x=True, y=True, alpha=0.15)
    for axis in ("left", "bottom"):
        # The finest tick level's grid lines cost ~4x the rest to paint and add little.
        plot.getPlotItem().getAxis(axis).setStyle(maxTickLevel=1)
        # Labels carry no units, so an automatic "(x0.001)" would only confuse.
        plot.getPlotItem().getAxis(axis).enableAutoSIPrefix(False)
    if aspect:
        plot.setAspectLocked(True)
    parent_layout.addWidget(plot)
    return plot


def add_legend(plot_item: pg.PlotItem) -> pg.LegendItem:
    """Top-right legend on a translucent white box, readable over dense data."""
    return plot_item.addLegend(offset=(-10, 10), brush=(255, 255, 255, 200), pen=(200, 200, 200),
                               labelTextColor="k")


def qcolor(rgb, alpha: int = 255) -> QColor:
    rgb = tuple(int(c) for c in rgb)
    return QColor(*rgb[:3], rgb[3] if len(rgb) > 3 else alpha)


# One QBrush per palette colour, shared by all views: ScatterPlotItem keys its
# symbol cache on brush identity, so reusing the same objects keeps it warm.
_CLASS_BRUSHES = np.empty(len(PALETTE), dtype=object)
_CLASS_BRUSHES[:] = [QBrush(qcolor(c, 200)) for c in PALETTE]


def class_brushes(labels: np.ndarray) -> np.ndarray:
    """Object array of cached brushes, one per label (no per-point allocation)."""
    return _CLASS_BRUSHES[np.asarray(labels) % len(_CLASS_BRUSHES)]


@functools.lru_cache(maxsize=256)
def solid_brush(rgb: tuple, alpha: int = 200) -> QBrush:
    """A cached brush for one colour (same reason as the class brushes)."""
    return QBrush(qcolor(rgb, alpha))


class PointLayer:
    """A pool of ScatterPlotItems, one per PointSet slot, reused between snapshots."""

    def __init__(self, plot_item: pg.PlotItem, legend: pg.LegendItem | None = None):
        self.plot_item = plot_item
        self.legend = legend
        self.items: list[pg.ScatterPlotItem] = []
        self._legend_key = None
        self._legend_samples: list[pg.ScatterPlotItem] = []

    def show(self, point_sets) -> None:
        for i, ps in enumerate(point_sets):
            if i == len(self.items):
                item = pg.ScatterPlotItem(pen=None)
                self.plot_item.addItem(item)
                self.items.append(item)
            item = self.items[i]
            symbol = SYMBOLS[i % len(SYMBOLS)]
            if ps.labels is not None:
                brush = class_brushes(ps.labels)
            else:
                brush = solid_brush(tuple(ps.color or class_color(i)))
            item.setData(pos=ps.xy, brush=brush, size=ps.size, symbol=symbol, pen=None)
            item.setVisible(True)
        for item in self.items[len(point_sets):]:
            item.setData(pos=np.zeros((0, 2), np.float32))
            item.setVisible(False)
        self._update_legend(point_sets)

    def _update_legend(self, point_sets) -> None:
        if self.legend is None:
            return
        # Classes get an entry each; a series gets one when it has no labels or
        # there are several series (then its symbol tells them apart).
        entries = []
        for i, ps in enumerate(point_sets):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            if ps.labels is None:
                entries.append((ps.name, symbol, ps.color or class_color(i)))
            elif len(point_sets) > 1:
                entries.append((ps.name, symbol, (90, 90, 90)))
        names = next((ps.class_names for ps in point_sets if ps.labels is not None and ps.class_names), None)
        if names:
            entries += [(str(n), "o", class_color(k)) for k, n in enumerate(names)]
        key = tuple((n, s, tuple(c)) for n, s, c in entries)
        if key == self._legend_key:
            return
        self._legend_key = key
        self.legend.clear()
        self._legend_samples = [pg.ScatterPlotItem(symbol=s, brush=qcolor(c, 220), pen=None, size=9)
                                for _, s, c in entries]
        self.legend.setColumnCount(2 if len(entries) > 6 else 1)  # keep many classes compact
        for (name, _, _), sample in zip(entries, self._legend_samples):
            self.legend.addItem(sample, name)

    def clear(self) -> None:
        self.show([])


def arrow_segments(origins: np.ndarray, directions: np.ndarray, head: float = 0.25) -> np.ndarray:
    """Segment end points (3 segments per arrow: shaft and two head strokes), shape (6N, 2)."""
    o = np.asarray(origins, np.float32).reshape(-1, 2)
    d = np.asarray(directions, np.float32).reshape(-1, 2)
    tip = o + d
    c, s = np.cos(np.radians(25)), np.sin(np.radians(25))
    back = -head * d
    left = tip + np.stack([c * back[:, 0] - s * back[:, 1], s * back[:, 0] + c * back[:, 1]], 1)
    right = tip + np.stack([c * back[:, 0] + s * back[:, 1], -s * back[:, 0] + c * back[:, 1]], 1)
    return np.stack([o, tip, tip, left, tip, right], 1).reshape(-1, 2)


class VectorLayer:
    """A pool of PlotDataItems (connect='pairs'), one per Vectors slot."""

    def __init__(self, plot_item: pg.PlotItem, default_color=(20, 20, 20)):
        self.plot_item = plot_item
        self.default_color = default_color
        self.items: list[pg.PlotDataItem] = []

    def show(self, vectors) -> None:
        for i, v in enumerate(vectors):
            if i == len(self.items):
                item = pg.PlotDataItem(connect="pairs")
                self.plot_item.addItem(item)
                self.items.append(item)
            seg = arrow_segments(v.origins, v.directions)
            pen = QPen(qcolor(v.color or self.default_color, 230))
            pen.setWidthF(1.5)
            pen.setCosmetic(True)
            self.items[i].setData(seg[:, 0], seg[:, 1], connect="pairs", pen=pen, skipFiniteCheck=True)
            self.items[i].setVisible(True)
        for item in self.items[len(vectors):]:
            item.setData([], [])
            item.setVisible(False)

    def clear(self) -> None:
        self.show([])
