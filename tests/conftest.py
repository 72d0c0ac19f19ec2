"""Shared fixtures. Every test runs offscreen, without entry-point autoloading
unless it asks for it, and fails if it leaves a thread or a Qt timer running."""
from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest


def wait_for(cond, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``cond`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(autouse=True)
def no_leaked_threads(request):
    """Fail a test that leaves a worker thread (or a started QTimer) behind.

    Set up before qtbot, so it is torn down after qtbot has closed its widgets.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()
                 and not t.name.startswith(("QDBus", "pydevd", "ThreadPoolExecutor"))]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"test left threads running: {[t.name for t in extra]}"
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError:
        return
    app = QApplication.instance()
    if app is None:
        return
    active = [t for w in app.topLevelWidgets() for t in w.findChildren(QTimer)
              if t.isActive()]
    assert not active, f"test left {len(active)} active QTimer(s)  in top-level widgets"


def registry_with(*plugins: str):
    """A registry with visgen's datasets and views plus the named built-in plugins
    (``"vae"``, ``"gan"``, ``"ddpm"``), registered by hand: no entry-point autoloading."""
    import importlib

    from visgen import view_kinds as builtin_views
    from visgen.core.registry import Registry
    from visgen.data import builtin_datasets

    reg = Registry()
    reg.register(builtin_datasets, "visgen.datasets")
    reg.register(builtin_views, "visgen.views")
    for name in plugins:
        info = reg.register(importlib.import_module(f"visgen_{name}"), name)
        assert info.ok, info.error
    return reg


@pytest.fixture
def registry():
    """A registry with visgen's datasets and views and the built-in VAE."""
    return registry_with("vae")


@pytest.fixture
def one_torch_thread():
    """Tiny networks: one intra-op thread is faster, and far faster when another process
    is using the other core (measured 6x for 1500 MLP steps under load)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def settings_at(tmp_path, name: str = "s.ini"):
    """A settings file of the test's own, so no test touches the user's layout."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / name), QSettings.IniFormat)


@pytest.fixture
def make_window(qtbot, tmp_path):
    """Build shown MainWindows; every one is closed at the end even if the test fails."""
    from visgen.gui.main_window import MainWindow

    windows = []

    def make(registry, settings=None, show=True, **kwargs):
        window = MainWindow(registry, settings=settings if settings is not None else settings_at(tmp_path),
                            **kwargs)
        qtbot.addWidget(window)
        windows.append(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    yield make
    for w in windows:
        w.close()


@pytest.fixture
def window_with(make_window):
    """``window_with(*plugins)``: a shown MainWindow with the named built-in plugins."""
    return lambda *plugins: make_window(registry_with(*plugins))


@pytest.fixture
def stop_runs():
    """Collects runs made by a test and stops them however the test ends."""
    runs = []
    yield runs.append
    for r in runs:
        r.stop()
    for r in runs:
        r.stop().result(timeout=10)
