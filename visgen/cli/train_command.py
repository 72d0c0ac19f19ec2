"""``visgen train``: train headless and write a run folder (see ``visgen.core.runfiles``).

Exit status: 0 finished; 1 the model's code raised (one line names the model,
its plugin, the step and the exception; ``--traceback`` prints it whole);
2 a usage, data or file error; 3 training diverged (a scalar became NaN or
infinite); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). Whatever ends
training, the folder keeps what was trained: ``config.json``, ``metrics.csv`` up
to the last finished step, ``checkpoint.pt`` at that step and ``summary.json``
saying how it ended. The folder is written as one transaction
(``visgen.core.run_folder``): a kill at any moment leaves the earlier run or the
new one, never a mix, and an earlier run is replaced only with ``--overwrite``.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path

from .. import __version__
from ..composition import default_registry
from ..core import runfiles as rf
from ..core.errors import PluginError, VisgenError
from ..core.evaluation import evaluate
from ..core.likelihood import heldout_nll, no_likelihood
from ..core.run import Run
from ..core.run_folder import RunFolder
from ..core.status import RunState
from ..core.threads import default_threads
from .progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: training stops and what was trained is kept."""


def build_run(reg, model: str, dataset, settings, seed: int, device: str, data_path=None, threads=None) -> Run:
    run = Run(reg, model, dataset, seed=seed, device=device, dataset_path=data_path, threads=threads)
    if data_path and not run.dataset_spec.takes_path:  # else ignored, yet recorded in config.json
        readers = sorted(n for n, d in reg.datasets.items() if d.takes_path)
        raise VisgenError(f"{run.dataset_spec.name} takes no --data-path (it reads no file); "
                          f"data sets that read one: {', '.join(readers)}")
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
    folder = RunFolder(args.out, overwrite=getattr(args, "overwrite", False))
    folder.check()  # before the data is loaded: a wrong --out is said at once
    try:
        run_.build()  # data, parameter and plugin errors surface before any file is written
    except PluginError as exc:
        print(f"visgen: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except VisgenError:
        raise
    except Exception as exc:
        return _report(args, who, "could not be built", exc)
    folder.begin()
    main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers
    signals = StepBoundary()
    previous = {sig: signal.signal(sig, signals.handle) for sig in (signal.SIGINT, signal.SIGTERM)} if main_thread else {}
    try:
        return _train_into(args, run_, steps, who, folder, signals)
    except OSError as exc:  # a full disk, a folder gone read-only
        folder.abort()
        kept = "the new run is in place" if folder.committed else f"{args.out} was left as it was"
        raise VisgenError(f"--out {args.out}: could not write {Path(exc.filename or '').name or 'the run'} "
                          f"({exc.strerror or exc}); {kept}") from None
    except BaseException:
        folder.abort()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class StepBoundary:
    """Ctrl-C and SIGTERM while steps run take effect between two steps, so the step's
    metrics row, its status and the checkpoint all agree; anywhere else (or a second
    signal, for a step that never ends) they interrupt at once."""

    def __init__(self):
        self.deferring = False
        self.pending: BaseException | None = None

    def handle(self, signum, frame):
        exc = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
        if self.deferring and self.pending is None:
            self.pending = exc
            return
        raise exc

    def between_steps(self) -> None:
        """Raise the signal that arrived during the last step, if one did."""
        if self.pending is not None:
            self.deferring = False
            raise self.pending


def _train_into(args, run_: Run, steps: int, who: str, folder: RunFolder, signals: StepBoundary) -> int:
    """Train and write the run's files into the folder's staging folder, put it in place once
    it is complete, then check the views (a kill during that check keeps the new run)."""
    stage, out = folder.staging, folder.out
    for p in run_.spec.params:  # stored absolute: the run folder must load from anywhere
        if p.type == "path" and run_.params.values.get(p.name):
            run_.params.set(p.name, os.path.abspath(os.path.expanduser(run_.params.values[p.name])))
    config = {"model": run_.spec.id, "dataset": run_.dataset_spec.name, "data_path": args.data_path,
              "params": run_.params.values, "seed": run_.seed, "device": str(run_.device),
              "steps": steps, "visgen_version": __version__, "run_id": uuid.uuid4().hex}
    rf.write_json(stage / rf.CONFIG, config)

    def declared():  # a model without a likelihood gets no empty likelihood columns
        return [s for v in run_.views if v.kind == "lines"
                and not (v.id == "likelihood" and no_likelihood(run_.trainer)) for s in v.scalars]
    metrics = rf.MetricsWriter(stage / rf.METRICS, declared)
    run_.on_step = metrics.write
    bar = Progress(steps)
    print(f"training {run_.spec.id} on {run_.dataset_spec.name} for {steps} steps on {run_.device}", file=sys.stderr)
    t0 = time.perf_counter()
    failure, interrupted = None, None
    def progress(step):
        bar.update(step, "  ".join(f"{k} {v:.4g}" for k, v in list(run_.scalars.latest.items())[:3]))
        signals.between_steps()
    try:
        signals.deferring = True
        run_.train(steps, progress=progress)
        signals.between_steps()  # one that came during the last step
    except KeyboardInterrupt as exc:
        interrupted = exc
    except OSError:
        raise  # writing metrics.csv failed: not the model's fault
    except Exception as exc:  # the model's code raised: keep what was trained, then say so
        failure = exc
    finally:
        signals.deferring = False
        metrics.close()
    train_time = time.perf_counter() - t0
    st = run_.status
    outcome = ("interrupted" if interrupted else "failed" if failure is not None
               else "diverged" if st.state == RunState.DIVERGED else "finished")

    saved = _save_checkpoint(run_, stage / rf.CHECKPOINT)
    summary = {"model": run_.spec.id, "dataset": run_.dataset_spec.name, "status": outcome, "steps": st.step,
               "run_id": config["run_id"],
               "train_seconds": round(train_time, 3), "steps_per_second": round(st.step / max(train_time, 1e-9), 2),
               "final": rf.final_scalars(run_.scalars.series(), sparse=run_.scalars.sparse),
               "error": st.error, "diverged": str(st.diverged) if st.diverged else None,
               "checkpoint_step": st.step if saved is None else None}
    if saved is not None:
        summary["checkpoint_error"] = saved
    rf.write_json(stage / rf.SUMMARY, summary)  # a consistent set from here on
    if outcome == "finished":
        try:
            _evaluate(run_, stage, summary)
        except KeyboardInterrupt as exc:  # training is done and saved: keep it, say what is missing
            interrupted = exc
            summary["evaluation_interrupted"] = True
        rf.write_json(stage / rf.SUMMARY, summary)
    folder.commit()
    if outcome == "finished" and not interrupted:
        try:
            _check_views(run_, summary)  # dear views take seconds: the run is in place meanwhile
            rf.write_json(out / rf.SUMMARY, summary)
        except KeyboardInterrupt as exc:
            interrupted = exc

    if failure is not None:
        return _report(args, who, f"failed at step {st.step + 1}", failure,
                       f"; kept {st.step} finished steps in {out}/")
    if interrupted:
        what = "terminated" if isinstance(interrupted, Terminated) else "interrupted"
        print(f"visgen: {what} at step {st.step}; kept what was trained in {out}/", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interrupted, Terminated) else EXIT_INTERRUPTED
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
    except OSError:
        raise  # the disk, not the model: the whole run folder is abandoned (see run())
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
    # after the model's own extras: the held-out names mean held-out, whatever a plugin reports
    held = Progress(len(run_.heldout) if run_.heldout is not None else 1, unit="examples",
                    label="held-out likelihood")
    summary.update(heldout_nll(trainer, run_.heldout, budget=trainer.summary_budget, train=run_.dataset,
                               progress=lambda done, total: held.update(done)))


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
