"""The docks of one run, and the pull loop that feeds them.

The GUI pulls: a timer in the main window calls ``refresh`` about 30 times a
second. Scalar views redraw when the run's scalar buffer changed; every other
view takes the newest snapshot from its latest-wins slot and, while it is
visible, asks the run for the next one. A hidden dock asks for nothing, so it
costs training nothing.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from ..core.snapshots import ViewProblem
from ..core.spec import resolve
from .freshness import scalars_freshness, snapshot_freshness


class RunViews:
    """Creates a dock per view the run's model declares for its data kind."""

    LINES_INTERVAL = 0.25  # seconds at least between redraws of the scalar curves (4 Hz reads as live)
    LINES_BUDGET = 0.02   # ... and at most this fraction of wall time spent redrawing them
    FRESHNESS_INTERVAL = 0.25  # seconds between updates of the "step N, s ago" lines

    def __init__(self, window, run, slot: int):
        self.run = run
        self.slot = slot
        self.docks: dict = {}
        self.views: dict = {}
        self._drawn: dict = {}  # curve view id -> scalar version it last drew
        self._lines_at = 0.0
        self._lines_cost = 0.0
        self._freshness_at = 0.0
        self._generation = run.status.generation
        kinds = run.registry.view_kinds
        for decl in run.views:
            kind = kinds.get(decl.kind)
            if kind is None:
                continue  # a view kind from a plugin that is not installed
            view = resolve(kind.widget)(decl)
            if decl.clickable:
                view.clicked.connect(lambda x, y, vid=decl.id: self.run.click(vid, x, y))
            if decl.scrub_param:
                view.scrubbed.connect(lambda v, name=decl.scrub_param: self.run.set_param(name, v))
            dock = QDockWidget(f"{decl.title} — {run.name}", window)
            dock.setObjectName(f"view:{decl.id}")  # unique on its run's page; saved layouts name it so
            dock.setWidget(view)
            dock.setAllowedAreas(Qt.AllDockWidgetAreas)
            self.docks[decl.id] = dock
            self.views[decl.id] = view

    def refresh(self) -> None:
        """Pull what is new from the run into the views (GUI thread)."""
        run = self.run
        if run.status.generation != self._generation:  # reset or loaded: what the views show is stale
            self._generation = run.status.generation
            self.clear()
        now = time.perf_counter()
        interval = max(self.LINES_INTERVAL, self._lines_cost / self.LINES_BUDGET)
        version = run.scalars.version
        # Only curves on screen are drawn (a hidden tab's would cost training time for nothing);
        # one that comes into view is drawn at the next redraw.
        stale = [] if now - self._lines_at < interval else [
            (view_id, view) for view_id, view in self.views.items()
            if view.decl.scalars and self._drawn.get(view_id) != version and self.on_screen(view_id)]
        if stale:
            self._lines_at = now
            # Qt painted the last redraw after the pull loop that set it: its cost counts too.
            painted = sum(view.take_paint_seconds() for view in self.views.values() if view.decl.scalars)
            for view_id, view in stale:
                self._drawn[view_id] = version
                view.sparse = frozenset(run.scalars.sparse)
                series = run.scalars.series(view.decl.scalars)
                view.show_scalars(series)
                view.show_freshness(*scalars_freshness(
                    max((int(steps[-1]) for steps, _ in series.values() if len(steps)), default=0)))
            # Long histories cost more to draw: the interval grows with them (GIL time is training time).
            cost = time.perf_counter() - now + painted
            self._lines_cost = 0.7 * self._lines_cost + 0.3 * cost
        for view_id, view in self.views.items():
            snap = run.take(view_id)
            if isinstance(snap, ViewProblem):
                view.show_problem(snap.message, info=snap.info)
            if view.decl.scalars:
                continue  # drawn from the scalar stream above
            if snap is not None and not isinstance(snap, ViewProblem):
                t0 = time.perf_counter()
                try:
                    view.show_snapshot(snap)
                    view.show_problem("")
                except Exception as exc:  # a plugin's widget or snapshot: say so here, not on stderr
                    view.show_problem(f"{run.spec.id}, view {view_id!r}: the widget could not draw a "
                                      f"{type(snap).__name__} ({type(exc).__name__}: {exc})")
                # Its cost: setting the data now, and painting the last picture, which Qt did
                # after the pull loop (painting is most of what the window costs training).
                run.demand.drawn(view_id, time.perf_counter() - t0 + view.take_paint_seconds())
            if self.on_screen(view_id):
                run.request(view_id)
        if now - self._freshness_at >= self.FRESHNESS_INTERVAL:
            self._freshness_at = now
            self.show_freshness()

    def show_freshness(self) -> None:
        """Update the line that says which step each picture is from and how old it is."""
        status, now = self.run.status, time.monotonic()
        for view in self.views.values():
            snap = view.last_snapshot
            if not view.decl.scalars and snap is not None:
                view.show_freshness(*snapshot_freshness(snap, status, now))

    def on_screen(self, view_id: str) -> bool:
        """The view's dock is shown and not covered: only then does it ask for pictures."""
        dock = self.docks[view_id]
        return dock.isVisible() and not dock.visibleRegion().isEmpty()

    def clear(self) -> None:
        self._drawn.clear()
        for view in self.views.values():
            view.clear()
            view.show_problem("")

    def shutdown(self) -> None:
        for view in self.views.values():
            view.shutdown()
