"""What flows from a training thread to its viewers, bounded by construction.

* ``ScalarBuffer``: the history of every scalar series in a fixed amount of
  memory. When full it drops every other point and keeps only every second
  new one, so a long run keeps its whole curve at a coarser resolution.
* ``SnapshotSlots``: one slot per view, latest value wins. A snapshot that is
  overwritten before anybody read it is counted as dropped, never queued.
* ``Demand``: which views want a snapshot, and a budget so that taking them
  costs training no more than a few percent of its time.
"""
from __future__ import annotations

import threading
import time
from typing import Iterable, Optional

import numpy as np


class _Series:
    """One bounded series: on overflow keep every other point and halve the intake."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.steps = np.zeros(capacity, dtype=np.int64)
        self.values = np.zeros(capacity, dtype=np.float64)
        self.n = 0
        self.stride = 1
        self.seen = 0

    def append(self, step: int, value: float) -> None:
        self.seen += 1
        if (self.seen - 1) % self.stride:
            return
        if self.n == self.capacity:
            half = self.capacity // 2
            self.steps[:half] = self.steps[::2]
            self.values[:half] = self.values[::2]
            self.n = half
            self.stride *= 2
        self.steps[self.n] = step
        self.values[self.n] = value
        self.n += 1


class ScalarBuffer:
    """Bounded history of named scalar series.

    Each series thins on its own, so a metric reported every 500 steps keeps
    its points while a per-step loss is thinned. Series appended with
    ``sparse=True`` (metrics measured now and then) are listed in ``sparse``:
    views draw them as points and summaries never average them with losses.
    """

    def __init__(self, capacity: int = 20_000):
        if capacity < 2 or capacity % 2:
            raise ValueError("capacity must be an even number >= 2")
        self.capacity = capacity
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._series: dict[str, _Series] = {}
            self.version = 0
            self.latest: dict[str, float] = {}
            self.sparse: set = set()

    def __len__(self) -> int:
        """Points held by the longest series."""
        return max((s.n for s in self._series.values()), default=0)

    @property
    def names(self) -> list[str]:
        return list(self._series)

    def append(self, step: int, values: dict, sparse: bool = False) -> None:
        """Record the scalars of one step (``sparse``: measured now and then, not every step)."""
        with self._lock:
            if sparse:
                self.sparse.update(values)
            self.latest.update(values)
            self.version += 1
            for name, v in values.items():
                s = self._series.get(name)
                if s is None:
                    s = self._series[name] = _Series(self.capacity)
                s.append(step, float(v))

    def series(self, names: Optional[Iterable[str]] = None) -> dict:
        """Copies of ``{name: (steps, values)}`` for the requested (or all) series."""
        with self._lock:
            out = {}
            for name in (list(self._series) if names is None else names):
                s = self._series.get(name)
                if s is not None:
                    out[name] = (s.steps[: s.n].copy(), s.values[: s.n].copy())
            return out


class SnapshotSlots:
    """Latest-wins slots, one per view id; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._slots: dict = {}
        self.dropped = 0
        self.delivered = 0

    def put(self, view_id: str, snapshot) -> None:
        with self._lock:
            if self._slots.get(view_id) is not None:
                self.dropped += 1
            self._slots[view_id] = snapshot

    def take(self, view_id: str):
        """Return the newest unread snapshot of a view and empty its slot (None if none)."""
        with self._lock:
            snap = self._slots.pop(view_id, None)
            if snap is not None:
                self.delivered += 1
            return snap

    def pending(self) -> int:
        with self._lock:
            return sum(s is not None for s in self._slots.values())

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()


class Demand:
    """Which views asked for a snapshot, under one cost budget for all of them.

    A view asks with ``request``; the training thread calls ``due()`` between
    steps. A view's cost is the time its snapshot took in the training thread
    plus the time the GUI took to draw it (reported with ``drawn``): both take
    time from training, the second through the interpreter lock. The budget is
    a fraction of wall time shared by the views active in the last few seconds;
    a view is due when it asked and ``max(min_interval, cost / share)`` seconds
    passed since its last snapshot. One view costing 10 ms with a 3 % budget is
    served at most every 0.33 s; two such views, every 0.67 s each.

    Freshness bounds the wait: a view is due after ``max_age`` seconds at the
    latest, as long as one round of all active views costs at most ``overrun``
    of the time (seven views of 50 ms: every 4 s, 8.75 % in all). Dearer rounds
    stretch every view's wait to ``round cost / overrun``, and the docks say why
    their pictures are old. A round is shared by cost, not by count: one dear
    view among cheap ones keeps most of it.
    """

    ACTIVE = 5.0  # seconds: a view served within this long counts as sharing the budget

    def __init__(self, budget: float = 0.05, min_interval: float = 0.2,
                 max_age: Optional[float] = 4.0, overrun: float = 0.15):
        self.budget = budget
        self.min_interval = min_interval
        self.max_age = max_age
        self.overrun = overrun
        self._lock = threading.Lock()
        self._wanted: set = set()
        self._last: dict = {}
        self._cost: dict = {}
        self._draw: dict = {}

    def request(self, view_id: str) -> None:
        with self._lock:
            self._wanted.add(view_id)

    def withdraw(self, view_id: str) -> None:
        with self._lock:
            self._wanted.discard(view_id)

    def wanted(self) -> set:
        with self._lock:
            return set(self._wanted)

    def cost(self, view_id: str) -> float:
        """Smoothed seconds per snapshot of a view, taking plus drawing."""
        return self._cost.get(view_id, 0.0) + self._draw.get(view_id, 0.0)

    def due(self, now: Optional[float] = None, ignore_budget: bool = False) -> list:
        now = time.perf_counter() if now is None else now
        with self._lock:
            # The views asking now, and those served lately (a view asks again after it is drawn).
            active = self._wanted | {v for v, t in self._last.items() if now - t < self.ACTIVE}
            round_cost = sum(self.cost(v) for v in active)
            out = []
            for v in self._wanted:
                wait = self.wait(v, len(active), round_cost)
                if ignore_budget or now - self._last.get(v, -1e9) >= wait:
                    out.append(v)
            return out

    def wait(self, view_id: str, active: int, round_cost: float) -> float:
        """Seconds between snapshots of a view while ``active`` views share the budget and one
        snapshot of each costs ``round_cost`` in all (lock held)."""
        cost = self.cost(view_id)
        wait = cost * active / self.budget
        if self.max_age is not None:
            wait = min(wait, max(self.max_age, round_cost / self.overrun))
        return max(self.min_interval, wait)

    @staticmethod
    def _smooth(table: dict, key: str, value: float) -> None:
        # Smoothed so one slow snapshot does not starve a view for long.
        old = table.get(key)
        table[key] = value if old is None else 0.7 * old + 0.3 * value

    def served(self, view_id: str, cost: float, now: Optional[float] = None) -> None:
        """The training thread took a snapshot of ``view_id`` in ``cost`` seconds."""
        with self._lock:
            self._wanted.discard(view_id)
            self._last[view_id] = time.perf_counter() if now is None else now
            self._smooth(self._cost, view_id, cost)

    def expire(self) -> None:
        """Every picture is out of date (a live parameter changed): each view asking is due now."""
        with self._lock:
            self._last.clear()

    def drawn(self, view_id: str, seconds: float) -> None:
        """The GUI took ``seconds`` to draw a snapshot of ``view_id``."""
        with self._lock:
            self._smooth(self._draw, view_id, seconds)
