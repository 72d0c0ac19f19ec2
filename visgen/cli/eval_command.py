"""``visgen eval``: measure saved runs side by side, one row per run.

    visgen eval RUN_DIR [RUN_DIR ...] [--n N] [--budget S] [--json] [--csv FILE] [--seeds]

Each run is loaded, sampled (``--n`` samples, within its time budget or ``--budget``) and measured
against its own training data by ``visgen.metrics.sample_metrics``; held-out real data
measured the same way is the first row, so every number has its scale. Likelihood and
training speed come from the run's ``summary.json``, stability from its
``metrics.csv``. Runs on different data are refused before anything loads.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..core import runfiles as rf
from ..core.errors import VisgenError
from ..composition import load_run
from ..metrics.run_report import MAX_N, by_model, columns, format_cell, measure_run, row_label, write_csv
from .progress import Progress
from .sample_command import check_out, write_atomically


def run(args) -> int:
    """Check the runs share their data, measure each, print the table (and write --json/--csv)."""
    if args.csv:
        check_csv(Path(args.csv))
    if args.n is not None and not 1 <= args.n <= MAX_N:
        raise VisgenError(f"--n must be in [1, {MAX_N:,}], got {args.n}")
    configs = [rf.read_config(d) for d in args.run_dirs]  # cheap, and refuses non-run folders
    data = {(c["dataset"], c.get("data_path")) for c in configs}
    if len(data) > 1:
        seen = ", ".join(f"{d} ({c['dataset']}{' ' + c['data_path'] if c.get('data_path') else ''})"
                         for d, c in zip(args.run_dirs, configs))
        raise VisgenError(f"runs on different data cannot be compared: {seen}")
    # every run's files read before any model loads: a bad one costs no sampling
    saved = [(rf.read_summary(d), rf.read_metrics(d)) for d in args.run_dirs]
    rows, reference = [], None
    for run_dir, config, (summary, history) in zip(args.run_dirs, configs, saved):
        row, ref = measure(run_dir, config, summary, history, args)
        rows.append(row)
        reference = reference or ref
    kind = rows[0]["kind"]
    groups = by_model(rows) if args.seeds else []
    print(table(kind, ([reference] if reference else []) + rows + groups))
    if args.json:
        print(json.dumps(rows + groups, indent=2, default=rf.jsonable))
    if args.csv:
        write_atomically(Path(args.csv), lambda tmp: write_csv(tmp, ([reference] if reference else []) + rows + groups))
        print(f"wrote {args.csv}", file=sys.stderr)
    return 0


def measure(run_dir: str, config: dict, summary: dict, history: dict, args) -> tuple:
    """``(row, reference)`` for one run folder (its ``summary.json`` and ``metrics.csv`` read
    already): its metrics and held-out real data's."""
    run_ = load_run(run_dir, device=args.device, seed=args.seed)
    bars = {}

    def progress(stage, done, total):
        label = f"{Path(run_dir).name}: sampling" if stage == "sampling" else f"{run_.dataset_spec.name}: {stage}"
        unit = "samples" if stage == "sampling" else "batches"
        bars.setdefault(stage, Progress(total, unit=unit, label=label)).update(done)
    measured = measure_run(run_, n=args.n, seed=args.seed, summary={"steps": config.get("steps"), **summary},
                           history=history, label=str(run_dir), progress=progress, budget=args.budget)
    return measured.row, measured.reference


def table(kind: str, rows: list) -> str:
    """The rows as a plain-text table, one column per metric of this data kind."""
    cols = columns(kind)
    body = [[row_label(r)] + [format_cell(r, key, fmt) for key, _, fmt in cols] for r in rows]
    head = ["run"] + [h for _, h, _ in cols]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), "-" * len(line(head))] + [line(b) for b in body])


def check_csv(out: Path) -> None:
    """``--csv``: a .csv file that can be written (checked before any run loads)."""
    if out.suffix.lower() != ".csv":
        raise VisgenError(f"--csv {out}: must end in .csv")
    check_out(out)
