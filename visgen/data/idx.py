"""Strict reader for IDX files (the MNIST / Fashion-MNIST format), plain or gzipped.

An IDX file is: two zero bytes, a dtype byte (0x08 = unsigned byte, the only
one used by MNIST-style sets), the number of dimensions, each dimension as a
big-endian uint32, then the data. Images (``idx3``) have magic 0x00000803,
labels (``idx1``) 0x00000801. A file that is not exactly as long as its header
says is refused: a truncated download must not train silently on zeros. So is
a header with a dimension of 0 or promising more than ``MAX_IDX_VALUES`` bytes,
before any data is read, and images that are all one value (blank).
"""
from __future__ import annotations

import gzip
import math
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..core.errors import DataError
from ..core.dataset import MAX_DATA_BYTES, Dataset, check_values
from .read_errors import read_errors

MAX_IDX_VALUES = MAX_DATA_BYTES // 4
"""Most values (bytes) one IDX file may hold: each becomes a 4-byte float32, so this is the
shared 1 GiB data limit (MNIST's training images are 47 million). Checked against the header,
before any data is read, so a crafted header or a gzip bomb is refused in microseconds."""

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist/"
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_ENV = "VISGEN_MNIST_DIR"

# Base names of the standard files; some mirrors use a dot before "idx".
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _open(path: Path):
    # gzip.open streams: nothing is decompressed before it is asked for
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def read_idx(path, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes whose magic number must be ``magic``.

    Returns a uint8 array shaped by the header. Raises ``DataError`` naming the
    file on a wrong magic number, dtype or number of dimensions, a dimension of
    0, a header promising more than ``MAX_IDX_VALUES`` values, or data shorter
    or longer than the header says. The file is streamed: at most the promised
    size plus one byte is ever decompressed, so a gzip bomb costs nothing.
    """
    path = Path(path)
    with read_errors(path, "an IDX file"), _open(path) as f:
        return _read_stream(f, path, magic)


def _read_stream(f, path: Path, magic: int) -> np.ndarray:
    head = f.read(4)
    if len(head) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(head)} bytes)")
    if head[:2] != b"\0\0":
        raise DataError(f"{path}: not an IDX file (bad magic number 0x{head.hex()})")
    if head[2] != 0x08:
        raise DataError(f"{path}: element type 0x{head[2]:02x} is not unsigned byte (0x08)")
    got = int.from_bytes(head, "big")
    if got != magic:
        kind = "idx3 images" if magic == IMAGES_MAGIC else "idx1 labels"
        raise DataError(f"{path}: bad magic number 0x{got:08x}: {head[3]} dimensions, expected "
                        f"{magic & 0xFF} ({kind}, 0x{magic:08x})")
    ndim = head[3]
    raw = f.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path}: truncated header ({4 + len(raw)} bytes, need {4 + 4 * ndim})")
    dims = tuple(int.from_bytes(raw[4 * i: 4 * i + 4], "big") for i in range(ndim))
    shape = "x".join(map(str, dims))
    if 0 in dims:
        raise DataError(f"{path}: header shape {shape} has a dimension of 0: nothing to train on")
    size = math.prod(dims)  # Python ints: no overflow on a garbage header
    if size > MAX_IDX_VALUES:
        raise DataError(f"{path}: header shape {shape} promises {size:,} values, over the limit of "
                        f"{MAX_IDX_VALUES:,} ({MAX_DATA_BYTES / 2**30:g} GiB as float32)")
    data = f.read(size)  # reads only what the header promises, never the whole stream
    if len(data) < size:
        raise DataError(f"{path}: truncated: {len(data):,} bytes of data, header {shape} implies "
                        f"{size:,}")
    if f.read(1):
        raise DataError(f"{path}: too long: more than the {size:,} bytes of data header {shape} implies")
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def read_idx_images(path) -> np.ndarray:
    """Read an ``idx3-ubyte`` image file as a (N, H, W) uint8 array."""
    return read_idx(path, IMAGES_MAGIC)  # the magic fixes ndim at 3


def read_idx_labels(path) -> np.ndarray:
    """Read an ``idx1-ubyte`` label file as a (N,) uint8 array."""
    return read_idx(path, LABELS_MAGIC)  # the magic fixes ndim at 1


def find_idx_file(folder, base: str) -> Optional[Path]:
    """The file for ``base`` in ``folder``: plain, ``.gz``, or with a dot before ``idx``."""
    folder = Path(folder)
    dotted = base.replace("-idx", ".idx")
    for name in (base, base + ".gz", dotted, dotted + ".gz"):
        p = folder / name
        if p.is_file():
            return p
    return None


def idx_folder_status(folder) -> tuple:
    """``(True, "")`` if ``folder`` holds the four standard IDX files, else ``(False, why)``."""
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        return False, f"folder {folder} not found"
    missing = [b for pair in _FILES.values() for b in pair if find_idx_file(folder, b) is None]
    if len(missing) == 4:
        return False, f"no IDX files in {folder}"
    if missing:
        return False, f"{folder} lacks {', '.join(missing)}"
    return True, ""


def load_idx_folder(folder, split: str = "train", limit: Optional[int] = None, name: str = "idx",
                    class_names: Optional[Sequence[str]] = None) -> Dataset:
    """Load one split of an MNIST-style folder as (N, 1, H, W) float32 in [0, 1].

    ``split`` is ``"train"`` or ``"test"`` (the ``t10k`` files); ``limit`` keeps
    the first ``limit`` samples. Without ``class_names`` the labels are named
    "0".."K-1".
    """
    if split not in _FILES:
        raise DataError(f"{name}: split must be 'train' or 'test', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise DataError(f"{name}: limit must be a positive integer, got {limit!r}")
    folder = Path(os.path.expanduser(str(folder)))
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found" if not folder.exists()
                        else f"{folder}: not a folder")
    paths = []
    for base in _FILES[split]:
        p = find_idx_file(folder, base)
        if p is None:
            raise DataError(f"{folder}: no {base} (or {base}.gz)")
        paths.append(p)
    images = read_idx_images(paths[0])
    labels = read_idx_labels(paths[1])
    if len(images) != len(labels):
        raise DataError(f"{paths[1]}: {len(labels)} labels for {len(images)} images in {paths[0].name}")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    check_values(images, str(paths[0]), "images")  # all-blank images would train into NaN
    k = len(class_names) if class_names else int(labels.max(initial=0)) + 1
    if len(labels) and int(labels.max()) >= k:
        raise DataError(f"{paths[1]}: label {int(labels.max())} out of range for {k} classes")
    names = list(class_names) if class_names else [str(i) for i in range(k)]
    x = images[:, None].astype(np.float32)
    x /= 255.0  # in place: one float32 copy of the data, not two
    return Dataset(name=name, kind="images", x=x, labels=labels, class_names=names,
                   source=str(folder))


def mnist_dir() -> str:
    """The MNIST folder: ``$VISGEN_MNIST_DIR`` or ``~/.visgen/data/mnist``."""
    return os.environ.get(MNIST_ENV) or os.path.expanduser("~/.visgen/data/mnist")


def load_fashion_mnist(path=None, split: str = "train", limit: Optional[int] = None) -> Dataset:
    """Fashion-MNIST (28x28 greyscale, 10 clothing classes) from ``path`` or the Debian package folder."""
    return load_idx_folder(path or FASHION_MNIST_DIR, split, limit, "fashion-mnist",
                           FASHION_MNIST_CLASSES)


def load_mnist(path=None, split: str = "train", limit: Optional[int] = None) -> Dataset:
    """MNIST digits (28x28 greyscale) from ``path``, ``$VISGEN_MNIST_DIR`` or ``~/.visgen/data/mnist``."""
    return load_idx_folder(path or mnist_dir(), split, limit, "mnist", [str(d) for d in range(10)])
