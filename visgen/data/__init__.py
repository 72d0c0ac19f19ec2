"""Datasets: the in-memory ``Dataset`` container and visgen's built-in loaders.

Importing this package needs numpy only; sklearn and Pillow are imported by
the loaders that use them, when they run.
"""
from __future__ import annotations

import inspect

from ..core.dataset import Dataset, Mixture

__all__ = ["Dataset", "Mixture", "load_dataset", "dataset_names"]


def dataset_names() -> list:
    """Names of the built-in datasets, in menu order."""
    from .builtin_datasets import builtin_dataset_specs

    return [s.name for s in builtin_dataset_specs()]


def load_dataset(name: str, path=None, **options) -> Dataset:
    """Load the built-in dataset ``name`` (e.g. ``"ring8"``, ``"digits"``).

    ``path`` defaults to the dataset's ``default_path``; ``options`` are the
    loader's keyword options (``n``, ``seed``, ``split``, ``limit``...). An
    unknown name or option raises a one-line ``VisgenError``. Plugin datasets
    are loaded through the registry instead.
    """
    from ..core.errors import DataError, UnknownNameError
    from ..core.spec import resolve
    from .builtin_datasets import builtin_dataset_specs

    specs = {s.name: s for s in builtin_dataset_specs()}
    if name not in specs:
        raise UnknownNameError(f"unknown dataset {name!r}; valid: {', '.join(specs)}")
    spec = specs[name]
    loader = resolve(spec.loader)
    valid = [p for p in inspect.signature(loader).parameters if p != "path"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise DataError(f"{name}: unknown option {', '.join(map(repr, unknown))}; "
                        f"valid: {', '.join(valid) or '(none)'}")
    return loader(path or spec.default_path, **options)
