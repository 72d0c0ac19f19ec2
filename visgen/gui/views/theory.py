"""The theory panel: a model's key equations and explanation as rich text."""
from __future__ import annotations

import html as html_lib

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextBrowser

from .base import View

# Serif faces with the math letters the theory texts use (ℒ 𝔼 ‖ ⊙ ...); Qt falls
# back per glyph, but a face that has them all keeps the equations even.
SERIF_FAMILIES = ["DejaVu Serif", "STIX Two Text", "Cambria", "Cambria Math", "Times New Roman",
                  "Noto Serif", "Liberation Serif", "serif"]
POINT_SIZE = 12

CSS = f"""
body {{ line-height: 135%; }}
h2 {{ font-size: {POINT_SIZE + 5}pt; margin-bottom: 6px; }}
h3 {{ font-size: {POINT_SIZE + 2}pt; margin-top: 12px; margin-bottom: 4px; }}
p {{ margin-top: 4px; margin-bottom: 8px; }}
.eq {{ text-align: center; font-size: {POINT_SIZE + 3}pt; margin-top: 10px; margin-bottom: 10px; }}
code {{ font-family: "DejaVu Sans Mono", monospace; }}
"""


class TheoryView(View):
    """A read-only rich-text panel with a model's theory; ignores snapshots.

    ``decl`` may be None: the main window's theory panel belongs to no view.
    """

    def __init__(self, decl=None, parent=None):
        super().__init__(decl, parent)
        self.browser = QTextBrowser()
        self.browser.setReadOnly(True)
        self.browser.setOpenExternalLinks(True)
        font = QFont()
        font.setFamilies(SERIF_FAMILIES)
        font.setStyleHint(QFont.Serif)
        font.setPointSize(POINT_SIZE)
        self.browser.setFont(font)
        self.browser.document().setDefaultFont(font)
        self.browser.document().setDefaultStyleSheet(CSS)
        self.browser.document().setDocumentMargin(12)
        self.layout_.addWidget(self.browser)

    def set_theory(self, title: str, html: str) -> None:
        """Show ``html`` (Qt's rich-text subset) under the heading ``title``."""
        head = f"<h2>{html_lib.escape(title)}</h2>" if title else ""
        self.browser.setHtml(head + (html or ""))

    def show_snapshot(self, snapshot) -> None:
        self.last_snapshot = snapshot

    def clear(self) -> None:
        super().clear()
        self.browser.clear()
