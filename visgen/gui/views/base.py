"""The base class of every view widget, plus small drawing helpers the views share."""
from __future__ import annotations

import functools
import time

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
PROBLEM_STYLE = "color: #d62728; padding: 4px"   # something failed
INFO_STYLE = "color: #303030; padding: 4px"      # nothing to show, and why (not a failure)
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
        # Before its first picture, a picture view says what it will show (a click target
        # would otherwise be an empty box nobody knows how to fill).
        self.empty_text = decl.help if decl is not None and not decl.scalars else ""
        self.freshness.setText(self.empty_text)
        self.layout_.addWidget(self.freshness)
        # Why this view shows nothing (the model's view raised, or sent what it cannot draw).
        self.problem = QLabel(objectName="view-problem", wordWrap=True)
        self.problem.setStyleSheet(PROBLEM_STYLE)
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

    def show_problem(self, message: str, info: bool = False) -> None:
        """Say in the dock why nothing new is drawn (``""`` hides the message): in red when
        something failed, in plain text when the model simply has nothing to show (``info``)."""
        self.problem.setText(message)
        self.problem.setStyleSheet(INFO_STYLE if info else PROBLEM_STYLE)
        self.problem.setVisible(bool(message))

    def show_freshness(self, text: str, stale: bool = False, why: str = "") -> None:
        """Say which step the picture is from; ``stale`` colours it and ``why`` (the tooltip)
        says what keeps it old and what would refresh it."""
        text = text or (self.empty_text if self.last_snapshot is None else "")
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

    def take_paint_seconds(self) -> float:
        """Seconds this view's plots spent painting since the last call.

        Qt paints from its event queue, after the pull loop set the data, so the
        pull loop cannot time it; it adds this to the view's drawing cost instead.
        """
        total = 0.0
        for plot in self.findChildren(PlotWidget):
            total += plot.painted
            plot.painted = 0.0
        return total


class PlotWidget(pg.PlotWidget):
    """``pg.PlotWidget`` that adds up the seconds its paints take (``painted``).

    Painting is most of what the window costs training (benchmarks/gil.py): the
    views are budgeted by it (``View.take_paint_seconds``)."""

    painted = 0.0

    def paintEvent(self, event) -> None:
        t0 = time.perf_counter()
        try:
            super().paintEvent(event)
        finally:
            self.painted += time.perf_counter() - t0


def make_plot(parent_layout, aspect: bool = False) -> PlotWidget:
    """A PlotWidget with a grid, added to ``parent_layout``."""
    plot = PlotWidget()
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


class PlotLegend(pg.LegendItem):
    """A legend in its own row under the x axis, so it never covers data.

    Entries flow into as many columns as the plot's width holds (one row for a
    few series, several for ten classes); the row is as tall as its entries and
    gone when there are none. Same ``addItem`` / ``clear`` as ``pg.LegendItem``.
    """

    ROW = 4  # PlotItem's grid: title 0, top axis 1, view box 2, bottom axis 3

    def __init__(self, plot_item: pg.PlotItem):
        super().__init__(frame=False, labelTextColor="k", horSpacing=4)
        self.plot_item = plot_item
        plot_item.layout.addItem(self, self.ROW, 1)
        # Never ask for width: the plot sets it, and the columns follow (fit_columns).
        self.setMinimumWidth(0)
        self.setPreferredWidth(0)
        plot_item.getViewBox().sigResized.connect(self.fit_columns)
        self.setVisible(False)

    def addItem(self, item, name) -> None:
        super().addItem(item, name)
        self.fit_columns()

    def clear(self) -> None:
        super().clear()
        self.fit_columns()

    def fit_columns(self) -> None:
        """As many columns as fit the plot's width, then the height the rows need."""
        if not self.items:
            self.setVisible(False)
            return
        self.setVisible(True)
        # The width of the label's text: the layout stretches the LabelItem to its column.
        entries = [sample.boundingRect().width() + label.item.document().idealWidth() + 16
                   for sample, label in self.items]
        width = self.plot_item.getViewBox().width() or self.plot_item.width()
        # Entries fill rows left to right, so entry i lands in column i % columns.
        columns = next((c for c in range(len(entries), 1, -1)
                        if sum(max(entries[j::c]) for j in range(c)) <= width), 1)
        self.setColumnCount(columns)
        self.updateSize()

    def updateSize(self) -> None:
        # pg.LegendItem sets its own geometry; inside a layout it must ask for a height instead.
        self.layout.invalidate()
        height = self.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).height() if self.items else 0.0
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)
        self.updateGeometry()

    def mouseDragEvent(self, ev) -> None:
        ev.ignore()  # a legend in the layout stays in its row


