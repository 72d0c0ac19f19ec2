"""Names a package exports without importing their modules until first use.

``visgen`` and ``visgen.metrics`` export classes and functions whose modules import torch;
``import visgen`` must stay cheap (plugins are discovered without torch), so each name is
looked up in its module on first access and then kept.
"""
from __future__ import annotations

import importlib
import sys


def lazy_getattr(package: str, table: dict):
    """A module ``__getattr__`` for ``package`` resolving ``table`` (name -> relative module)."""
    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(table[name], package), name)
            setattr(sys.modules[package], name, value)  # found once, then an ordinary attribute
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
