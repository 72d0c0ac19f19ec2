"""The composition root: visgen's own datasets and view kinds plus every installed plugin.

This sits above the core on purpose: the core (``visgen.core``) defines what a
registry, a run and a trainer are and imports nothing from the data loaders,
the model pieces or the GUI; this module is where those layers are put together.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Optional

from .core.errors import CheckpointError, VisgenError
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


#: Most run folders one load may open inside each other. A latent-diffusion run opens one VAE
#: run (two deep); eight leaves room for composed plugins and still stops long before Python's
#: recursion limit, should two paths name one folder in a way ``realpath`` cannot see (bind mounts).
MAX_NESTED_RUNS = 8

# Run folders this thread is loading, outermost first, as (realpath, path shown). A run that
# names another run (ddpm's vae_run) loads it inside its own load; a cycle would never end.
_loading = threading.local()


def load_run(run_dir, registry: Optional[Registry] = None, settings=(), device: str = "auto",
             seed: int = 0, threads: Optional[int] = None) -> Run:
    """Rebuild a run saved by ``visgen train`` (config.json + checkpoint.pt), weights loaded.

    ``settings`` are ``key=value`` strings; only live parameters may differ from
    the saved ones (a structural change would not fit the weights).

    ``config.json`` and the checkpoint's header are checked whole, against the
    registry too, before anything is built; a bad field raises VisgenError with
    one line naming the file. A relative ``run_dir`` named while another run
    loads (a latent-diffusion run's ``vae_run``) is found relative to the folder
    of the run that names it, else (runs saved before) to the current directory.
    Runs that name each other in a cycle are refused, naming the chain.
    """
    chain = _loading.__dict__.setdefault("chain", [])
    folder = _locate(Path(run_dir), chain[-1][1] if chain else None)
    key = os.path.realpath(folder)  # one name per folder, however it was reached
    cycle = any(key == k for k, _ in chain)
    if cycle or len(chain) >= MAX_NESTED_RUNS:
        names = " -> ".join(str(shown) for shown in [*(s for _, s in chain), folder])
        why = "name each other in a cycle" if cycle else f"nest deeper than {MAX_NESTED_RUNS}"
        raise VisgenError(f"run folders {why}: {names}")
    chain.append((key, folder))
    try:
        return _load_run(folder, registry, settings, device, seed, threads)
    finally:
        chain.pop()


def _locate(run_dir: Path, naming: Optional[Path]) -> Path:
    """``run_dir`` as given, or, when relative and named by the run folder ``naming``, relative
    to that folder; the current directory still counts where only it holds the run (runs
    saved before paths were taken relative to their run)."""
    from .core.runfiles import CONFIG

    if naming is None or run_dir.is_absolute():
        return run_dir
    beside = naming / run_dir
    if (beside / CONFIG).is_file() or not (run_dir / CONFIG).is_file():
        return beside
    return run_dir


def _training_seed(config: dict) -> int:
    """The seed a run was trained with (it chose the held-out part); 0 for runs saved before
    seeds were checked, which may hold a negative one (or none)."""
    seed = config.get("seed", 0)
    if isinstance(seed, float) and seed.is_integer():  # JSON's 3.0 is 3 (runfiles.check_int)
        seed = int(seed)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0


def _load_run(run_dir: Path, registry, settings, device, seed, threads) -> Run:
    from .core import runfiles as rf
    from .core.checkpoint import read_checkpoint

    cfg_path, ck_path = run_dir / rf.CONFIG, run_dir / rf.CHECKPOINT
    config = rf.read_config(run_dir)  # every field's type and range
    registry = registry or default_registry()
    try:  # names and values against the registry: the model's own parameters, typed as declared
        run = Run(registry, config["model"], config["dataset"], seed=seed, device=device,
                  dataset_path=config.get("data_path"), threads=threads,
                  data_seed=_training_seed(config))  # the training run's held-out part
        for k, v in config["params"].items():
            run.params.values[k] = run.params[k].validate(v)  # typed: text is no number here
    except VisgenError as exc:
        raise type(exc)(f"{cfg_path}: {exc}") from None

    blob = read_checkpoint(ck_path)  # the header only: weights are judged when loaded
    if (blob["model"], blob["dataset"]) != (config["model"], config["dataset"]):
        raise CheckpointError(f"{ck_path}: holds model {blob['model']!r} on {blob['dataset']!r}, but "
                              f"{cfg_path} says {config['model']!r} on {config['dataset']!r}")
    for k, v in blob["params"].items():
        try:
            v = run.params[k].validate(v)
        except VisgenError as exc:
            raise CheckpointError(f"{ck_path}: {exc}") from None
        if not run.params[k].live and v != run.params.values[k]:
            raise CheckpointError(f"{ck_path}: trained with {k}={v!r}, but {cfg_path} says "
                                  f"{k}={run.params.values[k]!r}")

    saved = dict(run.params.values)
    for k, v in run.params.parse_assignments(settings).items():
        if not run.params[k].live and v != saved[k]:
            raise VisgenError(f"{k} shapes the model and the run was trained with {k}="
                              f"{saved[k]}; only live parameters can change when sampling")
    run.load_checkpoint(ck_path).result()
    return run
