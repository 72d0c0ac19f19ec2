"""Throwaway plugin packages with real entry points, for discovery tests.

``FakeDist`` writes plugin modules and a ``*.dist-info`` folder (with
``entry_points.txt``) the way pip would, into a folder put on ``sys.path``, so
``importlib.metadata`` finds them exactly as it finds installed plugins. Use the
``fake_dist`` fixture by importing it into a test module.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from visgen.core.registry import ENV_BLOCK, ENV_DISABLE, Registry
from visgen.core.trace import ENV_TRACE


class FakeDist:
    """A package installed the way pip would: modules plus a ``*.dist-info`` folder."""

    def __init__(self, root: Path):
        self.root = root
        self.tag = uuid.uuid4().hex[:8]
        self.dist = f"visgen-testplugins-{self.tag}"
        self.entry_points = {}
        self.modules = []

    def module_name(self, base: str) -> str:
        return f"vgtest_{base}_{self.tag}"

    def add(self, ep_name: str, base: str, source: str, **fmt) -> str:
        """Add a module (source formatted with ``module`` and ``fmt``) and an entry point for it."""
        mod = self.module_name(base)
        (self.root / f"{mod}.py").write_text(textwrap.dedent(source.format(module=mod, **fmt)))
        self.entry_points[ep_name] = mod
        self.modules.append(mod)
        return mod

    def write(self) -> "FakeDist":
        """Write (or rewrite, with entry points added since) the ``*.dist-info`` folder."""
        info = self.root / f"{self.dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {self.dist}\nVersion: 1.0\n")
        lines = ["[visgen]"] + [f"{k} = {v}" for k, v in self.entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        (info / "RECORD").write_text("")
        return self


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """Yields a FakeDist on sys.path, with autoloading on; forgets its modules afterwards."""
    monkeypatch.delenv(ENV_DISABLE, raising=False)
    monkeypatch.delenv(ENV_BLOCK, raising=False)
    dist = FakeDist(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield dist
    for m in dist.modules:
        sys.modules.pop(m, None)


def load(dist: FakeDist) -> Registry:
    """Write ``dist`` and discover every entry point (its own and the installed ones)."""
    dist.write()
    importlib.invalidate_caches()
    reg = Registry()
    reg.load_entry_points()
    return reg


def info_of(reg: Registry, name: str):
    """The one PluginInfo called ``name``."""
    found = [p for p in reg.plugins if p.name == name]
    assert len(found) == 1, f"{name} listed {len(found)} times in {[p.name for p in reg.plugins]}"
    return found[0]


def clean_env(**extra) -> dict:
    """The environment without the plugin switches (tracing included), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV_DISABLE, ENV_BLOCK, ENV_TRACE)}
    env.update(extra)
    return env


def run_cli(dist: FakeDist, *args: str, **env) -> subprocess.CompletedProcess:
    """Write ``dist`` and run ``visgen ARGS`` in a subprocess that finds its plugins."""
    dist.write()
    pp = os.pathsep.join([str(dist.root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run([sys.executable, "-m", "visgen.cli.main", *args], capture_output=True,
                          text=True, timeout=60, env=clean_env(PYTHONPATH=pp, **env))
