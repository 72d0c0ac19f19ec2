"""A small CNN for any labelled image data set: the judge of generated images beyond the digits.

``load_image_classifier(dataset)`` trains one on ``dataset``'s images and labels
(Fashion-MNIST, ``shapes``, a labelled image folder: any (C, H, W) with H, W >= 8
and at least two classes) with a fixed seed on a fixed stratified held-out split,
measures its accuracy on the held-out part, and caches the weights under
``cache_dir()`` in a file named by the data set's name and a hash of its images,
labels, the seed and ``CODE_VERSION``. ``sample_metrics`` compares the
``features`` (the ``FEATURES`` values before the class layer) of real and
generated images, as it does with the digits classifier.

Training is bounded: at most ``MAX_STEPS`` batches, whatever the data set's size,
and images wider or taller than ``MAX_SIDE`` are averaged down to it first, so the
first use costs under a minute on a 2-core laptop (measured: Fashion-MNIST's 59,000
training images, 44 s to a held-out accuracy of 0.87; 9,000 ``shapes``, about 12 s to 1.00).

This module also holds what both classifiers share (the cache folder, the cache
key, the atomic save, the held-out split and the pictures of nothing that teach a
classifier to doubt); ``digits_classifier`` imports them.

Qt-free; torch and numpy only.
"""
from __future__ import annotations

import hashlib
import math
import os
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..core.atomic import replace_atomically

CODE_VERSION = 1   # bump when the network, its training or the split changes
SEED = 0
HELD_OUT = 0.2     # fraction of each class kept out of training, to measure accuracy on
EPOCHS = 10        # over small data sets; large ones stop at MAX_STEPS first
MAX_STEPS = 1500   # batches at most: the time bound (about 45 s for 28x28 images on one core)
BATCH = 64
OUTLIERS = BATCH // 4  # pictures of nothing per batch: enough to learn doubt, where a full batch
                       # of them doubles the cost of a step (the time goes to more steps instead)
FEATURES = 128
GRID = 4           # the last conv layer is averaged to GRID x GRID, whatever the image size
MIN_SIDE = 8       # two 2x2 poolings leave at least 2x2 to average
MAX_SIDE = 32      # larger images are averaged down first: the cost per image stays bounded
OUTLIER_WEIGHT = 0.5  # weight of "no class: every class equally likely" on pictures of nothing
EVAL_BATCH = 1000  # images per forward pass when measuring: bounded memory for any data set


class ImageNet(nn.Module):
    """Three 3x3 conv layers (two 2x2 max-pools between them), an average to a GRID x GRID
    grid, a ``FEATURES``-wide layer and the class layer, on (N, C, H, W) images in [0, 1]."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * GRID * GRID, FEATURES)
        self.out = nn.Linear(FEATURES, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The ``FEATURES`` values the classes are read from (for Frechet distance / KID)."""
        if x.shape[-2] > MAX_SIDE or x.shape[-1] > MAX_SIDE:
            x = F.adaptive_avg_pool2d(x, (min(x.shape[-2], MAX_SIDE), min(x.shape[-1], MAX_SIDE)))
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.adaptive_avg_pool2d(F.relu(self.conv3(h)), GRID)
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


@dataclass
class ImageClassifier:
    """A trained ``ImageNet`` for images of ``image_shape`` (C, H, W), with its held-out
    accuracy; takes numpy images in [0, 1], as ``DigitsClassifier`` does."""

    net: ImageNet
    heldout_accuracy: float
    image_shape: tuple

    def _batch(self, images) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images, dtype=np.float32))
        if x.ndim == 3 and self.image_shape[0] == 1:  # (N, H, W), as ImageGrid keeps greyscale images
            x = x[:, None]
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"this classifier wants (N, {', '.join(map(str, self.image_shape))}) "
                             f"images, got {tuple(x.shape)}")
        return x

    @torch.no_grad()
    def _apply(self, fn, images) -> np.ndarray:
        self.net.eval()
        x = self._batch(images)
        return torch.cat([fn(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)]).numpy()

    def probabilities(self, images) -> np.ndarray:
        """(N, classes) class probabilities of (N, C, H, W) images in [0, 1]."""
        return self._apply(lambda b: torch.softmax(self.net(b), 1), images)

    def features(self, images) -> np.ndarray:
        """(N, FEATURES) features of the images (the layer before the class scores)."""
        return self._apply(self.net.features, images)


# -- shared with digits_classifier -------------------------------------------------------------
def cache_dir() -> Path:
    """Where cached weights live: ``$VISGEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/visgen``, else ``~/.cache/visgen``."""
    if os.environ.get("VISGEN_CACHE_DIR"):
        return Path(os.environ["VISGEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "visgen"


def data_key(x: np.ndarray, labels: np.ndarray, tag: str) -> str:
    """16 hex digits of a hash of the images, the labels and ``tag`` (which code trains on
    them, and how): a new key means retrain."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype=np.float32).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    h.update(tag.encode())
    return h.hexdigest()[:16]


def save_atomically(path: Path, obj: dict) -> None:
    """Write to a temporary file and rename: two processes training at once never leave half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda tmp: torch.save(obj, tmp))


def load_cached(path: Path, net: nn.Module) -> Optional[tuple]:
    """``(net, heldout_accuracy)`` with ``net``'s weights read from the cache file ``path``, or
    None when there is none or it cannot be used (unreadable, truncated, not a checkpoint, a
    foreign network): the caller then trains again and overwrites it."""
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign file's pickle say nothing useful here
            warnings.simplefilter("ignore")
            saved = torch.load(path, weights_only=True)  # weights only: a cache file can never run code
        net.load_state_dict(saved["state"])
        return net.eval(), float(saved["heldout_accuracy"])
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, EOFError, pickle.UnpicklingError):
        return None


