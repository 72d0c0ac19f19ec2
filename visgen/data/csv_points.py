"""2D points from a CSV file: ``x,y`` or ``x,y,label`` per line.

An optional header line is recognised by its x or y field not being a number.
Blank lines and lines starting with ``#`` are skipped. Labels may be integers
or class names; either way they are mapped, in sorted order, to 0..K-1 and
the original values kept as ``class_names``. Every error names the file and
the line, e.g. ``points.csv line 7: 'abc' is not a number``. A UTF-8 byte-order
mark is ignored. See ``MAX_CSV_POINTS`` and ``MAX_CSV_BYTES`` for the limits.
"""
from __future__ import annotations

import csv
import math
import os
from array import array
from pathlib import Path

import numpy as np

from ..core.errors import DataError
from .read_errors import read_errors
from ..core.dataset import Dataset, check_values


MAX_CSV_POINTS = 5_000_000
"""Most points a CSV may hold. Five million points are 40 MB as float32 and far more than
training ever samples (the toy sets have 20000); counted while reading, so a runaway export
is refused at its 5,000,001st point, not after it has filled the memory."""

MAX_CSV_BYTES = 256 << 20
"""Largest CSV, 256 MiB: five million lines of up to ~50 characters. Checked from the file's
size before reading and again while reading (pipes and devices have no size), a line at a
time, so an endless or newline-free file is never read whole."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)  # 3.4e38: beyond it a value becomes inf in float32


def _number(text: str):
    """``float(text)``, or None if it is not a number at all (then a line may be a header)."""
    try:
        return float(text)
    except ValueError:
        return None


def _value(text: str, path: Path, line: int) -> float:
    """The coordinate in ``text``; refuses text, NaN, infinities and values float32 cannot hold."""
    v = _number(text)
    if v is None:
        raise DataError(f"{path} line {line}: {text!r} is not a number")
    if not abs(v) <= _FLOAT32_MAX:  # also true for NaN
        why = "is not a finite number" if not math.isfinite(v) else "is too large (float32 holds up to 3.4e38)"
        raise DataError(f"{path} line {line}: {text!r} {why}")
    return v


def _lines(f, path: Path):
    """The lines of ``f``, refusing once more than ``MAX_CSV_BYTES`` characters have been read."""
    left = MAX_CSV_BYTES
    while line := f.readline(left + 1):  # never more than the limit in one read
        left -= len(line)
        if left < 0:
            raise DataError(f"{path}: larger than the {MAX_CSV_BYTES / 2**20:g} MiB limit for a CSV file")
        yield line


def _rows(path: Path):
    """(line number, stripped fields) for every non-blank, non-comment line, read lazily."""
    with read_errors(path, "a CSV file"), open(path, newline="", encoding="utf-8-sig") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_CSV_BYTES:
            raise DataError(f"{path}: {size / 2**20:.0f} MiB, over the {MAX_CSV_BYTES / 2**20:g} MiB "
                            "limit for a CSV file")
        # strict: an unterminated quote is an error, not a field swallowing the rest of the file
        reader = csv.reader(_lines(f, path), strict=True)
        while True:
            start = reader.line_num + 1  # where the next record begins
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise DataError(f"{path} line {start}: unterminated quote: a \" there is never "
                                    "closed") from None
                raise DataError(f"{path} line {reader.line_num}: {exc}") from None
            fields = [c.strip() for c in row]
            if any(fields) and not fields[0].startswith("#"):
                # line_num counts physical lines, so quoted newlines keep numbers right.
                yield reader.line_num, fields


def load_csv_points(path=None) -> Dataset:
    """Read a CSV of 2D points (2 columns x,y or 3 columns x,y,label).

    Raises ``DataError`` naming the file and line on anything else: text, NaN,
    infinities or values beyond float32 where numbers belong, a wrong number of
    columns, an unterminated quote, more than ``MAX_CSV_POINTS`` points or
    ``MAX_CSV_BYTES`` bytes, and points that are all one value.
    """
    if not path:
        raise DataError("csv: needs a path to a CSV file")
    path = Path(path)
    xs = array("d")                 # 8 bytes a value: millions of rows fit where lists of str would not
    codes = array("q")              # label index in order of first appearance
    seen: dict = {}                 # label text -> that index
    ncol = header = None
    for line, fields in _rows(path):
        if ncol is None:  # the first line fixes the columns; it is a header if x or y is not a number
            ncol = len(fields)
            if ncol not in (2, 3):
                raise DataError(f"{path} line {line}: expected 2 columns (x,y) or 3 (x,y,label), "
                                f"got {ncol}")
            if _number(fields[0]) is None or _number(fields[1]) is None:
                header = line
                continue
        if len(fields) != ncol:
            raise DataError(f"{path} line {line}: expected {ncol} columns, got {len(fields)}")
        if len(xs) >= 2 * MAX_CSV_POINTS:
            raise DataError(f"{path} line {line}: more than {MAX_CSV_POINTS:,} points, the limit for a CSV")
        xs.append(_value(fields[0], path, line))
        xs.append(_value(fields[1], path, line))
        if ncol == 3:
            if not fields[2]:
                raise DataError(f"{path} line {line}: empty label")
            codes.append(seen.setdefault(fields[2], len(seen)))
    if not xs:
        raise DataError(f"{path}: only a header line, no points" if header
                        else f"{path}: empty file, expected lines of x,y or x,y,label")
    x = np.frombuffer(xs, dtype=np.float64).reshape(-1, 2)
    check_values(x, str(path), "points")
    labels = class_names = None
    if seen:
        labels, class_names = _encode_labels(list(seen), np.frombuffer(codes, dtype=np.int64))
    return Dataset(name="csv", kind="points", x=x, labels=labels, class_names=class_names,
                   source=str(path))


def _encode_labels(distinct: list, codes: np.ndarray) -> tuple:
    """Map labels to 0..K-1: integers in numeric order, names in sorted order.

    ``distinct`` holds each label text once; ``codes`` index it, one per point.
    """
    try:
        keys = [int(s) for s in distinct]  # "5" and "05" are the same class
        order = sorted(set(keys))
        names = [str(k) for k in order]
    except ValueError:
        keys = distinct
        order = names = sorted(distinct)
    rank = {k: i for i, k in enumerate(order)}
    lut = np.array([rank[k] for k in keys], dtype=np.int64)
    return lut[codes], names
