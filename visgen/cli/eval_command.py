"""``visgen eval``: measure saved runs side by side, one row per run.

    visgen eval RUN_DIR [RUN_DIR ...] [--n N] [--json] [--csv FILE] [--seeds]

Each run is loaded, sampled (``--n`` samples, within its time budget) and measured
against its own training data by ``visgen.metrics.sample_metrics``; held-out real data
measured the same way is the first row, so every number has its scale. Likelihood and
training speed come from the run's ``summary.json``, stability from its
``metrics.csv``. Runs on different data are refused before anything loads.
"""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from ..core import runfiles as rf
from ..core.errors import VisgenError
from ..core.evaluation import sample_within
from ..composition import load_run
from .progress import Progress
from .sample_command import check_out, write_atomically

#: Samples drawn per run unless --n says: as many as the set metrics compare (more cost time,
#: not insight), and 2,500 on points, the mode-coverage protocol's count.
DEFAULT_N = {"images": 1000, "points": 2500}
MAX_N = 20_000
STABLE_TAIL = 0.2  # the last fifth of training: how much the loss still moves there
NEAR_FINAL = 0.05  # "reached its final level": within 5 % of the way from its first to its last

#: The table's columns, per data kind: (key, heading, format).
COLUMNS = {
    "images": [("frechet_distance", "Frechet", ".2f"), ("kid", "KID", ".4f"), ("precision", "prec", ".2f"),
               ("recall", "recall", ".2f"), ("coverage", "cover", ".2f"), ("confident_fraction", "sure", ".2f"),
               ("classifier_score", "cls score", ".2f")],
    "points": [("energy_distance", "energy", ".3f"), ("frechet_distance", "Frechet", ".3f"),
               ("precision", "prec", ".2f"), ("recall", "recall", ".2f"), ("modes_covered", "modes", ".0f"),
               ("high_quality", "hq", ".2f")],
}
COMMON = [("bits_per_dim", "bits/dim", ".2f"), ("likelihood", "lik.", "s"), ("sample_time_ms", "ms/sample", ".3g"),
          ("steps_per_second", "steps/s", ".0f"), ("seconds_to_final", "s to final", ".1f"),
          ("loss_spread", "loss spread", ".3f")]


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
    from ..metrics import sample_metrics

    run_ = load_run(run_dir, device=args.device, seed=args.seed)
    trainer, data = run_.trainer, run_.dataset
    n = args.n or DEFAULT_N[data.kind]
    bar = Progress(n, unit="samples", label=f"{Path(run_dir).name}: sampling")
    samples, per_sample = sample_within(trainer, n, float(getattr(trainer, "summary_budget", 30.0)),
                                        chunk=500 if data.kind == "points" else 100,
                                        progress=bar.update)
    bars = {}

    def training(done, total):  # the first measurement of a data set trains its feature classifier
        bars.setdefault("bar", Progress(total, unit="batches", label=f"{data.name}: training the "
                                        "feature classifier (once; cached)")).update(done)
    metrics = sample_metrics(samples, data, run_.heldout, seed=args.seed, progress=training)
    row = {"run": str(run_dir), "model": config["model"], "dataset": config["dataset"],
           "steps": summary.get("steps", config.get("steps")), "kind": data.kind,
           "samples": len(samples), "sample_time_ms": 1e3 * per_sample,
           "steps_per_second": summary.get("steps_per_second"), "train_seconds": summary.get("train_seconds"),
           "likelihood": summary.get("likelihood") or "none", "nll_nats": summary.get("nll_nats"),
           "bits_per_dim": summary.get("bits_per_dim"), "loss_spread": loss_spread(history),
           "seconds_to_final": seconds_to_final(history),
           **{k: v for k, v in metrics.items() if k not in ("reference", "kind")}}
    reference = None
    if metrics.get("reference"):
        reference = {"run": "held-out real data", "model": "(data)", "kind": data.kind, **metrics["reference"]}
    return row, reference


