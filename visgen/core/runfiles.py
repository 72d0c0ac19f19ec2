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
    scalars plus those of the first step (a later, new scalar is not written). ``declared``
    may be a callable, asked at the first step (when the trainer exists): a column of a
    metric the model turns out not to have is then left out, not written empty."""

    def __init__(self, path: Path, declared=()):
        self._file = open(path, "w", newline="")
        self._declared = declared
        self._writer: Optional[csv.DictWriter] = None

    def write(self, step: int, wall_time: float, scalars: dict) -> None:
        if self._writer is None:
            declared = list(dict.fromkeys(self._declared() if callable(self._declared) else self._declared))
            names = declared + [k for k in scalars if k not in declared]
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
    try:
        tmp.write_text(json.dumps(data, indent=2, default=jsonable) + "\n")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a file beside the whole one
        raise


def jsonable(o):
    """``json.dumps``' ``default``: numpy numbers and arrays as Python ones, anything else as text."""
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


#: Largest config.json read: visgen writes about 400 bytes, so anything near this is not a
#: run's config, and reading it whole must not take the memory.
MAX_CONFIG_BYTES = 1 << 20

#: Seeds are 0 .. 2**63 - 1: a signed 64-bit integer, which torch's generators take and JSON
#: readers in other languages keep exactly; one range, so each seed names one random stream.
MAX_SEED = 2**63 - 1

#: Largest step count a checkpoint may claim (a signed 64-bit integer, like seeds): a count
#: beyond it is not one a run reached, and arithmetic on it could overflow.
MAX_STEP = 2**63 - 1


def read_config(run_dir) -> dict:
    """Read a run folder's ``config.json`` and check every field (``check_config``) before
    anything is built from it; raise VisgenError with one line naming the file."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise VisgenError(f"{run_dir}: not a visgen run folder (no {CONFIG})")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise VisgenError(f"{path}: {path.stat().st_size:,} bytes, too large for a run's config "
                              f"(at most {MAX_CONFIG_BYTES:,})")
        config = json.loads(path.read_bytes())
    except OSError as exc:
        raise VisgenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except RecursionError:  # "[[[[...": valid JSON nested deeper than Python recurses
        raise VisgenError(f"{path}: not a run's config (JSON nested too deeply)") from None
    except ValueError as exc:  # invalid JSON, or bytes that are not UTF-8
        raise VisgenError(f"{path}: not valid JSON ({_first_line(exc)})") from None
    check_config(path, config)
    return config


#: Largest summary.json or metrics.csv ``visgen eval`` reads: a summary is a few kB, and a
#: metrics.csv of a million steps with ten scalars is about 100 MB.
MAX_SUMMARY_BYTES = 1 << 20
MAX_METRICS_BYTES = 256 << 20


def read_summary(run_dir) -> dict:
    """A run folder's ``summary.json`` as a dict ({} when there is none: a run saved before it
    was written); VisgenError with one line naming the file when it is not a JSON object."""
    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_SUMMARY_BYTES:
            raise VisgenError(f"{path}: {path.stat().st_size:,} bytes, too large for a run's summary")
        summary = json.loads(path.read_bytes())
    except OSError as exc:
        raise VisgenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except RecursionError:
        raise VisgenError(f"{path}: not a run's summary (JSON nested too deeply)") from None
    except ValueError as exc:
        raise VisgenError(f"{path}: not valid JSON ({_first_line(exc)})") from None
    if not isinstance(summary, dict):
        raise VisgenError(f"{path}: holds {json_type(summary)}, not a JSON object")
    return summary


def read_metrics(run_dir) -> dict:
    """A run folder's ``metrics.csv`` as ``{column: float array}`` (empty cells - metrics
    measured every few hundred steps - are NaN; {} when there is no file). VisgenError with
    one line naming the file when it is not a table of numbers."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_METRICS_BYTES:
            raise VisgenError(f"{path}: {path.stat().st_size:,} bytes, more than the "
                              f"{MAX_METRICS_BYTES:,} a run's metrics may take")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise VisgenError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise VisgenError(f"{path}: not a CSV table ({_first_line(exc)})") from None
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    try:
        values = np.array([[float(v) if v else math.nan for v in r] for r in body], dtype=np.float64)
    except ValueError as exc:
        raise VisgenError(f"{path}: not a table of numbers ({_first_line(exc)})") from None
    if body and values.shape != (len(body), len(header)):
        raise VisgenError(f"{path}: rows of {values.shape[1] if values.ndim == 2 else '?'} cells under "
                          f"a header of {len(header)}")
    return {name: values[:, i] if body else np.zeros(0) for i, name in enumerate(header)}


def check_config(path, config) -> None:
    """Check the fields of a parsed ``config.json`` (at ``path``, for the message): types and
    ranges only; model, dataset and parameter names are checked against the registry by
    ``visgen.composition.load_run``."""
    if not isinstance(config, dict):
        raise VisgenError(f"{path}: holds {json_type(config)}, not a JSON object of run settings")
    for key in ("model", "dataset"):
        require(path, config, key, str)
    require(path, config, "params", dict)
    require(path, config, "data_path", (str, type(None)), optional=True)
    require(path, config, "device", str, optional=True)
    # Runs trained before seeds were checked may hold a negative one; loading ignores it.
    check_int(path, config, "seed", -2**63, MAX_SEED, optional=True)
    check_int(path, config, "steps", 0, MAX_STEP, optional=True)


def require(path, blob: dict, key: str, types, optional: bool = False, error=VisgenError):
    """``blob[key]`` if it is one of ``types``; ``error`` (a VisgenError) naming ``path`` and
    ``key`` if it is missing (unless ``optional``) or of another type. A bool is never taken
    for a number."""
    if key not in blob:
        if optional:
            return None
        raise error(f"{path}: no {key!r} field")
    value = blob[key]
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        want = " or ".join(json_type(t) for t in types)
        raise error(f"{path}: {key!r} must be {want}, got {_got(value)}")
    return value


def check_int(path, blob: dict, key: str, lo: int, hi: int, optional: bool = False, error=VisgenError):
    """``blob[key]`` if it is an integer in [lo, hi] (JSON's 3.0 counts as 3), else ``error``
    naming ``path`` and ``key``."""
    if key not in blob:
        return require(path, blob, key, int, optional, error)  # None, or "no 'key' field"
    value = blob[key]
    whole = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())
    if not whole or not lo <= value <= hi:
        raise error(f"{path}: {key!r} must be an integer in [{_bound(lo)}, {_bound(hi)}], "
                    f"got {_got(value)}")
    return int(value)


def _bound(n: int) -> str:
    return {2**63 - 1: "2**63 - 1", -2**63: "-2**63"}.get(n, str(n))


_JSON_NAMES = {dict: "an object", list: "a list", str: "text", int: "an integer", float: "a number",
               bool: "true or false", type(None): "null"}


def json_type(value_or_type) -> str:
    """How JSON calls a value's type ("an object", "a list", "text", ...), for messages."""
    t = value_or_type if isinstance(value_or_type, type) else type(value_or_type)
    return _JSON_NAMES.get(t, t.__name__)


def _got(value) -> str:
    """A found value for a one-line message: its JSON type and repr, cut to 60 characters."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    text = repr(value)
    return f"{json_type(value)} {text if len(text) <= 60 else text[:57] + '...'}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


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
