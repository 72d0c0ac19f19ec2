"""One row of the comparison table for one run, live or saved (Qt-free).

``measure_run(run)`` samples a run in its own trainer thread (``run.call``: a live
run keeps training between the calls), measures the samples with ``sample_metrics``
and adds what the run itself recorded: likelihood, speed and stability. ``visgen eval``
measures saved runs with it (their ``summary.json`` and ``metrics.csv`` passed in);
the Compare window measures open runs too (``live_summary``, ``live_history``).

The first rows of every table are the samples' own scale: ``reference`` is held-out
real data measured the same way.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..core.evaluation import sample_within
from ..core.rng import rng_set_aside

#: Samples drawn per run unless asked otherwise: as many as the set metrics compare (more
#: cost time, not insight), and 2,500 on points, the mode-coverage protocol's count.
DEFAULT_N = {"images": 1000, "points": 2500}
MAX_N = 20_000
STABLE_TAIL = 0.2  # the last fifth of training: how much the loss still moves there
NEAR_FINAL = 0.05  # "reached its final level": within 5 % of the way from its first to its last
REFERENCE = "held-out real data"
NEIGHBOURS_SHOWN = 4  # samples shown beside their nearest training image

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
          ("loss_spread", "loss spread", ".3f"), ("quality_spread", "quality spread", ".3f")]

#: What each column is (and is not): the Compare window's header tooltips.
MEANING = {
    "frechet_distance": "Frechet distance between Gaussians fitted to the features of real and generated "
                        "samples (lower is better). Not comparable with a published FID: the features are "
                        "a small classifier's trained here, not Inception's.",
    "kid": "Kernel distance (KID, unbiased; lower is better), on the same features: the better choice on "
           "a small data set. ± is its spread over subsets.",
    "precision": "Fraction of samples inside the real data's k-nearest-neighbour manifold: quality.",
    "recall": "Fraction of real examples inside the samples' manifold: diversity. A smeared-out "
              "model can score high by reaching everything: read it with precision.",
    "coverage": "Fraction of real examples with a sample among their k nearest neighbours (Naeem et al.): "
                "diversity, robust to outliers.",
    "confident_fraction": "Fraction of samples the classifier labels with high confidence.",
    "classifier_score": "An Inception-Score-like number from the local classifier (higher: confident "
                        "and varied labels). Not an Inception Score.",
    "energy_distance": "Energy distance to held-out points (about 0 for the same distribution).",
    "modes_covered": "Mixture modes with at least a few samples near them.",
    "high_quality": "Fraction of samples within 3 standard deviations of a mode.",
    "bits_per_dim": "Held-out negative log-likelihood per dimension (lower is better).",
    "likelihood": "exact (flows, PixelCNN), bound (VAE, DDPM: an upper bound on the NLL) or none (GANs).",
    "sample_time_ms": "Time to draw one sample on this machine, measured now.",
    "steps_per_second": "Training steps per second.",
    "seconds_to_final": "Wall time until the main loss came within 5 % of its final level "
                        "(mode count on mixtures); saved runs only.",
    "loss_spread": "Spread of the main loss over the last fifth of training, relative to its size: stability.",
    "quality_spread": "Spread of the quality measured while training (high-quality fraction on mixtures, else "
                      "held-out bits/dim) over the last fifth of its measurements: does the result still move?",
    "step": "The training step the row was measured at.",
}


@dataclass
class Measured:
    """What measuring one run gives: its ``row``, held-out real data's ``reference`` row
    (None where there is none), the ``samples`` themselves (numpy, data units), on points
    up to 2,500 of the ``real`` training points to draw them over, and on images the
    ``neighbours``: ``(sample, nearest training image, distance)`` for the samples nearest
    to a training image (the memorisation check's pictures)."""
    row: dict
    reference: Optional[dict]
    samples: np.ndarray = field(repr=False)
    real: Optional[np.ndarray] = field(default=None, repr=False)
    neighbours: list = field(default_factory=list, repr=False)


def draw_samples(run, n: int, seed: int = 0, progress: Optional[Callable[[int], None]] = None,
                 budget: Optional[float] = None) -> tuple:
    """``(samples, seconds_per_sample, step)``: up to ``n`` samples within the trainer's time
    budget, drawn in the run's trainer thread - between two steps of a live run, at ``step`` -
    from noise seeded by ``seed`` (the same noise for every run where the models draw it
    alike), leaving the run's own random state as it was. ``budget``: seconds of sampling,
    by default the trainer's ``summary_budget`` (30 s where it has none)."""
    import torch

    points = run.dataset_spec.kind == "points"

    def draw(trainer):
        with rng_set_aside(run.device):
            torch.manual_seed(seed)
            step = run.status.step
            seconds = budget if budget is not None else float(getattr(trainer, "summary_budget", 30.0))
            return (*sample_within(trainer, n, seconds,
                                   chunk=500 if points else 100, progress=progress), step)
    return run.call(draw).result()


def measure_run(run, *, n: Optional[int] = None, seed: int = 0, summary: Optional[dict] = None,
                history: Optional[dict] = None, label: Optional[str] = None,
                progress: Optional[Callable[[str, int, int], None]] = None,
                budget: Optional[float] = None) -> Measured:
    """Sample ``run`` and measure it against its own training data.

    ``summary`` and ``history`` are what the run recorded (a saved run's ``summary.json``
    and ``metrics.csv``); left out, they are read from the run as it is now. ``progress``
    is called as ``progress(stage, done, total)`` from this thread and the trainer's:
    "sampling", then, the first time a data set is measured, "training the feature
    classifier". ``budget``: seconds of sampling (see ``draw_samples``)."""
    from .sample_report import sample_metrics

    kind = run.dataset_spec.kind
    n = n or DEFAULT_N[kind]
    samples, per_sample, step = draw_samples(run, n, seed,
                                             (lambda done: progress("sampling", done, n)) if progress else None,
                                             budget)
    if summary is None:
        summary = {**live_summary(run), "steps": step}  # the step the samples were drawn at
    if history is None:
        history = live_history(run)
    training = (lambda done, total: progress("training the feature classifier (once; cached)", done, total)) \
        if progress else None
    metrics = sample_metrics(samples, run.dataset, run.heldout, seed=seed, progress=training)
    row = {"run": label or run.name, "model": run.spec.id, "dataset": run.dataset_spec.name,
           "steps": summary.get("steps"), "kind": kind, "samples": len(samples),
           "sample_time_ms": 1e3 * per_sample, "steps_per_second": summary.get("steps_per_second"),
           "train_seconds": summary.get("train_seconds"), "likelihood": summary.get("likelihood") or "none",
           "nll_nats": summary.get("nll_nats"), "bits_per_dim": summary.get("bits_per_dim"),
           "loss_spread": loss_spread(history), "quality_spread": quality_spread(history),
           "seconds_to_final": seconds_to_final(history),
           **{k: v for k, v in metrics.items() if k not in ("reference", "kind")}}
    if "class_histogram" in row and run.dataset.class_names is not None:
        row["class_names"] = [str(name) for name in run.dataset.class_names]  # the histogram's x axis
    reference = None
    if metrics.get("reference"):
        reference = {"run": REFERENCE, "model": "(data)", "kind": kind, **metrics["reference"]}
    real = run.dataset.x[:DEFAULT_N["points"]] if kind == "points" else None
    closest = (row.get("nearest_neighbours") or {}).get("closest", [])
    return Measured(row, reference, samples, real, neighbour_pairs(samples, run.dataset.x, closest))


def neighbour_pairs(samples: np.ndarray, train_x: np.ndarray, closest: list, n: int = NEIGHBOURS_SHOWN) -> list:
    """``(sample, nearest training image, distance)`` for the first ``n`` of ``closest``
    (``sample_metrics``' ``(finite sample index, _, _)``, nearest first), each searched again
    in the whole training set: the metric searched a subsample, the picture must not."""
    from .memorisation import nearest_distances

    if not closest:
        return []
    finite = samples[np.isfinite(samples.reshape(len(samples), -1)).all(1)]
    picked = finite[[i for i, _, _ in closest[:n]]]
    dist, idx = nearest_distances(picked, train_x, 1)
    return sorted(((picked[j], train_x[idx[j, 0]], float(dist[j, 0])) for j in range(len(picked))),
                  key=lambda pair: pair[2])


def live_summary(run) -> dict:
    """What a saved run's ``summary.json`` would say about an open run, as far as it is known
    now: its step, mean training speed, and the latest held-out bits/dim of the live curve."""
    st = run.status
    out = {"steps": st.step, "train_seconds": st.wall_time or None,
           "steps_per_second": st.step / st.wall_time if st.wall_time else None}
    trainer = run.trainer
    kind = getattr(trainer, "likelihood", None) if trainer is not None else None
    if kind:
        out["likelihood"] = kind
        _, values = run.scalars.series(["heldout_bits_per_dim"]).get("heldout_bits_per_dim", ((), ()))
        if len(values):
            out["bits_per_dim"] = float(values[-1])
    return out


def live_history(run) -> dict:
    """An open run's streamed scalars as ``{name: values}``, the shape of a saved run's
    ``metrics.csv`` less its wall-time column (so ``seconds_to_final`` is NaN for it)."""
    return {name: np.asarray(values, dtype=float) for name, (_steps, values) in run.scalars.series().items()}


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


#: The quality measured during training, best first: mixtures' high-quality fraction, else
#: the held-out bits/dim of the live likelihood curve (GANs on images have neither).
QUALITY_SERIES = ("high_quality", "heldout_bits_per_dim")


def quality_spread(history: dict) -> float:
    """Stability of the result: the standard deviation of the quality measured during
    training (``QUALITY_SERIES``, in its own units) over the last ``STABLE_TAIL`` of its
    measurements; NaN where none was measured at least three times there."""
    for name in QUALITY_SERIES:
        v = history.get(name)
        if v is None:
            continue
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        tail = v[int(len(v) * (1 - STABLE_TAIL)):]
        if len(tail) >= 3:
            return float(tail.std())
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


def columns(kind: str) -> list:
    """``(key, heading, format)`` of every column of a table of runs on ``kind`` data."""
    return COLUMNS[kind] + COMMON


def format_cell(row: dict, key: str, fmt: str) -> str:
    """One table cell: "-" where the row has no number, "value±spread" where it has a spread
    (KID's over subsets, or a group's over seeds)."""
    v = row.get(key)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    text = format(v, fmt)
    if isinstance(row.get(f"{key}_std"), float):
        text += f"±{format(row[key + '_std'], fmt)}"
    return text


def row_label(row: dict) -> str:
    """A run's row: its folder (or run name) and model; real data's and a group's: their own label."""
    if row["model"] == "(data)" or "runs" in row:
        return row["run"]
    return f"{Path(row['run']).name} ({row['model']})"


def write_csv(path, rows: list) -> None:
    """One line per row, one column per plain value (nested ones - histograms, notes - are
    left to JSON)."""
    keys = list(dict.fromkeys(k for r in rows for k, v in r.items() if not isinstance(v, (dict, list))))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def speed_score(ms_per_sample) -> float:
    """Sampling speed on [0, 1] for the quality / diversity / speed triangle: log-scaled from
    one second per sample (0) to ten microseconds (1), so one step of the scale is ten times
    faster. NaN where it was not measured."""
    if ms_per_sample is None or not ms_per_sample > 0:
        return math.nan
    return float(np.clip((3.0 - math.log10(ms_per_sample)) / 5.0, 0.0, 1.0))


def triangle_scores(row: dict) -> tuple:
    """``(quality, diversity, speed)`` of a measured row, each on [0, 1]: precision, recall
    and ``speed_score`` (the course's "impossible triangle": no family has all three)."""
    return (row.get("precision", math.nan), row.get("recall", math.nan), speed_score(row.get("sample_time_ms")))
