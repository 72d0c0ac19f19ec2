"""A sequence of frames (e.g. a diffusion chain) with a scrubber and a play button."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider

from ...core.imaging import class_color
from ...core.snapshots import FrameSequence
from .base import (RangeFollower, View, class_brushes, line_pen, polyline_connect, robust_bounds,
                   solid_brush)
from .image_grid import image_box, set_image


class FramesView(View):
    """Draws ``FrameSequence`` snapshots one frame at a time.

    Image frames go into an ImageItem (upright, levels 0..1); point frames into a
    ScatterPlotItem coloured by ``point_labels``, on axes that fit each new sequence
    as a whole (its ``bounds``, or nearly all points of all frames) until the
    learner zooms or pans. Play loops at about 10 fps.
    """

    FPS = 10

    def __init__(self, decl, parent=None):
        super().__init__(decl, parent)
        self.plot, self.image = image_box(self.layout_)
        self.plot_item = self.plot.getPlotItem()
        self.scatter = pg.ScatterPlotItem(pen=None, size=5)
        self.plot_item.addItem(self.scatter)
        self.lines: list[pg.PlotDataItem] = []  # polyline frames: one item per colour
        self.range = RangeFollower(self.plot_item)
        controls = QHBoxLayout()
        controls.setContentsMargins(4, 2, 4, 2)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setFixedWidth(64)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.frame_label = QLabel()
        self.frame_label.setMinimumWidth(90)
        controls.addWidget(self.play_button)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.frame_label)
        self.layout_.addLayout(controls)
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // self.FPS)
        self.timer.timeout.connect(self._advance)
        self.play_button.toggled.connect(self.set_playing)
        self.slider.valueChanged.connect(self._show_frame)
        self.slider.valueChanged.connect(self._scrubbed)
        self._brushes = None
        self._mode = None

    @property
    def index(self) -> int:
        return self.slider.value()

    def show_snapshot(self, snapshot: FrameSequence) -> None:
        old = self.last_snapshot
        self.last_snapshot = snapshot
        n = len(snapshot)
        mode = "images" if snapshot.images is not None else "points"
        self._brushes = (class_brushes(snapshot.point_labels)
                         if mode == "points" and snapshot.point_labels is not None else None)
        if mode != self._mode:
            self._set_mode(mode)
        if mode == "points":
            # One range for the whole sequence, so motion is visible rather than rescaled away.
            if snapshot.bounds is not None:
                self.range.fit(snapshot.bounds, stated=True)
            else:
                self.range.fit(robust_bounds(snapshot.points))
        # A new chain of the same length keeps the scrubbed frame; otherwise show
        # the frame the snapshot asks for (by default the last: the finished result).
        keep = old is not None and len(old) == n
        index = self.slider.value() if keep else snapshot.initial % n
        self.slider.blockSignals(True)
        self.slider.setRange(0, n - 1)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self._show_frame(index)

    def _set_mode(self, mode: str) -> None:
        self._mode = mode
        vb = self.plot_item.getViewBox()
        images = mode == "images"
        self.image.setVisible(images)
        self.scatter.setVisible(not images)
        vb.invertY(images)
        self.plot_item.showAxis("left", not images)
        self.plot_item.showAxis("bottom", not images)
        self.range.forget()
        if images:
            self.scatter.clear()
            self._draw_lines(np.zeros((0, 2)), None, 1)
            vb.enableAutoRange()
        else:
            self.image.clear()

    def _scrubbed(self, i: int) -> None:
        """Hand the scrubbed frame's value to whoever listens (the run, for ``scrub_param``)."""
        snap = self.last_snapshot
        if snap is not None and snap.values is not None and 0 <= i < len(snap.values):
            self.scrubbed.emit(int(snap.values[i]))

    def _show_frame(self, i: int) -> None:
        s = self.last_snapshot
        if s is None or not len(s):
            return
        i = int(np.clip(i, 0, len(s) - 1))
        if s.images is not None:
            set_image(self.image, s.images[i])
        elif s.polyline:
            self.scatter.clear()
            self._draw_lines(s.points[i], s.point_labels, s.polyline)
        else:
            self._draw_lines(s.points[i][:0], None, 1)
            brush = self._brushes if self._brushes is not None else solid_brush(class_color(0))
            self.scatter.setData(pos=s.points[i], brush=brush)
        self.frame_label.setText(f"{s.labels[i]}  ({i + 1}/{len(s)})")

    def _draw_lines(self, points: np.ndarray, labels, run: int) -> None:
        """Each run of ``run`` points as a line, one item per label (colour)."""
        starts = np.arange(0, len(points), run)
        first = np.zeros(len(starts), int) if labels is None else np.asarray(labels)[starts]
        groups = np.unique(first)
        for k, label in enumerate(groups):
            if k == len(self.lines):
                self.lines.append(pg.PlotDataItem())
                self.plot_item.addItem(self.lines[-1])
            idx = (starts[first == label][:, None] + np.arange(run)).ravel()
            self.lines[k].setData(points[idx, 0], points[idx, 1], connect=polyline_connect(len(idx), run),
                                  pen=line_pen(class_color(int(label))), skipFiniteCheck=True)
            self.lines[k].setVisible(True)
        for item in self.lines[len(groups):]:
            item.setData([], [])
            item.setVisible(False)

    def current_frame(self) -> np.ndarray | None:
        """The array drawn now: the image of the frame, or its points."""
        s = self.last_snapshot
        if s is None:
            return None
        if self._mode == "images":
            return self.image.image
        if s.polyline:
            return s.points[self.index]
        return np.column_stack(self.scatter.getData())

    def set_playing(self, on: bool) -> None:
        """Start or stop the ~10 fps loop."""
        if self.play_button.isChecked() != on:
            self.play_button.setChecked(on)  # re-enters via toggled
            return
        self.play_button.setText("Pause" if on else "Play")
        if on:
            self.timer.start()
        else:
            self.timer.stop()

    def _advance(self) -> None:
        n = self.slider.maximum() + 1
        if self.last_snapshot is not None and n > 1:
            self.slider.setValue((self.slider.value() + 1) % n)

    def clear(self) -> None:
        super().clear()
        self.set_playing(False)
        self.image.clear()
        self.scatter.clear()
        self.range.forget()
        self.slider.setRange(0, 0)
        self.frame_label.setText("")

    def shutdown(self) -> None:
        self.set_playing(False)
