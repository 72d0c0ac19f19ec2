"""A folder of images read with Pillow.

Layouts:
  * ``folder/<class>/*.png``: one sub-folder per class, labels in sorted
    sub-folder name order (files directly in ``folder`` are then ignored);
  * ``folder/*.png``: a flat folder, unlabelled.

Hidden files and files without an image extension (``IMAGE_EXTENSIONS``) are
skipped, so notes or thumbnails databases do no harm; a file with an image
extension that Pillow cannot read or open (corrupt, truncated, permission
denied) is refused, naming it, rather than silently left out. All images must
have the same size, at most ``MAX_IMAGE_SIDE`` pixels a side, and together fit
in ``MAX_DATA_BYTES`` as float32 (counted as RGB); sizes are read from the
headers before any pixels are decoded. A set whose every pixel has the same
value (blank images) is refused. The result is greyscale (C=1) when every
image is grey (R == G == B, whatever its mode), else RGB (C=3); alpha is dropped.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from ..core.errors import DataError
from ..core.dataset import MAX_DATA_BYTES, Dataset, check_values

MAX_IMAGE_SIDE = 256
"""Widest and tallest image accepted, in pixels. The models are small MLPs and conv nets
trained live on a CPU: a 256x256 RGB image is already 196608 values per sample, and a
dense layer of 256 units on it needs 200 MB (with Adam, 800 MB). Two 1024x1024 photographs
once grew the process to 22.9 GB; the built-in sets are 8x8 to 28x28."""

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                    ".ppm", ".pgm", ".pbm", ".pnm"}


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


def _images_in(folder: Path) -> list:
    return sorted(p for p in folder.iterdir()
                  if _visible(p) and p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def scan_image_folder(folder) -> tuple:
    """``(files, labels, class_names)`` for ``folder``; labels/class_names are None if flat.

    Raises ``DataError`` if the folder is missing or holds no images.
    """
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise DataError(f"{folder}: folder not found")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    try:
        subdirs = sorted(p for p in folder.iterdir() if _visible(p) and p.is_dir())
        per_class = [(d.name, _images_in(d)) for d in subdirs]
        per_class = [(name, files) for name, files in per_class if files]
        if per_class:
            files = [f for _, fs in per_class for f in fs]
            labels = np.concatenate([np.full(len(fs), i) for i, (_, fs) in enumerate(per_class)])
            return files, labels, [name for name, _ in per_class]
        files = _images_in(folder)
    except OSError as exc:
        raise DataError(f"{exc.filename or folder}: cannot list ({exc.strerror or exc})") from None
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) "
                        "in it or in its sub-folders")
    return files, None, None


def _open(f: Path, Image):
    """``Image.open(f)``: only the header is read; every failure is a one-line ``DataError``."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; a warning would be a second line.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(f)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{f}: refused as a decompression bomb ({' '.join(str(exc).split())}); "
                        f"images may be at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} pixels") from None
    except Image.UnidentifiedImageError:
        raise DataError(f"{f}: not an image Pillow can read") from None
    except OSError as exc:
        raise DataError(f"{f}: cannot read ({exc.strerror or ' '.join(str(exc).split())})") from None


def _pixels(im, f: Path) -> np.ndarray:
    """Decode ``im`` as (H, W, 3) uint8."""
    try:
        return np.asarray(im.convert("RGB"))
    except Exception as exc:  # Pillow raises many types for corrupt or truncated files
        why = " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"{f}: cannot read image ({why})") from None


def load_image_folder(path=None, limit: Optional[int] = None) -> Dataset:
    """Load every image under ``path`` as (N, C, H, W) float32 in [0, 1].

    ``limit`` keeps the first ``limit`` files in sorted order (class by class).
    Each image's size is read from its header and checked against
    ``MAX_IMAGE_SIDE``, and the whole set against ``MAX_DATA_BYTES``, before any
    pixels are decoded. Raises ``DataError`` naming the file (or the folder for
    the whole set) on every problem listed in the module docstring.
    """
    if not path:
        raise DataError("image-folder: needs a path to a folder of images")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise DataError(f"image-folder: limit must be a positive integer, got {limit!r}")
    # Pillow is only needed here; keep it off the import path of visgen.data.
    from PIL import Image

    folder = Path(path).expanduser()
    files, labels, class_names = scan_image_folder(folder)
    if limit is not None:
        files = files[:limit]
        labels = None if labels is None else labels[:limit]
    rgb = None  # (N, H, W, 3) uint8, allocated once the first header gives the size
    all_grey = True
    for i, f in enumerate(files):
        with _open(f, Image) as im:
            w, h = im.size
            if w > MAX_IMAGE_SIDE or h > MAX_IMAGE_SIDE:
                raise DataError(f"{f}: {w}x{h} pixels, over the limit of {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}; "
                                "scale the images down first")
            if rgb is None:
                need = len(files) * 3 * h * w * 4
                if need > MAX_DATA_BYTES:
                    raise DataError(f"{folder}: {len(files)} images of {w}x{h} need {need / 2**30:.1f} GiB "
                                    f"as float32, over the {MAX_DATA_BYTES / 2**30:g} GiB limit; "
                                    "use fewer or smaller images")
                rgb = np.empty((len(files), h, w, 3), dtype=np.uint8)
            elif (w, h) != (rgb.shape[2], rgb.shape[1]):
                raise DataError(f"{f}: size {w}x{h} differs from {rgb.shape[2]}x{rgb.shape[1]} "
                                f"of {files[0].name}; all images must be the same size")
            rgb[i] = _pixels(im, f)
        all_grey = all_grey and bool((rgb[i, ..., 0] == rgb[i, ..., 1]).all() and
                                     (rgb[i, ..., 1] == rgb[i, ..., 2]).all())
    check_values(rgb, str(folder), "images")  # all-blank images would train into NaN
    x = rgb[..., :1] if all_grey else rgb
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)  # one copy
    x /= 255.0
    return Dataset(name="image-folder", kind="images", x=x, labels=labels,
                   class_names=class_names, source=str(folder))
