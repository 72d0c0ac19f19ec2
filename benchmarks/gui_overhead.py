"""How much do live views slow training? Prints steps/s headless vs with the GUI.

    python benchmarks/gui_overhead.py [MODEL:DATASET] [SECONDS]

Both measurements run in one process, alternating for several rounds on the
same worker-thread setup, and the medians are compared, so the ratio means
something on a noisy shared machine.
The goal: the GUI costs training no more than a few percent.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def measure(run, seconds: float, pump=None) -> float:
    run.start()
    t_end = time.perf_counter() + 1.0  # warm-up: first snapshots, allocator
    while time.perf_counter() < t_end:
        pump() if pump else time.sleep(0.01)
    s0, t0 = run.step, time.perf_counter()
    while time.perf_counter() < t0 + seconds:
        pump() if pump else time.sleep(0.01)
    rate = (run.step - s0) / (time.perf_counter() - t0)
    run.stop()
    return rate


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "vae:digits"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 8.0
    model, _, dataset = target.partition(":")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from visgen.core.registry import default_registry
    from visgen.core.run import Run
    from visgen.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    reg = default_registry()
    settings = QSettings(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".bench.ini"),
                         QSettings.IniFormat)
    window = MainWindow(reg, settings=settings, restore_layout=False)
    window.show()
    run = window.new_run(model, dataset or None)
    pump = lambda: (app.processEvents(), time.sleep(0.002))  # noqa: E731
    headless, gui = [], []
    for _ in range(3):
        headless.append(measure(Run(reg, model, dataset or None), seconds))
        gui.append(measure(run, seconds, pump=pump))
    views = window.run_views[run].views
    drew = [v for v in views if views[v].last_snapshot is not None]
    window.close()
    if os.path.exists(settings.fileName()):
        os.remove(settings.fileName())
    h, g = statistics.median(headless), statistics.median(gui)
    print(f"{target}: headless {h:.0f} steps/s, with GUI {g:.0f} steps/s (medians of 3), "
          f"ratio {g / h:.3f} (slowdown {100 * (1 - g / h):.1f}%)")
    print("views that drew a snapshot:", ", ".join(drew))


if __name__ == "__main__":
    main()
