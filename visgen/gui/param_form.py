"""The hyperparameter form, built from a model's ``Param`` declarations."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSlider,
                               QWidget)

from ..core.errors import VisgenError

_BAD = "QLineEdit { border: 2px solid #d62728; }"


class SliderScale:
    """Maps a ``Param``'s range onto integer slider positions, linearly or logarithmically.

    An int parameter with at most ``STEPS`` values gets one position per value; any
    other range gets ``STEPS`` positions. Slider values are rounded to 3 significant
    digits (0.000933, not 0.000933254; 2 for log-scaled ints), so the box shows what a
    learner would type.
    """

    STEPS = 1000

    def __init__(self, p):
        self.p = p
        self.lo, self.hi = float(p.min), float(p.max)
        self.direct = p.type == "int" and not p.log and self.hi - self.lo <= self.STEPS
        self.positions = (int(self.lo), int(self.hi)) if self.direct else (0, self.STEPS)

    def position(self, value) -> int:
        if self.direct:
            return int(value)
        v = min(max(float(value), self.lo), self.hi)
        if self.p.log:
            frac = math.log(v / self.lo) / math.log(self.hi / self.lo)
        else:
            frac = (v - self.lo) / (self.hi - self.lo)
        return round(frac * self.STEPS)

    def value(self, position: int):
        if self.direct:
            return int(position)
        frac = position / self.STEPS
        v = self.lo * (self.hi / self.lo) ** frac if self.p.log else self.lo + frac * (self.hi - self.lo)
        if self.p.type == "int":  # on a log scale, 2 significant digits: 250, 260, not 255
            v = float(f"{v:.2g}") if self.p.log else v
            return min(max(round(v), int(math.ceil(self.lo))), int(self.hi))
        return min(max(float(f"{v:.3g}"), self.lo), self.hi)


class ParamForm(QWidget):
    """One typed widget per parameter of a run.

    Numbers are typed into line edits so that a bad value can be refused with a
    message (a spin box would clamp it silently). A live number with a range
    (``Param.has_slider``) also gets a slider beside its box, log-scaled where the
    Param says ``log``; slider and box follow each other. Live parameters apply at
    the next step; the others flag the run as needing a reset.
    """

    changed = Signal(str, bool)  # name, applied live

    def __init__(self, parent=None):
        super().__init__(parent)
        self.run = None
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.editors: dict = {}
        self.sliders: dict = {}  # name -> (QSlider, SliderScale)

    def set_run(self, run) -> None:
        """Show the parameters of ``run`` (or nothing for None)."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.editors = {}
        self.sliders = {}
        self.run = run
        if run is None:
            return
        for p in run.params.params:
            editor = self._editor(p, run.params.values[p.name])
            tip = f"{p.help}\n{'live: applies at the next step' if p.live else 'needs Reset'}; {p.describe_range()}"
            editor.setToolTip(tip)
            label = QLabel(p.title + (" ⟳" if not p.live else ""))
            label.setToolTip(tip)
            self.editors[p.name] = editor
            self.layout_.addRow(label, self._with_slider(p, editor, tip) if p.has_slider else editor)
        self.layout_.addRow(self.message)

    def _with_slider(self, p, editor: QLineEdit, tip: str) -> QWidget:
        """A slider and the exact-value box side by side."""
        scale = SliderScale(p)
        slider = QSlider(Qt.Horizontal)
        slider.setObjectName(f"param-{p.name}-slider")
        slider.setRange(*scale.positions)
        slider.setToolTip(tip + ("; log scale" if p.log else ""))
        self.sliders[p.name] = (slider, scale)
        self._show_on_slider(p.name, self.run.params.values[p.name])
        slider.valueChanged.connect(lambda pos, n=p.name: self._slid(n, pos))
        editor.setMaximumWidth(80)
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(slider, 1)
        box.addWidget(editor)
        return row

    def _slid(self, name: str, position: int) -> None:
        value = self.sliders[name][1].value(position)
        if value != self.run.params.values[name]:
            self.apply(name, value)

    def _show_on_slider(self, name: str, value) -> None:
        """Move a slider to ``value`` without applying anything."""
        if name not in self.sliders:
            return
        slider, scale = self.sliders[name]
        if scale.value(slider.value()) == value:
            return  # already there: do not snap a dragged slider to a neighbouring position
        slider.blockSignals(True)
        slider.setValue(scale.position(value))
        slider.blockSignals(False)

    def _editor(self, p, value):
        if p.type == "bool":
            w = QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda on, n=p.name: self.apply(n, on))
        elif p.type == "choice":
            w = QComboBox()
            w.addItems(list(p.choices))
            w.setCurrentText(value)
            w.currentTextChanged.connect(lambda text, n=p.name: self.apply(n, text))
        else:
            w = QLineEdit(self._fmt(value))
            w.editingFinished.connect(lambda n=p.name: self.apply(n, self.editors[n].text()))
        w.setObjectName(f"param-{p.name}")
        return w

    def refresh(self) -> None:
        """Show values changed elsewhere (e.g. by scrubbing a view); never under the user's cursor."""
        if self.run is None:
            return
        for name, editor in self.editors.items():
            value = self.run.params.values[name]
            if isinstance(editor, QLineEdit) and not editor.hasFocus():
                text = self._fmt(value)
                if editor.text() != text:
                    editor.setText(text)
            if name in self.sliders and not self.sliders[name][0].isSliderDown():
                self._show_on_slider(name, value)

    @staticmethod
    def _fmt(value) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    @Slot()
    def apply(self, name: str, value) -> bool:
        """Validate and hand a value to the run; refuse a bad one with a message."""
        if self.run is None:
            return False
        editor = self.editors[name]
        try:
            live = self.run.set_param(name, value)
        except VisgenError as exc:
            self.message.setText(f"<span style='color:#d62728'>Refused: {exc}</span>")
            if isinstance(editor, QLineEdit):
                editor.setStyleSheet(_BAD)
                editor.setText(self._fmt(self.run.params.values[name]))
            return False
        if isinstance(editor, QLineEdit):
            editor.setStyleSheet("")
            editor.setText(self._fmt(self.run.params.values[name]))
        self._show_on_slider(name, self.run.params.values[name])
        if live:
            self.message.setText(f"{name} = {self._fmt(self.run.params.values[name])} applies at the next step.")
        elif self.run.status.needs_reset:
            self.message.setText(f"<b>{name} changes the model: press Reset to apply.</b>")
        else:
            self.message.setText("")
        self.changed.emit(name, live)
        return True
