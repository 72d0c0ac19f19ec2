"""The hyperparameter form, built from a model's ``Param`` declarations."""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QWidget)

from ..core.errors import VisgenError

_BAD = "QLineEdit { border: 2px solid #d62728; }"


class ParamForm(QWidget):
    """One typed widget per parameter of a run.

    Numbers are typed into line edits so that a bad value can be refused with a
    message (a spin box would clamp it silently). Live parameters apply at the
    next step; the others flag the run as needing a reset.
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

    def set_run(self, run) -> None:
        """Show the parameters of ``run`` (or nothing for None)."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.editors = {}
        self.run = run
        if run is None:
            return
        for p in run.params.params:
            editor = self._editor(p, run.params.values[p.name])
            tip = f"{p.help}\n{'live: applies at the next step' if p.live else 'needs Reset'}; {p.describe_range()}"
            editor.setToolTip(tip)
            label = QLabel(p.title + (" ⟳" if not p.live else ""))
            label.setToolTip(tip)
            self.layout_.addRow(label, editor)
            self.editors[p.name] = editor
        self.layout_.addRow(self.message)

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
            if isinstance(editor, QLineEdit) and not editor.hasFocus():
                text = self._fmt(self.run.params.values[name])
                if editor.text() != text:
                    editor.setText(text)

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
        if live:
            self.message.setText(f"{name} = {self._fmt(self.run.params.values[name])} applies at the next step.")
        elif self.run.status.needs_reset:
            self.message.setText(f"<b>{name} changes the model: press Reset to apply.</b>")
        else:
            self.message.setText("")
        self.changed.emit(name, live)
        return True
