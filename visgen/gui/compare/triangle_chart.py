"""The quality / diversity / speed triangle: measured runs on the course's "impossible triangle".

VAEs lack sample quality, GANs lack diversity (mode coverage) and diffusion models lack
fast sampling; no family of generative models has all three. The chart is a three-axis
radar chart drawn as a triangle: quality points up, diversity to the bottom left and speed
to the bottom right, each axis running from 0 at the centre to 1 at its corner. Each run is
a translucent triangle whose corners sit at its three scores, so a run good at everything
would fill the outer triangle, and each family's missing corner shows as a dent.
"""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem, QVBoxLayout, QWidget

from ...core.imaging import class_color
from ..views.base import PlotLegend

AXES = ("quality", "diversity", "speed")
#: Direction of each axis in degrees, in the order of ``AXES``: up, bottom left, bottom right.
ANGLES = (90.0, 210.0, 330.0)
GUIDE_LEVELS = (0.25, 0.5, 0.75, 1.0)
HINT = "Measure runs to place them here"

# Unit vectors of the axes, rounded so the top corner is exactly (0, 1).
_DIRECTIONS = np.round(np.array([(math.cos(math.radians(a)), math.sin(math.radians(a))) for a in ANGLES]), 12)

# Corner labels are drawn in pixels and the triangle in data units, so no one data range
# fits them at every size: ``_fit_view`` sizes the range to the plot's pixels instead.
_LABEL_WIDTH = 100  # pixels: longer second lines ("samples per second, log") wrap
_LABEL_GAP = 0.04   # data units between a corner and its label
_MARGIN = 6         # pixels left free around the labels

_FILL_ALPHA = 45      # translucent, so where runs overlap every outline still shows
_GUIDE_GREY = (205, 205, 205)
_OUTLINE_GREY = (150, 150, 150)


def run_colour(i: int) -> QColor:
    """The colour of run ``i``: the app's palette (tab10), which reads on white - unlike
    ``pg.intColor``'s yellows and light greens. Use it for the run wherever the Compare window
    names it, so a run has one colour everywhere."""
    return QColor(*class_color(i))


def _missing(score) -> bool:
    return score is None or (isinstance(score, (float, np.floating)) and math.isnan(score))


def _clipped(score) -> float:
    """A score on [0, 1]; not measured (None or NaN) counts as 0."""
    if _missing(score):
        return 0.0
    return float(np.clip(float(score), 0.0, 1.0))


def triangle_vertices(quality, diversity, speed) -> np.ndarray:
    """The (3, 2) xy corners of a run's triangle: one point on each axis, in the order
    quality (top, ``(0, r)``), diversity (bottom left), speed (bottom right), at distance
    ``r`` = the score from the centre. Scores are clipped to [0, 1]; None or NaN (not
    measured) puts that corner at the centre."""
    radii = np.array([_clipped(quality), _clipped(diversity), _clipped(speed)])
    return radii[:, None] * _DIRECTIONS


def _add_triangle(path: QPainterPath, level: float) -> None:
    corners = level * _DIRECTIONS
    path.moveTo(*corners[-1])
    for x, y in corners:
        path.lineTo(x, y)


def _label_html(text: str, small: str) -> str:
    # The wrapping width is fixed, so centring in the box centres the text on its corner.
    main = f'<span style="color:#202020; font-size:11pt; font-weight:600">{html.escape(text)}</span>'
    sub = f'<br><span style="color:#606060; font-size:8pt">{html.escape(small)}</span>' if small else ""
    return f'<div style="text-align:center">{main}{sub}</div>'


def _missing_note(names: list) -> str:
    if not names:
        return ""
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f" (no {listed})"


