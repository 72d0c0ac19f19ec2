"""Qt-free image helpers: tile a batch into one picture, rasterise 2D points, write PNG.

The CLI writes ``samples.png`` with these, so headless runs need neither Qt nor
an imaging library.
"""
from __future__ import annotations

import math
import struct
import zlib
from typing import Optional, Sequence

import numpy as np

# Tableau-like palette, readable on white and on dark backgrounds.
PALETTE = np.array([
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (199, 199, 199), (219, 219, 141), (158, 218, 229),
], dtype=np.uint8)


def class_color(i: int) -> tuple:
    """RGB colour of class ``i`` (cycles through the palette)."""
    return tuple(int(c) for c in PALETTE[int(i) % len(PALETTE)])


def tile(images: np.ndarray, nrow: Optional[int] = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile (N, H, W) or (N, H, W, 3) images into one (H', W'[, 3]) image.

    ``nrow`` is the number of images per row; default about square.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise ValueError(f"tile wants (N,H,W) or (N,H,W,3), got {images.shape}")
    n, h, w = images.shape[:3]
    ncol = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / ncol))
    shape = (rows * (h + pad) + pad, ncol * (w + pad) + pad) + images.shape[3:]
    out = np.full(shape, pad_value, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        out[y:y + h, x:x + w] = images[i]
    return out


def chw_to_hwc(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, H, W) for one channel, (N, H, W, 3) for three."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W), got {x.shape}")
    return x[:, 0] if x.shape[1] == 1 else np.moveaxis(x, 1, -1)


def scatter_image(layers: Sequence[tuple], size: int = 512, bounds: Optional[tuple] = None,
                  radius: int = 2) -> np.ndarray:
    """Rasterise point layers ``(xy (N,2), rgb or None, labels or None)`` to an RGB uint8 image.

    Later layers are drawn on top; points with labels take their class colour.
    """
    allxy = np.concatenate([np.asarray(l[0], np.float32).reshape(-1, 2) for l in layers]) if layers else np.zeros((0, 2))
    if bounds is None:
        if len(allxy):
            lo, hi = np.percentile(allxy, 0.5, axis=0), np.percentile(allxy, 99.5, axis=0)
        else:
            lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
        span = max(float((hi - lo).max()), 1e-6) * 1.1
        mid = (lo + hi) / 2
        bounds = (mid[0] - span / 2, mid[0] + span / 2, mid[1] - span / 2, mid[1] + span / 2)
    xmin, xmax, ymin, ymax = bounds
    img = np.full((size, size, 3), 255, dtype=np.uint8)
    offs = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)
            if dx * dx + dy * dy <= radius * radius]
    for xy, rgb, labels in layers:
        xy = np.asarray(xy, np.float32).reshape(-1, 2)
        px = ((xy[:, 0] - xmin) / (xmax - xmin) * (size - 1)).round().astype(int)
        py = ((ymax - xy[:, 1]) / (ymax - ymin) * (size - 1)).round().astype(int)
        colors = (PALETTE[np.asarray(labels) % len(PALETTE)] if labels is not None
                  else np.tile(np.array(rgb or (0, 0, 0), np.uint8)[:3], (len(xy), 1)))
        for dy, dx in offs:
            yy, xx = py + dy, px + dx
            ok = (yy >= 0) & (yy < size) & (xx >= 0) & (xx < size)
            img[yy[ok], xx[ok]] = colors[ok]
    return img


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] to uint8; uint8 passes through."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def write_png(path, image: np.ndarray, scale: int = 1) -> None:
    """Write an (H, W) grey or (H, W, 3) RGB image (uint8, or float in [0, 1]) as PNG."""
    img = to_uint8(image)
    if scale > 1:
        img = img.repeat(scale, axis=0).repeat(scale, axis=1)
    if img.ndim == 2:
        color_type = 0
    elif img.ndim == 3 and img.shape[2] == 3:
        color_type = 2
    else:
        raise ValueError(f"write_png wants (H,W) or (H,W,3), got {img.shape}")
    h, w = img.shape[:2]
    raw = b"".join(b"\x00" + np.ascontiguousarray(img[y]).tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)

