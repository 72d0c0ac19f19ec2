"""The composition root: visgen's own datasets and view kinds plus every installed plugin.

This sits above the core on purpose: the core (``visgen.core``) defines what a
registry, a run and a trainer are and imports nothing from the data loaders,
the model pieces or the GUI; this module is where those layers are put together.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .core.errors import VisgenError
from .core.registry import Registry
from .core.run import Run


def default_registry(autoload: bool = True) -> Registry:
    """A registry with visgen's own datasets and view kinds, plus every entry-point plugin
    (``autoload=False``: only visgen's own)."""
    from . import view_kinds
    from .data import builtin_datasets

    reg = Registry()
    reg.register(builtin_datasets, "visgen.datasets")
    reg.register(view_kinds, "visgen.views")
    if autoload:
        reg.load_entry_points()
    return reg


def load_run(run_dir, registry: Optional[Registry] = None, settings=(), device: str = "auto",
             seed: int = 0, threads: Optional[int] = None) -> Run:
    """Rebuild a run saved by ``visgen train`` (config.json + checkpoint.pt), weights loaded.

    ``settings`` are ``key=value`` strings; only live parameters may differ from
    the saved ones (a structural change would not fit the weights).
    """
    from .core import runfiles as rf

    config = rf.read_config(run_dir)
    registry = registry or default_registry()
    run = Run(registry, config["model"], config["dataset"], seed=seed, device=device,
              dataset_path=config.get("data_path"), threads=threads)
    for k, v in config["params"].items():
        run.params.set(k, v)
    for k, v in run.params.parse_assignments(settings).items():
        if not run.params[k].live and v != config["params"].get(k):
            raise VisgenError(f"{k} shapes the model and the run was trained with {k}="
                              f"{config['params'].get(k)}; only live parameters can change when sampling")
    run.load_checkpoint(Path(run_dir) / rf.CHECKPOINT).result()
    return run