def loss_spread(history: dict) -> float:
    """Stability: the standard deviation of the run's first streamed scalar (its main loss) over
    the last ``STABLE_TAIL`` of training, relative to its mean size there; NaN without history."""
    names = [k for k in history if k not in ("step", "wall_time")]
    for name in names:
        v = history[name]
        tail = v[int(len(v) * (1 - STABLE_TAIL)):]
        tail = tail[np.isfinite(tail)]
        if len(tail) >= 10:  # a column measured every step, not a sparse metric
            return float(tail.std() / max(abs(tail.mean()), 1e-12))
    return math.nan


def seconds_to_final(history: dict) -> float:
    """Wall time until training reached its final quality, as the runs record it: the first
    time modes covered reached its final count (mixtures), else the first time the main
    loss's running mean came within ``NEAR_FINAL`` of its final level. NaN without history."""
    wall = history.get("wall_time")
    if wall is None or len(wall) == 0:
        return math.nan
    modes = history.get("modes_covered")
    if modes is not None and np.isfinite(modes).any():
        seen = np.isfinite(modes)
        final = modes[seen][-1]
        return float(wall[seen][np.argmax(modes[seen] >= final)])
    for name in (k for k in history if k not in ("step", "wall_time")):
        v = history[name]
        if np.isfinite(v).sum() < 10 or not np.isfinite(v).all():
            continue  # a sparse metric, or a diverged run
        window = max(1, len(v) // 50)
        mean = np.convolve(v, np.ones(window) / window, mode="valid")  # running mean: steps are noisy
        final, start = mean[-1], mean[0]
        near = np.abs(mean - final) <= NEAR_FINAL * max(abs(start - final), 1e-12)
        return float(wall[window - 1:][np.argmax(near)])
    return math.nan


def by_model(rows: list) -> list:
    """One row per model over its runs (seeds): each number's mean, and ``<key>_std``."""
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        if len(mine) < 2:
            continue
        group = {"run": f"{model}: mean of {len(mine)} runs", "model": model, "kind": mine[0]["kind"],
                 "runs": len(mine), "likelihood": mine[0]["likelihood"]}
        for key, value in mine[0].items():
            vals = [r.get(key) for r in mine]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                group[key], group[f"{key}_std"] = float(np.mean(vals)), float(np.std(vals))
        out.append(group)
    return out


def table(kind: str, rows: list) -> str:
    """The rows as a plain-text table, one column per metric of this data kind."""
    cols = COLUMNS[kind] + COMMON
    body = [[_name(r)] + [_cell(r, key, fmt) for key, _, fmt in cols] for r in rows]
    head = ["run"] + [h for _, h, _ in cols]
    widths = [max(len(row[i]) for row in [head] + body) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), "-" * len(line(head))] + [line(b) for b in body])


def _cell(row: dict, key: str, fmt: str) -> str:
    v = row.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    text = format(v, fmt)
    if isinstance(row.get(f"{key}_std"), float):  # a spread: KID's over subsets, or over seeds
        text += f"±{format(row[key + '_std'], fmt)}"
    return text


def _name(row: dict) -> str:
    """A run's row: its folder and model; the real data's and a group's rows: their own label."""
    if row["model"] == "(data)" or "runs" in row:
        return row["run"]
    return f"{Path(row['run']).name} ({row['model']})"


def write_csv(path: Path, rows: list) -> None:
    """One line per row, one column per plain value (nested ones - histograms, notes - are left
    to --json)."""
    keys = list(dict.fromkeys(k for r in rows for k, v in r.items() if not isinstance(v, (dict, list))))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def check_csv(out: Path) -> None:
    """``--csv``: a .csv file that can be written (checked before any run loads)."""
    if out.suffix.lower() != ".csv":
        raise VisgenError(f"--csv {out}: must end in .csv")
    check_out(out)
