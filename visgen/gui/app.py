"""Start the Qt application: ``visgen`` and ``visgen --run MODEL[:DATASET] [--run ...]``."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from ..core.errors import VisgenError
from ..core.threads import quiet_openmp

DEFAULT_MODEL = "vae"  # the first model of the course, on the bundled digits


def open_window(args, registry, window):
    """Set ``window`` up for the command line: each ``--run`` starts a run (the first one is
    current); without one the default model waits on the embedded data for the learner to
    press Train."""
    if args.side_by_side:
        window.side_by_side.setChecked(True)
    runs = []
    for item in args.run:
        model, _, dataset = item.partition(":")
        runs.append(window.new_run(model, dataset or None, settings=args.set, seed=args.seed,
                                   device=args.device, dataset_path=args.data_path))
    for run in runs:  # after all are made: a bad --run leaves nothing training
        run.start()
    if runs:
        first = runs[0]
        window.select_run(first)
        window.panel.select_model(first.spec.id)
        window.panel.select_dataset(first.dataset_spec.name)
    elif args.set:
        raise VisgenError("--set needs --run MODEL")
    elif registry.models:
        model = DEFAULT_MODEL if DEFAULT_MODEL in registry.models else sorted(registry.models)[0]
        window.new_run(model, seed=args.seed, device=args.device)
        window.panel.select_model(model)
    return window


def run_gui(args) -> int:
    """Open the main window; start each ``--run``; return the exit status."""
    quiet_openmp()  # idle torch threads must not spin on the GUI's core
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        # Qt would abort the interpreter here; say what to do instead.
        raise VisgenError("no display found: start visgen from a desktop session, under a virtual "
                          "screen (xvfb-run visgen), or headless with QT_QPA_PLATFORM=offscreen "
                          "--quit-after S --screenshot PNG; 'visgen train' needs no display")
    if args.screenshot:
        _check_screenshot_path(args.screenshot)  # now, not after a session of training
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ..composition import default_registry
    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("visgen")
    app.setOrganizationName("visgen")
    registry = default_registry()
    window = open_window(args, registry, MainWindow(registry, restore_layout=not args.fresh_layout))
    if app.platformName() != "offscreen":  # whose 800x800 "screen" is nominal: keep the full size
        # Never larger than the screen: without a window manager (Xvfb) nothing else would shrink it.
        window.resize(window.size().boundedTo(window.screen().availableGeometry().size()))
    window.show()

    failed = []
    if args.screenshot:
        shot = args.screenshot

        def save_screenshot():
            window._pull()  # draw whatever arrived since the last tick
            if not window.grab().save(shot):
                failed.append(f"--screenshot {shot}: could not write the picture there")
        window.before_close = save_screenshot
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), window.close)

    # Ctrl-C in the terminal closes the window cleanly; the timer lets Python see the signal.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    status = app.exec()
    wake.stop()
    for line in failed:
        print(f"visgen: error: {line}", file=sys.stderr)
        status = status or 2
    _exit_without_stuck_workers(window, status)
    return status


def _check_screenshot_path(path: str) -> None:
    """A PNG in a folder that exists and can be written, or one line saying what is wrong."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise VisgenError(f"--screenshot {path}: must end in .png")
    if target.is_dir():
        raise VisgenError(f"--screenshot {path}: is a folder; name a .png file")
    folder = target.parent
    if not folder.is_dir():
        raise VisgenError(f"--screenshot {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise VisgenError(f"--screenshot {path}: cannot write in {folder}")


def _exit_without_stuck_workers(window, status: int) -> None:
    """A worker stuck inside a plugin's call must not hold the process (or abort it at
    interpreter shutdown, inside torch): say which, then leave at once with ``status``."""
    stuck = [r for r in window.runs + window.closed_runs if r.alive]
    if not stuck:
        return
    names = "; ".join(f"{r.name} still inside {r.status.busy or 'the model'}" for r in stuck)
    print(f"visgen: quit without waiting: {names}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
