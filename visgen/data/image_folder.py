"""A folder of images read with Pillow.

Layouts:
  * ``folder/<class>/*.png``: one sub-folder per class, labels in sorted
    sub-folder name order (files directly in ``folder`` are then ignored);
  * ``folder/*.png``: a flat folder, unlabelled.

Hidden files and files without an image extension are skipped. All images
must have the same size. The result is greyscale (C=1) when every image is
grey (R == G == B, whatever its mode), else RGB (C=3); alpha is dropped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..core.errors import DataError
from ..core.dataset import Dataset

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
        raise DataError(f"{folder}: cannot list ({exc.strerror or exc})") from None
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) "
                        "in it or in its sub-folders")
    return files, None, None


def load_image_folder(path=None, limit: Optional[int] = None) -> Dataset:
    """Load every image under ``path`` as (N, C, H, W) float32 in [0, 1].

    ``limit`` keeps the first ``limit`` files in sorted order (class by class).
    """
    if not path:
        raise DataError("image-folder: needs a path to a folder of images")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise DataError(f"image-folder: limit must be a positive integer, got {limit!r}")
    # Pillow is only needed here; keep it off the import path of visgen.data.
    from PIL import Image

    files, labels, class_names = scan_image_folder(path)
    if limit is not None:
        files = files[:limit]
        labels = None if labels is None else labels[:limit]
    arrays, all_grey, size0 = [], True, None
    for f in files:
        try:
            with Image.open(f) as im:
                rgb = np.asarray(im.convert("RGB"))
        except Image.UnidentifiedImageError:
            raise DataError(f"{f}: not an image Pillow can read") from None
        except Exception as exc:  # Pillow raises many types for corrupt or truncated files
            why = " ".join(str(exc).split()) or type(exc).__name__
            raise DataError(f"{f}: cannot read image ({why})") from None
        size = (rgb.shape[1], rgb.shape[0])
        if size0 is None:
            size0 = size
        elif size != size0:
            raise DataError(f"{f}: size {size[0]}x{size[1]} differs from {size0[0]}x{size0[1]} "
                            f"of {files[0].name}; all images must be the same size")
        all_grey = all_grey and bool((rgb[..., 0] == rgb[..., 1]).all() and
                                     (rgb[..., 1] == rgb[..., 2]).all())
        arrays.append(rgb)
    x = np.stack(arrays)  # (N, H, W, 3) uint8
    x = x[..., :1] if all_grey else x
    x = x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return Dataset(name="image-folder", kind="images", x=x, labels=labels,
                   class_names=class_names, source=str(Path(path).expanduser()))
