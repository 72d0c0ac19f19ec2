"""``visgen sample``: draw samples from a saved run folder."""
from __future__ import annotations

from pathlib import Path

from ..core import runfiles as rf
from ..core.errors import VisgenError
from ..core.evaluation import time_sampling
from ..core.registry import default_registry
from .train_command import build_run


def run(args) -> int:
    if args.n < 1:
        raise VisgenError(f"--n must be at least 1, got {args.n}")
    config = rf.read_config(args.run_dir)
    reg = default_registry()
    run_ = build_run(reg, config["model"], config["dataset"], [], args.seed, args.device, config.get("data_path"))
    for k, v in config["params"].items():
        run_.params.set(k, v)
    for k, v in run_.params.parse_assignments(args.set).items():
        if not run_.params[k].live and v != config["params"].get(k):
            raise VisgenError(f"{k} shapes the model and the run was trained with {k}="
                              f"{config['params'].get(k)}; only live parameters can change when sampling")
    run_.load_checkpoint(Path(args.run_dir) / rf.CHECKPOINT).result()
    samples, per_sample = time_sampling(run_.trainer, args.n)
    out = Path(args.out)
    if out.suffix.lower() == ".csv":
        if samples.ndim != 2:
            raise VisgenError(f"{out}: CSV output is for 2D points; this model makes images (use .png)")
        rf.save_samples_csv(out, samples)
    elif out.suffix.lower() == ".png":
        rf.save_samples_png(out, samples, run_.dataset)
    else:
        raise VisgenError(f"{out}: output must end in .png or .csv")
    settings = " ".join(args.set)
    print(f"sampled {args.n} in {per_sample * args.n:.3f} s: {per_sample * 1e3:.4f} ms per sample"
          f"{' (' + settings + ')' if settings else ''} -> {out}")
    return 0