class ClickMarker:
    """Clicks on a ``clickable`` view's plot: a left click inside the plot area (not on an axis
    or the legend margin) emits ``view.clicked(x, y)`` in data coordinates and leaves a red
    cross where it landed."""

    def __init__(self, view: View, plot: PlotWidget):
        self.view, self.plot_item = view, plot.getPlotItem()
        self.marker = pg.ScatterPlotItem(symbol="x", size=16, pen=pg.mkPen("r", width=2), brush=None)
        self.marker.setZValue(10)
        self.marker.setVisible(False)
        self.plot_item.addItem(self.marker)
        plot.scene().sigMouseClicked.connect(self._on_click)
        plot.setCursor(Qt.CrossCursor)

    def _on_click(self, ev) -> None:
        if ev.button() != Qt.LeftButton:
            return
        vb = self.plot_item.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = vb.mapSceneToView(ev.scenePos())
        self.marker.setData(pos=np.array([[p.x(), p.y()]], np.float32))
        self.marker.setVisible(True)
        self.view.clicked.emit(float(p.x()), float(p.y()))

    def hide(self) -> None:
        self.marker.setVisible(False)


def add_legend(plot_item: pg.PlotItem) -> PlotLegend:
    """A legend below ``plot_item``'s x axis (see ``PlotLegend``)."""
    return PlotLegend(plot_item)


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
    """A pool of ScatterPlotItems, one per PointSet slot, reused between snapshots.

    A PointSet with ``polyline`` > 0 is drawn by the slot's line item instead: its
    runs of points become connected lines (a warped grid reads as a grid, not dust).
    """

    def __init__(self, plot_item: pg.PlotItem, legend: pg.LegendItem | None = None):
        self.plot_item = plot_item
        self.legend = legend
        self.items: list[pg.ScatterPlotItem] = []
        self.lines: list[pg.PlotDataItem] = []
        self._legend_key = None
        self._legend_samples: list = []

    def show(self, point_sets) -> None:
        for i, ps in enumerate(point_sets):
            if i == len(self.items):
                item = pg.ScatterPlotItem(pen=None)
                line = pg.PlotDataItem()
                self.plot_item.addItem(item)
                self.plot_item.addItem(line)
                self.items.append(item)
                self.lines.append(line)
            item, line = self.items[i], self.lines[i]
            if ps.polyline > 0:
                _hide(item)
                line.setData(ps.xy[:, 0], ps.xy[:, 1], connect=polyline_connect(len(ps.xy), ps.polyline),
                             pen=line_pen(ps.color or class_color(i)), skipFiniteCheck=True)
                line.setVisible(True)
                continue
            symbol = SYMBOLS[i % len(SYMBOLS)]
            if ps.labels is not None:
                brush = class_brushes(ps.labels)
            else:
                brush = solid_brush(tuple(ps.color or class_color(i)))
            item.setData(pos=ps.xy, brush=brush, size=ps.size, symbol=symbol, pen=None)
            item.setVisible(True)
            _hide(line)
        for item, line in zip(self.items[len(point_sets):], self.lines[len(point_sets):]):
            _hide(item)
            _hide(line)
        self._update_legend(point_sets)

    def _update_legend(self, point_sets) -> None:
        if self.legend is None:
            return
        # Classes get an entry each; a series gets one when it has no labels or
        # there are several series (then its symbol tells them apart). A symbol of
        # None stands for a line.
        entries = []
        for i, ps in enumerate(point_sets):
            symbol = None if ps.polyline > 0 else SYMBOLS[i % len(SYMBOLS)]
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
        self._legend_samples = [pg.PlotDataItem(pen=line_pen(c)) if s is None
                                else pg.ScatterPlotItem(symbol=s, brush=qcolor(c, 220), pen=None, size=9)
                                for _, s, c in entries]
        for (name, _, _), sample in zip(entries, self._legend_samples):
            self.legend.addItem(sample, name)

    def clear(self) -> None:
        self.show([])


def _hide(item) -> None:
    """Empty and hide a pooled item (an empty item costs nothing to paint)."""
    if isinstance(item, pg.ScatterPlotItem):
        item.setData(pos=np.zeros((0, 2), np.float32))
    else:
        item.setData([], [])
    item.setVisible(False)


