"""``visgen sample``: draw samples from a saved run folder."""
from __future__ import annotations

from pathlib import Path

from ..core import runfiles as rf
from ..core.errors import VisgenError
from ..core.evaluation import time_sampling
from ..composition import load_run


def run(args) -> int:
    if args.n < 1:
        raise VisgenError(f"--n must be at least 1, got {args.n}")
    run_ = load_run(args.run_dir, settings=args.set, device=args.device, seed=args.seed)
    samples, per_sample = time_sampling(run_.trainer, args.n)
    out = Path(args.out)
    if out.suffix.lower() == ".csv":
        if samples.ndim != 2:
            raise VisgenError(f"{out}: CSV output is for 2D points; this model makes images (use .png)")
        rf.save_samples_csv(out, samples)
    elif out.suffix.lower() == ".png":
        rf.save_samples_png(out, samples, run_.dataset, nrow=run_.trainer.grid_columns)
    else:
        raise VisgenError(f"{out}: output must end in .png or .csv")
    settings = " ".join(args.set)
    print(f"sampled {args.n} in {per_sample * args.n:.3f} s: {per_sample * 1e3:.4f} ms per sample"
          f"{' (' + settings + ')' if settings else ''} -> {out}")
    return 0
