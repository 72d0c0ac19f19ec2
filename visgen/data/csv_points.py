"""2D points from a CSV file: ``x,y`` or ``x,y,label`` per line.

An optional header line is recognised by its x or y field not being a number.
Blank lines and lines starting with ``#`` are skipped. Labels may be integers
or class names; either way they are mapped, in sorted order, to 0..K-1 and
the original values kept as ``class_names``. Every error names the file and
the line, e.g. ``points.csv line 7: 'abc' is not a number``.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from ..core.dataset import Dataset


def _number(text: str):
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _read_rows(path: Path) -> list:
    """(line number, stripped fields) for every non-blank, non-comment line."""
    rows = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            for row in reader:
                fields = [c.strip() for c in row]
                if not any(fields) or fields[0].startswith("#"):
                    continue
                # line_num counts physical lines, so quoted newlines keep numbers right.
                rows.append((reader.line_num, fields))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a CSV file") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as exc:
        raise DataError(f"{path} line {reader.line_num}: {exc}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return rows


def load_csv_points(path=None) -> Dataset:
    """Read a CSV of 2D points (2 columns x,y or 3 columns x,y,label)."""
    if not path:
        raise DataError("csv: needs a path to a CSV file")
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise DataError(f"{path}: empty file, expected lines of x,y or x,y,label")
    first_line, first = rows[0]
    if len(first) < 2 or _number(first[0]) is None or _number(first[1]) is None:
        rows = rows[1:]  # a header line
        if not rows:
            raise DataError(f"{path}: only a header line, no points")
    ncol = len(first)
    if ncol not in (2, 3):
        raise DataError(f"{path} line {first_line}: expected 2 columns (x,y) or 3 (x,y,label), "
                        f"got {ncol}")
    xs = np.empty((len(rows), 2), dtype=np.float64)
    raw_labels = []
    for i, (line, fields) in enumerate(rows):
        if len(fields) != ncol:
            raise DataError(f"{path} line {line}: expected {ncol} columns, got {len(fields)}")
        for j in (0, 1):
            v = _number(fields[j])
            if v is None:
                raise DataError(f"{path} line {line}: {fields[j]!r} is not a number")
            xs[i, j] = v
        if ncol == 3:
            if not fields[2]:
                raise DataError(f"{path} line {line}: empty label")
            raw_labels.append(fields[2])
    labels = class_names = None
    if raw_labels:
        labels, class_names = _encode_labels(raw_labels)
    return Dataset(name="csv", kind="points", x=xs, labels=labels, class_names=class_names,
                   source=str(path))


def _encode_labels(raw: list) -> tuple:
    """Map label strings to 0..K-1: integers in numeric order, names in sorted order."""
    try:
        keys = [int(s) for s in raw]
        order = sorted(set(keys))
        names = [str(k) for k in order]
    except ValueError:
        keys = raw
        order = names = sorted(set(raw))
    index = {k: i for i, k in enumerate(order)}
    return np.array([index[k] for k in keys], dtype=np.int64), names
