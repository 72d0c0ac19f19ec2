"""``visgen train``: train headless and write a run folder (see ``visgen.core.runfiles``).

Exit status: 0 finished; 1 the model's code raised (one line names the model,
its plugin, the step and the exception; ``--traceback`` prints it whole);
2 a usage or data error; 3 training diverged (a scalar became NaN or
infinite); 130 interrupted (Ctrl-C). Whatever ends training, the folder keeps
what was trained: ``config.json``, ``metrics.csv`` up to the last finished
step, ``checkpoint.pt`` at that step and ``summary.json`` saying how it ended.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from .. import __version__
from ..composition import default_registry
from ..core import runfiles as rf
from ..core.errors import PluginError, VisgenError
from ..core.evaluation import evaluate
from ..core.run import Run
from ..core.status import RunState
from ..core.threads import default_threads
from .progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def build_run(reg, model: str, dataset, settings, seed: int, device: str, data_path=None, threads=None) -> Run:
    run = Run(reg, model, dataset, seed=seed, device=device, dataset_path=data_path, threads=threads)
    run.params.parse_assignments(settings)
    return run


def plugin_of(reg, model_id: str) -> str:
    """``name (source)`` of the plugin that provides a model, for messages."""
    name = reg.model_plugin.get(model_id, "?")
    info = next((p for p in reg.plugins if p.name == name), None)
    return f"plugin {name}" + (f", {info.source}" if info is not None else "")


def run(args) -> int:
    import torch
    torch.set_num_threads(default_threads())  # see visgen.core.threads: busy 2-core machines collapse otherwise

    reg = default_registry()
    run_ = build_run(reg, args.model, args.dataset, args.set, args.seed, args.device, args.data_path)
    steps = args.steps if args.steps is not None else run_.spec.default_steps
    if steps < 1:
        raise VisgenError(f"--steps must be at least 1, got {steps}")
    who = f"model {run_.spec.id} ({plugin_of(reg, run_.spec.id)})"
    try:
        run_.build()  # data, parameter and plugin errors surface before any file is written
    except PluginError as exc:
        print(f"visgen: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except VisgenError:
        raise
    except Exception as exc:
        return _report(args, who, "could not be built", exc)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    config = {"model": run_.spec.id, "dataset": run_.dataset_spec.name, "data_path": args.data_path,
              "params": run_.params.values, "seed": run_.seed, "device": str(run_.device),
              "steps": steps, "visgen_version": __version__}
    rf.write_json(out / rf.CONFIG, config)

    declared = [s for v in run_.views if v.kind == "lines" for s in v.scalars]
    metrics = rf.MetricsWriter(out / rf.METRICS, declared)
    run_.on_step = metrics.write
    bar = Progress(steps)
    print(f"training {run_.spec.id} on {run_.dataset_spec.name} for {steps} steps on {run_.device}", file=sys.stderr)
    t0 = time.perf_counter()
    failure, interrupted = None, False
    try:
        run_.train(steps, progress=lambda s: bar.update(
            s, "  ".join(f"{k} {v:.4g}" for k, v in list(run_.scalars.latest.items())[:3])))
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # the model's code raised: keep what was trained, then say so
        failure = exc
    finally:
        metrics.close()
    train_time = time.perf_counter() - t0
    st = run_.status
    outcome = ("interrupted" if interrupted else "failed" if failure is not None
               else "diverged" if st.state == RunState.DIVERGED else "finished")

    saved = _save_checkpoint(run_, out / rf.CHECKPOINT)
    summary = {"model": run_.spec.id, "dataset": run_.dataset_spec.name, "status": outcome, "steps": st.step,
               "train_seconds": round(train_time, 3), "steps_per_second": round(st.step / max(train_time, 1e-9), 2),
               "final": rf.final_scalars(run_.scalars.series(), sparse=run_.scalars.sparse),
               "error": st.error, "diverged": str(st.diverged) if st.diverged else None,
               "checkpoint_step": st.step if saved is None else None}
    if saved is not None:
        summary["checkpoint_error"] = saved
    if outcome == "finished":
        _evaluate(run_, out, summary)
    rf.write_json(out / rf.SUMMARY, summary)
    if outcome == "finished":  # dear views take seconds: the summary above is safe meanwhile
        _check_views(run_, summary)
        rf.write_json(out / rf.SUMMARY, summary)

    if failure is not None:
        return _report(args, who, f"failed at step {st.step + 1}", failure,
                       f"; kept {st.step} finished steps in {out}/")
    if interrupted:
        print(f"visgen: interrupted at step {st.step}; kept what was trained in {out}/", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome == "diverged":
        print(f"visgen: {who} diverged: {st.message} Kept {st.step} steps in {out}/", file=sys.stderr)
        return EXIT_DIVERGED
    print(f"wrote {out}/ ({st.step} steps in {train_time:.1f} s; "
          f"{summary['sample_seconds_per_sample'] * 1e3:.3f} ms per sample)", file=sys.stderr)
    return EXIT_OK


def _save_checkpoint(run_: Run, path: Path):
    """Save the trainer at the last finished step; return None, or why it could not be saved."""
    try:
        run_.save_checkpoint(path).result()
        return None
    except Exception as exc:
        print(f"visgen: warning: could not save {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return f"{type(exc).__name__}: {exc}"


def _evaluate(run_: Run, out: Path, summary: dict) -> None:
    """Samples, metrics and ``samples.png``, within the trainer's time budget, with progress."""
    trainer = run_.trainer
    bar = None

    def progress(done, total):
        nonlocal bar
        bar = bar or Progress(total, unit="samples", label="evaluating")
        bar.update(done)

    wanted = 8 * trainer.grid_columns
    with trainer.evaluation():
        result, samples = evaluate(trainer, run_.dataset, wanted_images=wanted, progress=progress)
    if not result["evaluation"]["complete"]:
        ev = result["evaluation"]
        print(f"visgen: evaluation used {ev['samples']} of {ev['wanted']} samples "
              f"(the {ev['budget_seconds']:g} s budget of {run_.spec.id} ran out)", file=sys.stderr)
    shown = samples if run_.dataset.kind == "points" else samples[:wanted]
    rf.save_samples_png(out / rf.SAMPLES, shown, run_.dataset, nrow=trainer.grid_columns)
    summary.update(result)
    summary.update(trainer.summary())


def _check_views(run_: Run, summary: dict) -> None:
    """Take every view once, so a view the window could not draw speaks here too (one line each)."""
    bar = None

    def progress(done, total):
        nonlocal bar
        bar = bar or Progress(total, unit="views", label="checking views")
        bar.update(done)

    views = run_.check_views(budget=run_.trainer.summary_budget, progress=progress).result()
    for line in views["problems"].values():
        print(f"visgen: warning: {line}", file=sys.stderr)
    if views["unchecked"]:
        print(f"visgen: views not checked within {run_.trainer.summary_budget:g} s: "
              f"{', '.join(views['unchecked'])}", file=sys.stderr)
    summary["views"] = views


def _report(args, who: str, what: str, exc: BaseException, kept: str = "") -> int:
    """One line naming the model, its plugin and the exception; the traceback only when asked."""
    first = (str(exc).strip().splitlines() or [""])[0]
    print(f"visgen: error: {who} {what}: {type(exc).__name__}: {first}{kept}"
          f"{'' if getattr(args, 'traceback', False) else ' (--traceback shows where)'}", file=sys.stderr)
    if getattr(args, "traceback", False):
        import traceback
        traceback.print_exception(exc, file=sys.stderr)
    return EXIT_FAILED