def line_pen(rgb, width: float = 1.5) -> QPen:
    """A cosmetic pen: the same width in pixels at any zoom."""
    pen = QPen(qcolor(rgb, 230))
    pen.setWidthF(width)
    pen.setCosmetic(True)
    return pen


def polyline_connect(n: int, run: int) -> np.ndarray:
    """pyqtgraph's ``connect`` array for ``n`` points in runs of ``run``: no segment
    from the last point of one run to the first of the next."""
    connect = np.ones(n, dtype=bool)
    connect[run - 1::run] = False
    return connect


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
            self.items[i].setData(seg[:, 0], seg[:, 1], connect="pairs", pen=line_pen(v.color or self.default_color),
                                  skipFiniteCheck=True)
            self.items[i].setVisible(True)
        for item in self.items[len(vectors):]:
            item.setData([], [])
            item.setVisible(False)

    def clear(self) -> None:
        self.show([])


def robust_bounds(points, keep: float = 98.0, reach: float = 0.5, pad: float = 0.05):
    """((xmin, xmax), (ymin, ymax)) that show nearly all of ``points`` (any shape (..., 2)).

    Points beyond the central ``keep`` percent by more than ``reach`` of its span
    are left out, so a few far outliers cannot shrink the rest to one dot; the
    range of the rest is padded by ``pad`` of its span. None when no point is finite.
    """
    p = np.asarray(points, np.float64).reshape(-1, 2)
    p = p[np.isfinite(p).all(1)]
    if not len(p):
        return None
    # Percentiles of a strided sample: a long frame sequence holds 100k points.
    sample = p[::max(1, len(p) // 20_000)]
    lo, hi = np.percentile(sample, [(100 - keep) / 2, (100 + keep) / 2], axis=0)
    span = hi - lo
    near = p[((p >= lo - reach * span) & (p <= hi + reach * span)).all(1)]
    lo, hi = near.min(0), near.max(0)
    span = hi - lo
    # One point, or a collapsed cloud: show a unit square around it rather than a zero range.
    span = np.where(span > 1e-9 * np.maximum(1.0, np.abs(lo)), span, 1.0)
    mid = (lo + hi) / 2
    lo, hi = np.minimum(lo, mid - span / 2), np.maximum(hi, mid + span / 2)
    lo, hi = lo - pad * span, hi + pad * span
    # Python floats: pyqtgraph compares against float64 limits and float32 overflows.
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


class RangeFollower:
    """Fits a plot's axes to each new snapshot, unless the learner has zoomed or panned.

    pyqtgraph turns its auto-range off on every ``setRange``, ours included, so its
    flag cannot tell a fit from a zoom. Instead a mouse zoom or pan
    (``sigRangeChangedManually``) hands the range to the learner until the plot's
    "A" button, which takes it back and fits the last snapshot at once.
    """

    def __init__(self, plot_item: pg.PlotItem):
        self.plot_item = plot_item
        self.vb = plot_item.getViewBox()
        self.user_zoomed = False
        self.target = None
        self.vb.sigRangeChangedManually.connect(self._zoomed)
        plot_item.autoBtn.clicked.connect(self._auto_range)

    def fit(self, bounds, stated: bool = False) -> None:
        """Show ``bounds`` ((xmin, xmax), (ymin, ymax)) unless the learner owns the range.

        A computed range that barely differs from the one shown is not applied, so a
        slowly moving cloud does not make the axes jitter; a ``stated`` one always is.
        """
        if bounds is None:
            return
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in bounds)
        target = ((x0, max(x1, x0 + 1e-9)), (y0, max(y1, y0 + 1e-9)))
        if not stated and self.target is not None and _close(target, self.target):
            return
        self.target = target
        if not self.user_zoomed:
            self.vb.setRange(xRange=target[0], yRange=target[1], padding=0)

    def forget(self) -> None:
        """Start afresh (a new run, another kind of frames): the next ``fit`` applies."""
        self.target = None
        self.user_zoomed = False

    def _zoomed(self, _mask=None) -> None:
        self.user_zoomed = True

    def _auto_range(self) -> None:
        self.user_zoomed = False
        if self.target is not None:
            self.vb.setRange(xRange=self.target[0], yRange=self.target[1], padding=0)


def _close(new, old, slack: float = 0.02, shrink: float = 0.8) -> bool:
    """Whether range ``new`` lies within ``old`` (give or take ``slack`` of its span)
    and fills at least ``shrink`` of it on both axes."""
    for (a, b), (c, d) in zip(new, old):
        span = d - c
        if a < c - slack * span or b > d + slack * span or (b - a) < shrink * span:
            return False
    return True
