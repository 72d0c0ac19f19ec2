"""The run folder written by ``visgen train`` and read by ``visgen sample``.

    config.json    model, dataset, params, seed, device, visgen version
    metrics.csv    step, wall_time, then one column per scalar the model streams
    checkpoint.pt  see ``visgen.core.checkpoint``
    samples.png    a grid of samples (images) or samples over the data (points)
    summary.json   final scalars, sampling time per sample, model extras
"""
from __future__ import annotations

import csv
import json
import os
import math
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import VisgenError
from .imaging import chw_to_hwc, scatter_image, tile, write_png

CONFIG, METRICS, CHECKPOINT, SAMPLES, SUMMARY = (
    "config.json", "metrics.csv", "checkpoint.pt", "samples.png", "summary.json")


class MetricsWriter:
    """Streams rows to ``metrics.csv``; the columns are fixed by the model's declared
    scalars plus those of the first step (a later, new scalar is not written)."""

    def __init__(self, path: Path, declared=()):
        self._file = open(path, "w", newline="")
        self._declared = list(dict.fromkeys(declared))
        self._writer: Optional[csv.DictWriter] = None

    def write(self, step: int, wall_time: float, scalars: dict) -> None:
        if self._writer is None:
            names = self._declared + [k for k in scalars if k not in self._declared]
            self._writer = csv.DictWriter(self._file, ["step", "wall_time", *names], extrasaction="ignore")
            self._writer.writeheader()
        self._writer.writerow({"step": step, "wall_time": f"{wall_time:.4f}",
                               **{k: f"{v:.6g}" for k, v in scalars.items()}})

    def close(self) -> None:
        self._file.close()


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` whole or not at all: a process killed mid-write leaves the old file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def read_config(run_dir) -> dict:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise VisgenError(f"{run_dir}: not a visgen run folder (no {CONFIG})")
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise VisgenError(f"{path}: not valid JSON ({exc})") from None


def final_scalars(series: dict, last: int = 50, sparse=()) -> dict:
    """Mean of the last ``last`` recorded values of each per-step scalar (less noisy than one
    step). ``sparse`` metrics (measured now and then) are left out: the final evaluation
    measures them once, and a summary holds one value per metric."""
    out = {}
    for name, (_, values) in series.items():
        if name in sparse:
            continue
        v = values[-last:]
        v = v[np.isfinite(v)]
        out[name] = float(v.mean()) if len(v) else math.nan
    return out


def save_samples_png(path, samples: np.ndarray, dataset=None, nrow: Optional[int] = None) -> None:
    """Images: a tiled grid. Points: the samples (red) over up to 5,000 data points (grey)."""
    samples = np.asarray(samples)
    if samples.ndim == 4:
        imgs = chw_to_hwc(samples)
        h = imgs.shape[1]
        write_png(path, tile(imgs, nrow=nrow), scale=max(1, 128 // h))
    elif samples.ndim == 2 and samples.shape[1] == 2:
        layers = []
        if dataset is not None and dataset.kind == "points":
            layers.append((dataset.x[:5000], (170, 170, 170), None))
        layers.append((samples, (214, 39, 40), None))
        write_png(path, scatter_image(layers, size=512))
    else:
        raise ValueError(f"cannot draw samples of shape {samples.shape}")


def save_samples_csv(path, samples: np.ndarray) -> None:
    np.savetxt(path, np.asarray(samples).reshape(len(samples), -1), delimiter=",", fmt="%.6g",
               header="x,y", comments="")
