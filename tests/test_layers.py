"""The folder tree shows the layers: the core imports nothing above it.

Layers from the bottom: ``visgen.core`` (Qt-free: specs, registry, runs, trainer
protocol, streams, run files); ``visgen.data`` and ``visgen.nn`` (loaders and
model pieces, built on the core); the composition root (``visgen.composition``,
``visgen.view_kinds``); ``visgen.gui`` and ``visgen.cli`` on top; built-in
plugins beside them, using only the public API.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABOVE_CORE = ("visgen.data", "visgen.nn", "visgen.gui", "visgen.cli", "visgen.composition",
              "visgen.view_kinds", "PySide6", "pyqtgraph")


def imported_modules(path: Path, source: str = None) -> list:
    """Absolute names of every module ``path`` imports, relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text() if source is None else source, str(path))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            out += [mod] + [f"{mod}.{a.name}" for a in node.names]
    return out


def strings(path: Path) -> list:
    return [n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)
            and isinstance(n.value, str)]


@pytest.mark.parametrize("path", sorted((ROOT / "visgen" / "core").glob("*.py")), ids=lambda p: p.name)
def test_core_imports_nothing_above_it(path):
    bad = [m for m in imported_modules(path) if m.startswith(ABOVE_CORE)]
    assert not bad, f"{path.name} imports {bad}: the core must not depend on the layers above it"
    named = [s for s in strings(path) if s.startswith(("visgen.gui", "visgen.data", "visgen.nn"))]
    assert not named, f"{path.name} names upper layers by string: {named}"


def test_layering_check_catches_an_upward_import():
    """The check itself must be able to fail."""
    src = "from ..gui.views import lines\nimport visgen.nn\nfrom .spec import resolve\n"
    found = imported_modules(ROOT / "visgen" / "core" / "probe.py", src)
    assert "visgen.gui.views" in found and "visgen.nn" in found and "visgen.core.spec" in found


@pytest.mark.parametrize("path", sorted((ROOT / "visgen" / "data").glob("*.py")) +
                         sorted((ROOT / "visgen" / "nn").glob("*.py")), ids=lambda p: p.name)
def test_data_and_nn_do_not_import_the_gui(path):
    bad = [m for m in imported_modules(path) if m.startswith(("visgen.gui", "visgen.cli", "PySide6", "pyqtgraph"))]
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", sorted((ROOT / "plugins").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_use_only_the_public_api(path):
    """Built-in plugins import ``visgen`` and ``visgen.nn``, never the internals."""
    bad = [m for m in imported_modules(path) if m.startswith("visgen.")
           and not m.startswith(("visgen.nn", "visgen_")) and m.split(".")[1] not in _public_names()]
    assert not bad, f"{path.name} imports private modules {bad}"


def _public_names() -> set:
    import visgen
    return set(visgen.__all__)
