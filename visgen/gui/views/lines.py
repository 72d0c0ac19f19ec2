"""Line plots: scalar histories (loss curves) or ``Curves`` snapshots."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider

from ...core.imaging import class_color
from ...core.snapshots import Curves
from .base import View, add_legend, make_plot, qcolor


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """Exponential moving average ``y_t = w*y_{t-1} + (1-w)*x_t`` started at ``y_0 = x_0``.

    Vectorised (no Python loop per point) so 100k points smooth in milliseconds:
    the series is cut into blocks short enough that ``w**-block`` stays finite,
    each block is an EMA from zero via a scaled cumsum, and each block then adds
    the carry from the block before it.
    """
    x = np.asarray(values, np.float64)
    n = len(x)
    if weight <= 0 or n < 2:
        return x.astype(np.float32)
    weight = min(weight, 0.999)
    block = min(n, int(np.ceil(13.0 / -np.log(weight))))  # w**block <= e**-13
    nb = -(-n // block)
    xp = np.zeros(nb * block)
    xp[:n] = x
    p = weight ** np.arange(block + 1)
    inner = (1 - weight) * np.cumsum(xp.reshape(nb, block) / p[:block], axis=1) * p[:block]
    # carry[c] = end of block c-1 = inner_end[c-1] + a*carry[c-1] with a = w**block;
    # a <= 2e-6, so two terms of that recursion are exact to float32.
    prev_end = np.concatenate([[x[0]], inner[:-1, -1]])
    carry = prev_end.copy()
    carry[1:] += p[block] * prev_end[:-1]
    out = inner + carry[:, None] * p[1:]
    return out.reshape(-1)[:n].astype(np.float32)


class LinesView(View):
    """Curves over steps: the run's scalar stream (``decl.scalars``) or ``Curves`` snapshots.

    Scalars are smoothed with an exponential moving average (raw curve drawn faint
    behind); ``curves[name]`` is the drawn (smoothed) item, ``raw_curves[name]`` the raw one.
    """

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        controls = QHBoxLayout()
        controls.setContentsMargins(6, 2, 6, 0)
        self.smooth_label = QLabel()
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setMaximumWidth(160)
        self.smoothing.setToolTip("Exponential moving average weight: higher is smoother")
        self.log_y = QCheckBox("log y")
        self.log_y.setChecked(decl.log_y)
        controls.addWidget(self.smooth_label)
        controls.addWidget(self.smoothing)
        controls.addStretch(1)
        controls.addWidget(self.log_y)
        self.layout_.addLayout(controls)
        self.plot = make_plot(self.layout_)
        self.plot_item = self.plot.getPlotItem()
        self.plot_item.setClipToView(True)
        self.plot_item.setDownsampling(auto=True, mode="peak")
        self.plot_item.setLabel("bottom", "step")
        self.legend = add_legend(self.plot_item)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.raw_curves: dict[str, pg.PlotDataItem] = {}
        self._series: dict = {}
        self._update_smooth_label()
        self.plot_item.setLogMode(y=decl.log_y)
        self.smoothing.valueChanged.connect(self._smoothing_changed)
        self.log_y.toggled.connect(lambda on: self.plot_item.setLogMode(y=on))
        # Curves snapshots are exact functions (schedules), not noisy histories.
        self.smooth_label.setVisible(bool(decl.scalars))
        self.smoothing.setVisible(bool(decl.scalars))

    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100.0

    def _update_smooth_label(self) -> None:
        self.smooth_label.setText(f"smoothing {self.weight:.2f}")

    def _smoothing_changed(self) -> None:
        self._update_smooth_label()
        if self._series:
            self.show_scalars(self._series)

    def _items(self, name: str):
        if name not in self.curves:
            color = class_color(len(self.curves))
            raw = pg.PlotDataItem(pen=pg.mkPen(qcolor(color, 60)))
            main = pg.PlotDataItem(pen=pg.mkPen(qcolor(color), width=2))
            # Added before `main` so the faint raw curve lies behind it.
            self.plot_item.addItem(raw)
            self.plot_item.addItem(main)
            self.legend.addItem(main, name)
            self.raw_curves[name], self.curves[name] = raw, main
        return self.curves[name], self.raw_curves[name]

    def show_scalars(self, series: dict) -> None:
        self._series = series
        w = self.weight
        # Sparse series (coverage every few hundred steps) are never smoothed: no slider for them.
        smoothed = any(name not in self.sparse for name in series)
        if smoothed != self.smoothing.isVisibleTo(self):
            self.smooth_label.setVisible(smoothed)
            self.smoothing.setVisible(smoothed)
        for name, (steps, values) in series.items():
            main, raw = self._items(name)
            steps = np.asarray(steps, np.float64)
            values = np.asarray(values, np.float32)
            ok = np.isfinite(values)
            if not ok.all():  # a diverged run: draw what is finite
                steps, values = steps[ok], values[ok]
            # Raw data keeps 'peak' downsampling so spikes stay visible; a smoothed
            # curve has none to lose, and 'mean' paints about twice as fast.
            if name in self.sparse:  # a metric measured every few hundred steps: points, not a smoothed line
                raw.setVisible(False)
                main.setData(steps, values, symbol="o", symbolSize=7, symbolBrush=main.opts["pen"].color(),
                             skipFiniteCheck=True)
                continue
            method = "mean" if w > 0 else "peak"
            if main.opts["downsampleMethod"] != method:
                main.setDownsampling(method=method)
            # Values are finite now, but log y turns values <= 0 into -inf/nan, which
            # pyqtgraph must then filter; positive data (and its EMA) is safe either way.
            skip = bool(len(values) == 0 or values.min() > 0)
            if w > 0:
                raw.setData(steps, values, skipFiniteCheck=skip)
                raw.setVisible(True)
                main.setData(steps, ema(values, w), skipFiniteCheck=skip)
            else:
                raw.setVisible(False)
                main.setData(steps, values, skipFiniteCheck=skip)

    def show_snapshot(self, snapshot: Curves) -> None:
        self.last_snapshot = snapshot
        if snapshot.x_label:
            self.plot_item.setLabel("bottom", snapshot.x_label)
        if snapshot.log_y != self.log_y.isChecked():
            self.log_y.setChecked(snapshot.log_y)
        for name, y in snapshot.ys.items():
            main, raw = self._items(name)
            raw.setVisible(False)
            main.setData(snapshot.x, y)

    def clear(self) -> None:
        super().clear()
        self._series = {}
        for item in list(self.curves.values()) + list(self.raw_curves.values()):
            item.setData([], [])
