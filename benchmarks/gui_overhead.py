"""How much do live views slow training? Prints steps/s headless vs in the real window.

    python benchmarks/gui_overhead.py [MODEL:DATASET] [SECONDS] [ROUNDS]

Headless: a Run training in its worker thread with nothing watching. GUI: the
same model in the main window under ``app.exec()``, every view live. Rounds
alternate in one process and the medians are compared, so the ratio means
something on a noisy shared machine. The goal: the GUI costs training a few percent.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

WARMUP = 3.0


def headless_rate(reg, model, dataset, seconds) -> float:
    from visgen.core.run import Run

    run = Run(reg, model, dataset)
    run.start()
    time.sleep(WARMUP)
    s0, t0 = run.step, time.perf_counter()
    time.sleep(seconds)
    rate = (run.step - s0) / (time.perf_counter() - t0)
    run.stop().result(timeout=10)
    return rate


def gui_rate(app, reg, model, dataset, seconds, settings, prepare=None) -> tuple:
    """Steps/s in the window, the views that drew, and the fraction of wall time the GUI
    thread spent in its pull loop (taking and drawing snapshots). ``prepare(window, run)``
    may change the window first (hide docks, stub drawing)."""
    from PySide6.QtCore import QTimer

    from visgen.gui.main_window import MainWindow

    window = MainWindow(reg, settings=settings, restore_layout=False)
    window.show()
    run = window.new_run(model, dataset)
    if prepare is not None:
        prepare(window, run)
    busy = [0.0]
    pull = window._pull

    def timed_pull():
        t0 = time.perf_counter()
        pull()
        busy[0] += time.perf_counter() - t0

    window.timer.timeout.disconnect()
    window.timer.timeout.connect(timed_pull)
    run.start()
    marks = {}
    QTimer.singleShot(int(WARMUP * 1000), lambda: marks.update(a=(run.step, time.perf_counter(), busy[0])))
    QTimer.singleShot(int((WARMUP + seconds) * 1000),
                      lambda: (marks.update(b=(run.step, time.perf_counter(), busy[0])), window.close()))
    app.exec()
    views = window.run_views.get(run)
    drew = [] if views is None else [v for v, w in views.views.items() if w.last_snapshot is not None]
    (s0, t0, b0), (s1, t1, b1) = marks["a"], marks["b"]
    return (s1 - s0) / (t1 - t0), drew, (b1 - b0) / (t1 - t0)


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "vae:digits"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 6.0
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    model, _, dataset = target.partition(":")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from visgen.composition import default_registry

    app = QApplication.instance() or QApplication([])
    reg = default_registry()
    ini = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".bench.ini")
    settings = QSettings(ini, QSettings.IniFormat)
    headless, gui, drew = [], [], []
    for _ in range(rounds):
        headless.append(headless_rate(reg, model, dataset or None, seconds))
        rate, drew, _ = gui_rate(app, reg, model, dataset or None, seconds, settings)
        gui.append(rate)
    if os.path.exists(ini):
        os.remove(ini)
    h, g = statistics.median(headless), statistics.median(gui)
    print(f"{target}: headless {h:.0f} steps/s, with GUI {g:.0f} steps/s (medians of {rounds}), "
          f"ratio {g / h:.3f} (slowdown {100 * (1 - g / h):.1f}%)")
    print("views that drew a snapshot:", ", ".join(drew))


if __name__ == "__main__":
    main()
