"""One run's page: its docks in a main window of their own, laid out as a grid by default.

Each run gets a page, so a new run never squeezes into the docks of the runs
before it: every page has the whole run area to itself (or its share of it,
side by side). The page is a ``QMainWindow`` used as a plain widget because that
is what lets its docks be moved, nested, tabbed, floated and closed, and its
arrangement be saved with ``saveState`` and restored for the next run of the model.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QMainWindow

from .run_views import RunViews

#: Bumped when a saved page layout can no longer be restored as it was meant.
PAGE_LAYOUT_VERSION = 1
COLUMNS = 3
SETTLE_MS = 150  # after being shown, a page has its size within this long


def layout_key(model_id: str, view_ids) -> str:
    """The settings key of a page layout: per model, and per set of views, because the
    same model shows other views on other data (a VAE on digits and on ring8)."""
    return f"run-layouts/{model_id}/{'.'.join(view_ids) or 'none'}"


class RunPage(QMainWindow):
    """The docks of one run (``views``: its ``RunViews``), on a page of their own."""

    def __init__(self, run, slot: int, parent=None):
        super().__init__(parent, Qt.Widget)
        self.run = run
        self.setObjectName(f"run-page:{slot}")
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.AllowNestedDocks | QMainWindow.AllowTabbedDocks
                            | QMainWindow.AnimatedDocks)
        self.views = RunViews(self, run, slot)
        self._share_pending = False
        self._state_pending = None
        self.default_layout()

    @property
    def docks(self) -> dict:
        """View id -> its dock, in declaration order."""
        return self.views.docks

    @property
    def layout_key(self) -> str:
        """Where this page's layout is kept in the settings (``layout_key``)."""
        return layout_key(self.run.spec.id, self.docks)

    def default_layout(self) -> None:
        """Show every dock, in a grid of ``COLUMNS`` columns in declaration order."""
        docks = list(self.docks.values())
        for dock in docks:
            dock.setFloating(False)
            self.removeDockWidget(dock)
        grid(self, docks)
        for dock in docks:
            dock.show()
        self._state_pending = None
        # Shares set before the page has its size are lost to its first layout: set them once shown.
        self._share_pending = not self.isVisible()
        if not self._share_pending:
            share_equally(self, docks)

    @property
    def settling(self) -> bool:
        """True until the page has been shown at its size and given its layout."""
        return self._share_pending or self._state_pending is not None

    def save_layout(self) -> QByteArray:
        """The page's layout (which docks show, where, how big), for ``restore_layout``."""
        if self._state_pending is not None:  # never shown: what it was given is still its layout
            return self._state_pending
        return self.saveState(PAGE_LAYOUT_VERSION)

    def restore_layout(self, state) -> bool:
        """Apply a layout from ``save_layout``; False (the grid kept) if it cannot be.

        Applied at once, and again once the page is shown at its size: only then does Qt fit
        the saved sizes to the page in proportion (before, all the width a page gained went
        to its first column)."""
        if not isinstance(state, QByteArray) or state.isEmpty():
            return False
        if not self.restoreState(state, PAGE_LAYOUT_VERSION):
            return False
        self._share_pending = False  # the saved sizes are the ones wanted
        self._state_pending = None if self.isVisible() else state
        return True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._share_pending or self._state_pending is not None:
            # The splitter and the scroll area give a page its size over a few event-loop turns
            # after it is shown; resizeEvent follows them, and this ends it.
            QTimer.singleShot(SETTLE_MS, self, self._settle)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)  # the dock layout has its new size by now
        if self._share_pending and self.isVisible():
            share_equally(self, list(self.docks.values()))

    def _settle(self) -> None:
        if not self.isVisible():
            return  # hidden again before it settled: showEvent starts over
        state, self._state_pending = self._state_pending, None
        if state is not None:
            self.restoreState(state, PAGE_LAYOUT_VERSION)
        if self._share_pending:
            self._share_pending = False
            share_equally(self, list(self.docks.values()))


def grid(window: QMainWindow, docks: list, columns: int = COLUMNS) -> None:
    """Lay ``docks`` out in ``window`` row by row in ``columns`` columns, in declaration order."""
    if not docks:
        return
    window.addDockWidget(Qt.RightDockWidgetArea, docks[0])
    for i, dock in enumerate(docks[1:], start=1):
        if i < columns:
            window.splitDockWidget(docks[i - 1], dock, Qt.Horizontal)
        else:
            window.splitDockWidget(docks[i - columns], dock, Qt.Vertical)


def share_equally(window: QMainWindow, docks: list, columns: int = COLUMNS) -> None:
    """Give the columns and the rows of a ``grid`` equal shares of the space (each split
    otherwise halves the space of the dock it splits, so the last ones come out small)."""
    top = docks[:columns]
    if len(top) > 1:
        window.resizeDocks(top, [1000] * len(top), Qt.Horizontal)
    for c in range(min(columns, len(docks))):
        col = docks[c::columns]
        # A lone dock has no column of its own: its size would be taken as the whole area's.
        if len(col) > 1:
            window.resizeDocks(col, [1000] * len(col), Qt.Vertical)
