"""A dependency-free progress bar for long headless work."""
from __future__ import annotations

import sys
import time


class Progress:
    """Redraws one line on a terminal; prints a line every 10 % otherwise (CI logs)."""

    def __init__(self, total: int, stream=None, every: float = 0.2, unit: str = "steps", label: str = ""):
        stream = stream or sys.stderr  # looked up now: sys.stderr may have been replaced since import
        self.total, self.stream, self.every = max(1, total), stream, every
        self.unit, self.label = unit, f"{label}: " if label else ""
        self.tty = stream.isatty()
        self._last = 0.0
        self._last_decile = -1
        self.t0 = time.perf_counter()

    def update(self, done: int, note: str = "") -> None:
        now = time.perf_counter()
        frac = done / self.total
        if self.tty:
            if now - self._last < self.every and done < self.total:
                return
            bar = "#" * int(30 * frac)
            rate = done / max(now - self.t0, 1e-9)
            self.stream.write(f"\r{self.label}[{bar:<30}] {done}/{self.total}  {rate:.0f} {self.unit}/s  {note}   ")
            if done >= self.total:
                self.stream.write("\n")
        else:
            decile = int(10 * frac)
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(f"{self.label}{done}/{self.total} {self.unit} ({100 * frac:.0f}%) {note}\n")
        self._last = now
        self.stream.flush()
