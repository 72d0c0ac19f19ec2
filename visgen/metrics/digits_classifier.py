"""A small CNN that tells the 8x8 digits apart: the judge of generated digits.

Trained once on scikit-learn's digits (the ``digits`` data set visgen ships)
with a fixed seed and a fixed stratified held-out split, then cached under
``$VISGEN_CACHE_DIR`` (default ``$XDG_CACHE_HOME/visgen`` or ``~/.cache/visgen``)
in a file named by a hash of the data and ``CODE_VERSION``; change the network
or its training and bump ``CODE_VERSION``, and the cache is rebuilt.

Used by ``benchmarks/time_to_insight.py`` (does the sample grid show digits?)
and meant for the evaluation metrics of issue 12, which compare ``features``
(the 128 values before the last layer) of real and generated digits.

Qt-free; torch and numpy only. Training takes 10-15 s on one CPU core.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

# shared with the classifier of any labelled image data set (cache_dir is also this module's API)
from .image_classifier import cache_dir, data_key, heldout_split, load_cached, save_atomically
from .image_classifier import non_images as non_digits

CODE_VERSION = 2   # bump when the network, its training or the split changes
SEED = 0
HELD_OUT = 0.2     # fraction of each class kept out of training, to measure accuracy on
EPOCHS = 25
BATCH = 64
FEATURES = 128
OUTLIER_WEIGHT = 0.5  # weight of "no digit: every class equally likely" on non-digit pictures


class DigitsNet(nn.Module):
    """Two 3x3 conv layers, a 2x2 max-pool and two linear layers on (N, 1, 8, 8) in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 4 * 4, FEATURES)
        self.out = nn.Linear(FEATURES, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 128 values the classes are read from (for Frechet distance / KID)."""
        h = F.relu(self.conv1(x))
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        return F.relu(self.fc(h.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


@dataclass
class DigitsClassifier:
    """A trained ``DigitsNet`` with its held-out accuracy; takes numpy images in [0, 1]."""

    net: DigitsNet
    heldout_accuracy: float

    @staticmethod
    def _batch(images) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images, dtype=np.float32))
        if x.ndim == 3:  # (N, 8, 8), as ImageGrid keeps greyscale images
            x = x[:, None]
        if x.shape[1:] != (1, 8, 8):
            raise ValueError(f"the digits classifier wants (N, 8, 8) or (N, 1, 8, 8), got {tuple(x.shape)}")
        return x

    @torch.no_grad()
    def probabilities(self, images) -> np.ndarray:
        """(N, 10) class probabilities of (N, 8, 8) or (N, 1, 8, 8) images in [0, 1]."""
        self.net.eval()
        return torch.softmax(self.net(self._batch(images)), 1).numpy()

    @torch.no_grad()
    def features(self, images) -> np.ndarray:
        """(N, 128) features of the images (the layer before the class scores)."""
        self.net.eval()
        return self.net.features(self._batch(images)).numpy()


def _shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Each image moved by up to one pixel in each direction: generated digits are rarely centred
    exactly like the data, and a judge that only knows one position would call them unsure."""
    n = len(x)
    padded = F.pad(x, (1, 1, 1, 1))
    dy = torch.randint(0, 3, (n,), generator=gen)
    dx = torch.randint(0, 3, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(8))[:, None, :, None].expand(n, 1, 8, 10)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(8))[:, None, None, :].expand(n, 1, 8, 8)
    return out.gather(3, cols)


def train_classifier(x: np.ndarray, labels: np.ndarray, seed: int = SEED) -> DigitsClassifier:
    """Train a ``DigitsNet`` on (N, 1, 8, 8) images in [0, 1] with the held-out split removed
    (and on ``non_digits`` towards a uniform answer); its accuracy on the held-out images is
    measured and kept."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1, 8, 8)
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    train_idx, test_idx = heldout_split(y.numpy(), HELD_OUT, seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the caller's global RNG stays as it was
        torch.manual_seed(seed)
        net = DigitsNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    xt, yt = x[train_idx], y[train_idx]
    net.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batches of 64 8x8 images: more threads only wait on each other (and on a busy core)
    try:
        for _ in range(EPOCHS):
            order = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(order), BATCH):
                b = order[i:i + BATCH]
                loss = F.cross_entropy(net(_shift(xt[b], gen)), yt[b])
                loss = loss - OUTLIER_WEIGHT * F.log_softmax(net(non_digits(xt[b], gen)), 1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    finally:
        torch.set_num_threads(threads)
    net.eval()
    with torch.no_grad():
        accuracy = (net(x[test_idx]).argmax(1) == y[test_idx]).float().mean().item()
    return DigitsClassifier(net, accuracy)


def cache_key(x: np.ndarray, labels: np.ndarray, seed: int = SEED) -> str:
    """Hash of the data, the labels, the seed and ``CODE_VERSION``: a new key means retrain."""
    return data_key(x, labels, f"digits-classifier v{CODE_VERSION} seed {seed}")


def load_digits_classifier(dataset=None, cache: bool = True, seed: int = SEED) -> DigitsClassifier:
    """The classifier for ``dataset`` (default: visgen's bundled digits), from the cache when it
    holds one for the same data and code version, else trained now (and cached when ``cache``)."""
    if dataset is None:
        from ..data.digits import load_digits
        dataset = load_digits()
    x, labels = dataset.x, dataset.labels
    path = cache_dir() / f"digits-classifier-{cache_key(x, labels, seed)}.pt"
    loaded = load_cached(path, DigitsNet()) if cache else None
    if loaded is not None:
        return DigitsClassifier(*loaded)
    clf = train_classifier(x, labels, seed)
    if cache:
        save_atomically(path, {"state": clf.net.state_dict(), "heldout_accuracy": clf.heldout_accuracy})
    return clf
