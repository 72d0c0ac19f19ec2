"""visgen's own datasets, registered through the plugin hook like any other.

Loaders are ``"module:attr"`` strings so listing datasets imports neither
sklearn nor Pillow; ``available`` only looks at the file system.
"""
from __future__ import annotations

import os

from ..core.hookspecs import hookimpl
from ..core.spec import DatasetSpec
from .idx import FASHION_MNIST_DIR, MNIST_ENV, idx_folder_status, mnist_dir

_PKG = "visgen.data"

_TOYS = (
    ("ring8", "8 Gaussians on a ring", "toy2d:ring8",
     "8 Gaussians on a circle of radius 2, std 0.02: the classic GAN mode-collapse test."),
    ("grid25", "25 Gaussians on a grid", "toy2d:grid25",
     "25 Gaussians on a 5x5 grid at -4..4, std 0.05: many modes to cover."),
    ("moons", "Two moons", "toy2d:moons", "Two interleaved half circles, labelled by moon."),
    ("swissroll", "Swiss roll", "toy2d:swissroll", "A 2D swiss roll: one thin curved manifold."),
    ("checkerboard", "Checkerboard", "toy2d:checkerboard",
     "Uniform over 8 squares of a 4x4 board: sharp edges, disconnected support."),
    ("spiral", "Two spirals", "toy2d:spiral", "Two interleaved spiral arms, labelled by arm."),
    ("circles", "Concentric circles", "toy2d:circles", "Two concentric rings, labelled by ring."),
)


_MIXTURES = ("ring8", "grid25")  # their loaders set Dataset.mixture: mode coverage applies


def _fashion_available(path=None) -> tuple:
    ok, why = idx_folder_status(path or FASHION_MNIST_DIR)
    if ok or path:
        return ok, why
    return False, f"{why} (install the Debian package dataset-fashion-mnist or pass a folder)"


def _mnist_available(path=None) -> tuple:
    ok, why = idx_folder_status(path or mnist_dir())
    if ok or path:
        return ok, why
    return False, f"{why} (put the four MNIST IDX files there, set {MNIST_ENV}, or pass a folder)"


def _csv_available(path=None) -> tuple:
    if not path:
        return False, "needs a path"
    return (True, "") if os.path.isfile(path) else (False, f"{path}: file not found")


def _folder_available(path=None) -> tuple:
    if not path:
        return False, "needs a path"
    return (True, "") if os.path.isdir(os.path.expanduser(path)) else (False, f"{path}: folder not found")


def builtin_dataset_specs() -> list:
    """Every dataset visgen ships, as ``DatasetSpec`` objects."""
    specs = [DatasetSpec(name=name, title=title, kind="points", loader=f"{_PKG}.{loader}",
                         summary=summary, mixture=name in _MIXTURES) for name, title, loader, summary in _TOYS]
    specs += [
        DatasetSpec(name="digits", title="Digits 8x8", kind="images",
                    loader=f"{_PKG}.digits:load_digits",
                    summary="scikit-learn's 1797 handwritten digits, 8x8 greyscale: trains in seconds."),
        DatasetSpec(name="shapes", title="Shapes 16x16 (dSprites-like)", kind="images",
                    loader=f"{_PKG}.shapes:load_shapes",
                    summary="10000 generated 16x16 images of a square, circle or triangle at a random "
                            "x, y and scale: known factors for beta-VAE disentangling."),
        DatasetSpec(name="fashion-mnist", title="Fashion-MNIST", kind="images",
                    loader=f"{_PKG}.idx:load_fashion_mnist", takes_path=True,
                    default_path=FASHION_MNIST_DIR, available=_fashion_available,
                    summary="70000 28x28 greyscale clothing images in 10 classes (IDX files)."),
        DatasetSpec(name="mnist", title="MNIST", kind="images",
                    loader=f"{_PKG}.idx:load_mnist", takes_path=True,
                    default_path=mnist_dir(), available=_mnist_available,
                    summary="70000 28x28 greyscale handwritten digits (IDX files)."),
        DatasetSpec(name="csv", title="CSV points", kind="points",
                    loader=f"{_PKG}.csv_points:load_csv_points", takes_path=True,
                    available=_csv_available,
                    summary="Your own 2D points from a CSV file: x,y or x,y,label per line."),
        DatasetSpec(name="image-folder", title="Image folder", kind="images",
                    loader=f"{_PKG}.image_folder:load_image_folder", takes_path=True,
                    available=_folder_available,
                    summary="Your own images of one size; one sub-folder per class, or flat."),
    ]
    return specs


@hookimpl
def visgen_register_datasets():
    """visgen's built-in datasets: 2D toys, digits, shapes, (Fashion-)MNIST, CSV and image folders."""
    return builtin_dataset_specs()