def heldout_split(labels: np.ndarray, fraction: float = HELD_OUT, seed: int = SEED) -> tuple:
    """``(train_idx, test_idx)``: the same ``fraction`` of every class held out, by a seeded shuffle."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(fraction * len(idx)))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def non_images(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """As many pictures of nothing as ``x`` holds: each of x's images with its pixels shuffled
    (the same ink, no shape), uniform noise, and the mean image under noise (the grey blob an
    untrained generator draws). A plain classifier names a class for such pictures with 90 %
    confidence; taught that they are none (a uniform answer), its confidence means shape."""
    n = len(x)
    flat = x.reshape(n, -1)
    scrambled = flat.gather(1, torch.argsort(torch.rand(flat.shape, generator=gen), 1)).reshape(x.shape)
    noise = torch.rand(x.shape, generator=gen)
    blob = (x.mean(0, keepdim=True) + 0.2 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    pick = torch.randint(0, 3, (n, 1, 1, 1), generator=gen)
    return torch.where(pick == 0, scrambled, torch.where(pick == 1, noise, blob))


# -- the image classifier ----------------------------------------------------------------------
def train_image_classifier(x: np.ndarray, labels: np.ndarray, classes: int, seed: int = SEED,
                           progress: Optional[Callable[[int, int], None]] = None) -> ImageClassifier:
    """Train an ``ImageNet`` on (N, C, H, W) images in [0, 1] with the held-out split removed
    (and on ``non_images`` towards a uniform answer) for ``EPOCHS`` epochs or ``MAX_STEPS``
    batches, whichever is fewer; its accuracy on the held-out images is measured and kept.
    ``progress(done, total)`` hears of the batches done, about a hundred times."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    train_idx, test_idx = heldout_split(y.numpy(), seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG stays as it was
        torch.manual_seed(seed)
        net = ImageNet(x.shape[1], classes)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    xt, yt = x[train_idx], y[train_idx]
    steps = min(MAX_STEPS, EPOCHS * math.ceil(len(xt) / BATCH))
    every = math.ceil(steps / 100)  # about a hundred calls, whatever the number of steps
    net.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of 64 small images: a second thread only waits (measured 10x slower)
    try:
        order, at = torch.randperm(len(xt), generator=gen), 0
        for step in range(1, steps + 1):
            if at >= len(order):
                order, at = torch.randperm(len(xt), generator=gen), 0
            b = order[at:at + BATCH]
            at += BATCH
            loss = F.cross_entropy(net(xt[b]), yt[b])
            loss = loss - OUTLIER_WEIGHT * F.log_softmax(net(non_images(xt[b[:OUTLIERS]], gen)), 1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if progress is not None and (step % every == 0 or step == steps):
                progress(step, steps)
        net.eval()
        clf = ImageClassifier(net, float("nan"), tuple(x.shape[1:]))
        if len(test_idx):
            predicted = clf.probabilities(x[test_idx].numpy()).argmax(1)
            clf.heldout_accuracy = float((predicted == y[test_idx].numpy()).mean())
    finally:
        torch.set_num_threads(threads)
    return clf


def image_cache_path(dataset, seed: int = SEED) -> Path:
    """The cache file of ``dataset``'s classifier: its name (for people) and a hash of its shape,
    images, labels, the seed and ``CODE_VERSION`` (for the program)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", str(dataset.name))[:40]
    shape = "x".join(map(str, dataset.image_shape))
    tag = f"image-classifier v{CODE_VERSION} {dataset.name} {shape} seed {seed}"
    return cache_dir() / f"image-classifier-{name}-{shape}-{data_key(dataset.x, dataset.labels, tag)}.pt"


def load_image_classifier(dataset, progress: Optional[Callable[[int, int], None]] = None,
                          cache: bool = True, seed: int = SEED) -> Optional[ImageClassifier]:
    """The classifier of ``dataset``'s images (a ``Dataset`` of kind "images"), from the cache
    when it holds one for the same data and code version, else trained now (and cached when
    ``cache``); ``progress(done, total)`` hears of the training batches.

    None when there is nothing to classify: no labels, fewer than two classes, or images
    smaller than ``MIN_SIDE`` a side. The classifier is trained on exactly the examples given
    (``sample_metrics`` gives a whole data set, in a fixed order), so each distinct set of
    examples is trained once and cached.
    """
    labels = dataset.labels
    if (labels is None or len(np.unique(labels)) < 2 or dataset.x.ndim != 4
            or min(dataset.image_shape[1:]) < MIN_SIDE):
        return None
    classes = max(dataset.num_classes, int(labels.max()) + 1)
    path = image_cache_path(dataset, seed)
    loaded = load_cached(path, ImageNet(dataset.image_shape[0], classes)) if cache else None
    if loaded is not None:
        return ImageClassifier(loaded[0], loaded[1], dataset.image_shape)
    clf = train_image_classifier(dataset.x, labels, classes, seed, progress)
    if cache:
        save_atomically(path, {"state": clf.net.state_dict(), "heldout_accuracy": clf.heldout_accuracy})
    return clf
