"""``visgen train``: train headless and write a run folder (see ``visgen.core.runfiles``)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from .. import __version__
from ..core import runfiles as rf
from ..core.errors import VisgenError
from ..core.evaluation import evaluate_samples, time_sampling
from ..composition import default_registry
from ..core.run import Run, RunState
from .progress import Progress


def build_run(reg, model: str, dataset, settings, seed: int, device: str, data_path=None, threads=None) -> Run:
    run = Run(reg, model, dataset, seed=seed, device=device, dataset_path=data_path, threads=threads)
    run.params.parse_assignments(settings)
    return run


def run(args) -> int:
    import os

    import torch
    # Headless: no GUI thread to leave room for, but respect an explicit OMP_NUM_THREADS.
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1)

    reg = default_registry()
    run_ = build_run(reg, args.model, args.dataset, args.set, args.seed, args.device, args.data_path)
    steps = args.steps if args.steps is not None else run_.spec.default_steps
    if steps < 1:
        raise VisgenError(f"--steps must be at least 1, got {steps}")
    run_.build()  # data and parameter errors surface before any file is written
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"model": run_.spec.id, "dataset": run_.dataset_spec.name, "data_path": args.data_path,
              "params": run_.params.values, "seed": run_.seed, "device": str(run_.device),
              "steps": steps, "visgen_version": __version__}
    rf.write_json(out / rf.CONFIG, config)

    declared = [s for v in run_.spec.views if v.kind == "lines" for s in v.scalars]
    metrics = rf.MetricsWriter(out / rf.METRICS, declared)
    run_.on_step = metrics.write
    bar = Progress(steps)
    print(f"training {run_.spec.id} on {run_.dataset_spec.name} for {steps} steps on {run_.device}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        run_.train(steps, progress=lambda s: bar.update(
            s, "  ".join(f"{k} {v:.4g}" for k, v in list(run_.scalars.latest.items())[:3])))
    finally:
        metrics.close()
    train_time = time.perf_counter() - t0
    if run_.state == RunState.PAUSED and run_.message:
        print(f"visgen: {run_.message}", file=sys.stderr)

    run_.save_checkpoint(out / rf.CHECKPOINT).result()
    samples, per_sample = time_sampling(run_.trainer, 256 if run_.dataset.kind == "points"
                                        else 8 * run_.trainer.grid_columns)
    if run_.dataset.kind == "points":  # draw more points so the picture shows the distribution
        samples = run_.trainer.sample(2500)
    rf.save_samples_png(out / rf.SAMPLES, samples, run_.dataset, nrow=run_.trainer.grid_columns)

    summary = {"model": run_.spec.id, "dataset": run_.dataset_spec.name, "steps": run_.step,
               "train_seconds": round(train_time, 3), "steps_per_second": round(run_.step / max(train_time, 1e-9), 2),
               "final": rf.final_scalars(run_.scalars.series()),
               "sample_seconds_per_sample": per_sample, "stopped_early": run_.message or None}
    summary.update(run_.trainer.summary())
    summary.update(evaluate_samples(run_.trainer, run_.dataset))
    rf.write_json(out / rf.SUMMARY, summary)
    print(f"wrote {out}/ ({run_.step} steps in {train_time:.1f} s; "
          f"{per_sample * 1e3:.3f} ms per sample)", file=sys.stderr)
    return 1 if summary["stopped_early"] and "became" in summary["stopped_early"] else 0