class TriangleChart(QWidget):
    """The runs measured, each a translucent triangle on the quality / diversity / speed axes.

    ``set_runs`` replaces the runs drawn, ``set_axis_labels`` the corner labels. A fixed
    picture: no pan, zoom or menu. ``drawn`` lists ``(label, vertices)`` of what is drawn.
    """

    def __init__(self, parent=None):
        super().__init__(parent, objectName="triangle-chart")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # White with black text like every view; antialiased, unlike the views, because this
        # picture changes only when runs are measured, and jagged diagonals read poorly.
        self.plot = pg.PlotWidget(background="w")
        self.plot.setAntialiasing(True)
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.hideButtons()
        item.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        vb = item.getViewBox()
        vb.setAspectLocked(True)
        # The range follows the plot's size (``_fit_view``), never the scores: 0..1 is the
        # same length for every run, and a run at 0.2 does not look big because all are small.
        vb.disableAutoRange()
        vb.sigResized.connect(self._fit_view)
        layout.addWidget(self.plot)

        self._guides = self._make_guides()
        item.addItem(self._guides)
        self._labels = []
        for direction in _DIRECTIONS:
            top = direction[1] > 0
            label = pg.TextItem(anchor=(0.5, 1.0 if top else 0.0))
            label.setTextWidth(_LABEL_WIDTH)
            # Bottom labels move apart in ``_fit_view`` when the triangle gets too narrow.
            label.setPos(direction[0], direction[1] + (_LABEL_GAP if top else -_LABEL_GAP))
            label.setZValue(5)
            item.addItem(label)
            self._labels.append(label)
        self._axis_labels = [(name, "") for name in AXES]

        # Below the plot, in a row of its own: inside it would cover a corner of the triangle.
        self.legend = PlotLegend(item)
        self.hint = pg.TextItem(HINT, color=(130, 130, 130), anchor=(0.5, 0.5),
                                fill=pg.mkBrush(255, 255, 255, 230))
        self.hint.setPos(0.0, 0.0)
        self.hint.setZValue(6)
        item.addItem(self.hint)

        self._runs: list = []
        self._polygons: list = []
        self._drawn: list = []
        self._show_axis_labels()
        self.set_runs([])

    def sizeHint(self) -> QSize:
        return QSize(420, 420)

    def minimumSizeHint(self) -> QSize:
        # Smaller, and the corner labels (fixed in pixels) no longer fit beside the triangle.
        return QSize(300, 300)

    @staticmethod
    def _make_guides() -> QGraphicsPathItem:
        # One path for all the guides: a single item, drawn under everything, never in the legend.
        path = QPainterPath()
        for level in GUIDE_LEVELS[:-1]:
            _add_triangle(path, level)
        for x, y in _DIRECTIONS:
            path.moveTo(0.0, 0.0)
            path.lineTo(x, y)
        guides = QGraphicsPathItem(path)
        guides.setPen(pg.mkPen(_GUIDE_GREY, width=1))
        guides.setZValue(-10)
        # The outer triangle a shade darker: it is the limit, 1 on every axis.
        rim = QPainterPath()
        _add_triangle(rim, GUIDE_LEVELS[-1])
        outline = QGraphicsPathItem(rim, guides)
        outline.setPen(pg.mkPen(_OUTLINE_GREY, width=1))
        return guides

    def set_axis_labels(self, quality=None, diversity=None, speed=None) -> None:
        """Set the corner labels. Each is a name (``"quality"``) or a name and a line of small
        text under it (``("quality", "precision")``); None keeps the label as it is. The names
        also word the legend's "(no speed)" notes."""
        for i, value in enumerate((quality, diversity, speed)):
            if value is None:
                continue
            name, small = (value, "") if isinstance(value, str) else (value[0], value[1] if len(value) > 1 else "")
            self._axis_labels[i] = (str(name), str(small or ""))
        self._show_axis_labels()
        self.set_runs(self._runs)  # the legend's notes name the axes

    def _show_axis_labels(self) -> None:
        for label, (name, small) in zip(self._labels, self._axis_labels):
            label.setHtml(_label_html(name, small))
        self._fit_view()  # a label of more lines needs more room

    def _fit_view(self) -> None:
        """The data range that shows the whole triangle as big as the plot allows with the
        corner labels (fixed in pixels) still inside it, at any size - a legend of many rows
        included, which takes its height from the plot."""
        vb = self.plot.getPlotItem().getViewBox()
        width, height = vb.width(), vb.height()
        if width <= 0 or height <= 0:
            return
        top_h = self._labels[0].textItem.boundingRect().height()
        bottom_h = max(label.textItem.boundingRect().height() for label in self._labels[1:])
        half_label = max(label.textItem.boundingRect().width() for label in self._labels) / 2
        corner_x = float(_DIRECTIONS[1:, 0].max())
        low, high = float(_DIRECTIONS[:, 1].min()) - _LABEL_GAP, 1.0 + _LABEL_GAP  # data units
        # Pixels per data unit: the most that fits across (bottom labels centred on their
        # corners) and down (labels above and below the triangle); never below 1, so a plot
        # squeezed to nothing still has a valid range.
        scale = max(1.0, min((width / 2 - half_label - _MARGIN) / corner_x,
                             (height - top_h - bottom_h - 2 * _MARGIN) / (high - low)))
        # Centre the content (labels included) in the height; the width is symmetric.
        top = high + (top_h + _MARGIN) / scale
        bottom = low - (bottom_h + _MARGIN) / scale
        middle = (top + bottom) / 2
        half_w, half_h = width / 2 / scale, height / 2 / scale
        vb.setRange(xRange=(-half_w, half_w), yRange=(middle - half_h, middle + half_h), padding=0.0)
        # Each bottom label under its corner, unless a legend of many rows has left the
        # triangle too narrow for both: then as far apart as keeps a gap between them.
        apart = (half_label + _MARGIN / 2) / scale
        for label, (x, y) in zip(self._labels[1:], _DIRECTIONS[1:]):
            label.setPos(math.copysign(max(abs(x), apart), x), y - _LABEL_GAP)

    def set_runs(self, runs) -> None:
        """Draw ``runs``, a list of ``(label, quality, diversity, speed)`` (an optional fifth
        item is the run's colour, else ``run_colour(i)``), in place of those drawn before.
        A score that is None or NaN was not measured: that corner sits at the centre and the
        legend says "(no speed)". With no runs, a hint says how to get some."""
        runs = list(runs)
        item = self.plot.getPlotItem()
        for polygon in self._polygons:
            item.removeItem(polygon)
        self.legend.clear()
        self._polygons, self._drawn = [], []
        names = [name for name, _ in self._axis_labels]
        tips = []
        for i, run in enumerate(runs):
            label, scores = str(run[0]), tuple(run[1:4])
            colour = pg.mkColor(run[4]) if len(run) > 4 and run[4] is not None else run_colour(i)
            vertices = triangle_vertices(*scores)
            fill = QColor(colour)
            fill.setAlpha(_FILL_ALPHA)
            closed = np.vstack([vertices, vertices[:1]])
            polygon = pg.PlotDataItem(closed[:, 0], closed[:, 1], pen=pg.mkPen(colour, width=2),
                                      fillLevel="enclosed", fillBrush=pg.mkBrush(fill),
                                      symbol="o", symbolSize=6, symbolPen=None,
                                      symbolBrush=pg.mkBrush(colour), antialias=True)
            item.addItem(polygon)
            missing = [n for n, s in zip(names, scores) if _missing(s)]
            # LabelItem renders HTML: a run named "a<b" must show as written.
            self.legend.addItem(polygon, html.escape(label + _missing_note(missing)))
            self._polygons.append(polygon)
            self._drawn.append((label, vertices))
            tips.append(f"{label}: " + ", ".join(
                f"{n} {'not measured' if _missing(s) else f'{float(s):.2f}'}" for n, s in zip(names, scores)))
        self._runs = runs
        self.hint.setVisible(not runs)
        self.plot.setToolTip("\n".join(tips))

    @property
    def drawn(self) -> list:
        """``(label, vertices)`` of each run drawn, in order; vertices as ``triangle_vertices``."""
        return [(label, vertices.copy()) for label, vertices in self._drawn]
