"""Is the interpreter lock what slows training in the window? (issue 9)

    python benchmarks/gil.py [MODEL:DATASET] [SECONDS] [ROUNDS]

Tiny 2D steps (gan:ring8) share the interpreter lock with the painting. Before
moving training into a child process, this measures, alternating rounds in one
process and printing medians:

* headless: the run's worker alone;
* window: every dock visible and drawing (and the fraction of wall time the GUI
  thread spent in its pull loop, ``gui busy``);
* window, docks hidden: no snapshot asked for, nothing drawn;
* window, drawing stubbed: snapshots taken and pulled, every draw a no-op;
* headless + busy thread: a pure-Python thread that holds the lock for the
  fraction of time the window's GUI thread was busy.

If "headless + busy thread" loses about what the window loses, the lock is the
cause: a child process would win it back. If hiding the docks or stubbing the
drawing wins it back, drawing less is the cure.
"""
from __future__ import annotations

import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gui_overhead import WARMUP, gui_rate, headless_rate  # noqa: E402  (shares the measuring)


def hide_docks(window, run) -> None:
    for dock in window.run_views[run].docks.values():
        dock.hide()


def stub_drawing(window, run) -> None:
    for view in window.run_views[run].views.values():
        view.show_snapshot = lambda snap, view=view: setattr(view, "last_snapshot", snap)
        view.show_scalars = lambda series: None
        view.repaint = lambda: None


def busy_python(fraction: float, stop: threading.Event, period: float = 0.01) -> None:
    """Hold the interpreter lock (pure-Python work) for ``fraction`` of every ``period``."""
    while not stop.is_set():
        t_end = time.perf_counter() + fraction * period
        x = 0
        while time.perf_counter() < t_end:
            x += 1
        time.sleep((1 - fraction) * period)


def headless_with_busy_thread(reg, model, dataset, seconds, fraction) -> float:
    stop = threading.Event()
    t = threading.Thread(target=busy_python, args=(fraction, stop), daemon=True)
    t.start()
    try:
        return headless_rate(reg, model, dataset, seconds)
    finally:
        stop.set()
        t.join()


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "gan:ring8"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    model, _, dataset = target.partition(":")
    dataset = dataset or None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from visgen.composition import default_registry

    app = QApplication.instance() or QApplication([])
    reg = default_registry()
    ini = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".gil.ini")
    settings = QSettings(ini, QSettings.IniFormat)
    rows = {k: [] for k in ("headless", "window", "hidden", "stubbed", "busy thread")}
    busy = []
    for _ in range(rounds):
        rows["headless"].append(headless_rate(reg, model, dataset, seconds))
        rate, _, frac = gui_rate(app, reg, model, dataset, seconds, settings)
        rows["window"].append(rate)
        busy.append(frac)
        rows["hidden"].append(gui_rate(app, reg, model, dataset, seconds, settings, hide_docks)[0])
        rows["stubbed"].append(gui_rate(app, reg, model, dataset, seconds, settings, stub_drawing)[0])
        rows["busy thread"].append(headless_with_busy_thread(reg, model, dataset, seconds, frac))
    if os.path.exists(ini):
        os.remove(ini)
    h = statistics.median(rows["headless"])
    print(f"{target}: medians of {rounds} rounds of {seconds:g} s (after {WARMUP:g} s warm-up); "
          f"gui busy {100 * statistics.median(busy):.1f} % of wall time")
    for name, rates in rows.items():
        m = statistics.median(rates)
        print(f"  {name:12s} {m:8.1f} steps/s   {m / h:.3f} of headless")


if __name__ == "__main__":
    main()
