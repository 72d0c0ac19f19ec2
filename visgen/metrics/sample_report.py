"""Every sample-quality number for one batch of samples, each beside what real data scores.

``sample_metrics(samples, train, heldout)`` measures the samples against the
training data, then measures the held-out real data against the same training
data in the same way (the ``reference``): a Frechet distance of 4 means little
alone, and a lot next to "real digits score 4.4". The held-out part is the run's
(``visgen.core.likelihood.split_heldout``), which the model never saw.

Images are compared on a classifier's features: the digits classifier's when the
data are visgen's 8x8 digits, else a small classifier trained on the training data's
own images and labels (``image_classifier``, cached; Fashion-MNIST, shapes, labelled
image folders), or one the caller passes. Unlabelled images are compared on raw
pixels, points on themselves. None of these numbers is comparable with a published FID,
KID or Inception Score: ``notes`` says so beside each.

Qt-free; numpy, torch and (on first use) torchmetrics.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Optional

import numpy as np

from ..core.coverage import mode_coverage
from ..core.dataset import Dataset
from .classifier_scores import CONFIDENT, classifier_summary
from .feature_distances import frechet_distance, kernel_distance
from .manifold import K, precision_recall_density_coverage
from .memorisation import COPY_QUANTILE, nearest_training_neighbours
from .point_distances import energy_distance

MAX_COMPARED = 1000   # samples (and held-out examples) per set metric; more costs time, not insight
MAX_REAL = 2000       # training examples the set metrics compare with (a seeded subsample)
MAX_NEIGHBOUR_TRAIN = 20000  # training examples searched for each sample's nearest (memorisation)
KID_SUBSETS = 50      # half torchmetrics' 100: the spread is already clear, at half the time
KID_SUBSET_SIZE = 500  # KID is unbiased, so a smaller subset moves its spread, not its value
DIGITS_SHAPE = (1, 8, 8)


def _pick(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``n`` rows of ``x``, a seeded choice (in their order) when there are more."""
    return x if len(x) <= n else x[np.sort(rng.choice(len(x), n, replace=False))]


def _classifier_for(train: Dataset, heldout: Optional[Dataset], classifier, progress=None) -> tuple:
    """``(classifier, feature_space)``: what judges ``train``'s kind of images and the name of
    its features, or ``(None, "pixels")`` for images without labels to train one on.

    One classifier per data set, trained on all of it (the training and held-out parts
    together, in an order no run's seed changes), as the digits classifier is: every run on
    that data is then measured in the same feature space, so the rows of one table compare.
    It has seen the held-out images too; it judges samples, and the reference row is measured
    with it the same way."""
    if classifier is not None:
        return classifier, "classifier features"
    if train.name == "digits" and train.image_shape == DIGITS_SHAPE:
        from .digits_classifier import load_digits_classifier
        return load_digits_classifier(), "digits classifier features"  # all visgen's digits, cached
    from .image_classifier import load_image_classifier
    clf = load_image_classifier(_whole(train, heldout), progress)  # cached per data set
    if clf is None:
        return None, "pixels"
    return clf, f"{train.name} classifier features"


def _whole(train: Dataset, heldout: Optional[Dataset]) -> Dataset:
    """``train`` and ``heldout`` together, sorted by a fixed random projection of each image:
    the same examples in the same order whichever seed split them."""
    if heldout is None or train.labels is None or heldout.labels is None:
        return train
    x = np.concatenate([train.x, heldout.x])
    labels = np.concatenate([train.labels, heldout.labels])
    w = np.random.default_rng(0).standard_normal(x[0].size)
    order = np.argsort(x.reshape(len(x), -1).astype(np.float64) @ w, kind="stable")
    return dataclasses.replace(train, x=x[order], labels=labels[order])


def _image_row(x, real_features, real_few, real_pixels, heldout_pixels, classifier, n, rng) -> dict:
    """The image metrics of the (finite) images ``x`` against the training data: ``real_features``
    (for the distances), ``real_few`` (``n`` of them, for precision and recall), ``real_pixels``."""
    embed = classifier.features if classifier is not None else (lambda v: v.reshape(len(v), -1))
    fx = embed(x)
    few = _pick(fx, n, rng)  # set metrics on as many vectors as the other row: they depend on it
    kid, kid_std = kernel_distance(few, real_features, KID_SUBSETS, KID_SUBSET_SIZE,
                                   seed=int(rng.integers(2**31)))
    row = {"frechet_distance": frechet_distance(few, real_features), "kid": kid, "kid_std": kid_std,
           **precision_recall_density_coverage(real_few, few, K)}
    if classifier is not None:
        row.update(classifier_summary(classifier.probabilities(x), CONFIDENT))
    nn = nearest_training_neighbours(x, real_pixels, 1, heldout=heldout_pixels)
    summary = ("median_distance", "heldout_median_distance", "closer_than_heldout", "closest")
    row["nearest_neighbours"] = {key: nn[key] for key in summary if key in nn}  # no arrays: JSON
    return row


def _point_row(x, real, real_few, mixture, n, rng) -> dict:
    """The point metrics of the (finite) points ``x`` against the training points."""
    few = _pick(x, n, rng)
    row = {"energy_distance": energy_distance(few, real, seed=int(rng.integers(2**31))),
           "frechet_distance": frechet_distance(few, real),
           **precision_recall_density_coverage(real_few, few, K)}
    if mixture is not None:  # the coverage protocol uses every sample it is given (2,500)
        row.update(mode_coverage(x, mixture.centers, mixture.std))
    return row


def sample_metrics(samples, train: Dataset, heldout: Optional[Dataset] = None, classifier=None,
                   seed: int = 0, progress=None) -> dict:
    """Sample-quality metrics of ``samples`` against ``train``, and of ``heldout`` likewise.

    ``samples``: (N, C, H, W) or (N, H, W) images, or (N, 2) points, of ``train``'s kind.
    ``classifier``: anything with ``features(images)`` (N, F) and ``probabilities(images)``
    (N, classes); by default visgen's digits classifier for the 8x8 digits, a classifier
    trained on ``train`` for other labelled images (``load_image_classifier``: up to a minute
    on first use, then cached; ``progress(done, total)`` hears of its training batches), and
    raw pixels (no class scores) for unlabelled images.

    Returns a dict (plain numbers and lists, ready for JSON):

    * images: ``frechet_distance``, ``kid``, ``kid_std``, ``precision``, ``recall``,
      ``density``, ``coverage`` (on the feature space named in ``feature_space``); with a
      classifier also ``class_histogram``, ``confident_fraction``, ``classifier_score``;
      ``nearest_neighbours`` (pixel space: ``median_distance``, ``closest``, and with
      held-out data ``heldout_median_distance`` and ``closer_than_heldout``);
    * points: ``energy_distance``, ``frechet_distance``, ``precision``, ``recall``,
      ``density``, ``coverage`` on the points; ``modes_covered``, ``high_quality``, ``modes``
      when ``train.mixture`` is set;
    * ``reference``: the same keys for ``heldout`` measured the same way (None without
      held-out data): what real data scores;
    * ``n_samples``, ``non_finite`` (samples left out, not finite), ``n_compared`` (vectors
      per set in the distances and precision/recall of both rows), ``n_real``, ``kind``,
      ``feature_space`` ("digits classifier features", "<name> classifier features",
      "classifier features" for the caller's, "pixels" or "points"), ``seconds``, and
      ``notes``: what each number is and is not.

    Set metrics take ``n_compared`` = min(samples, held-out, ``MAX_COMPARED``) vectors from
    each row, because Frechet distance and precision/recall shift with the set size; both
    rows meet the same ``n_real`` training vectors (``MAX_REAL`` at most) in the distances,
    and the same ``n_compared`` of them in precision/recall (equal sets, as in both papers).
    The per-sample ones (class scores, nearest neighbours, mode coverage) use every finite
    sample. Takes about 0.5 s for 1,000 digits or 2,500 points on two CPU cores.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)  # the training vectors both rows meet
    # one stream per row: the reference comes out the same for every model's samples
    row_rng = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim < 2 or x[0].size != train.dim:
        raise ValueError(f"samples of shape {x.shape} are not {train.name}'s {train.image_shape}")
    x = x.reshape((len(x),) + train.image_shape)  # (N, H, W) greyscale images get their channel
    finite = np.isfinite(x.reshape(len(x), -1)).all(1)
    x_ok = x[finite]
    if len(x_ok) < 2:
        raise ValueError(f"{int(finite.sum())} of {len(x)} samples are finite: too few to measure")
    ref_x = heldout.x if heldout is not None and len(heldout) >= 2 else None
    n = min(len(x_ok), MAX_COMPARED, len(ref_x) if ref_x is not None else MAX_COMPARED)
    real = _pick(train.x, MAX_REAL, rng)
    notes = {"reference": "held-out real data against the same training data, measured the same way "
                          f"on as many vectors ({n}): what real data scores",
             "precision": f"k={K} nearest-neighbour balls among {n} training vectors and {n} "
                          "samples (Kynkaanniemi et al. 2019); recall likewise; both reward copies",
             "density": f"k={K} (Naeem et al. 2020): about 1 for real data; coverage: about "
                        f"{1 - 0.5 ** K:.2f} for real data"}
    out = {"kind": train.kind, "n_samples": len(x), "non_finite": int((~finite).sum()),
           "n_compared": n, "n_real": len(real)}
    if train.kind == "points":
        out["feature_space"] = "points"
        real_few = _pick(real, n, rng)
        rows = [_point_row(x_ok, real, real_few, train.mixture, n, row_rng[0])]
        if ref_x is not None:
            rows.append(_point_row(ref_x, real, real_few, train.mixture, n, row_rng[1]))
        notes.update(
            energy_distance="2E|X-Y| - E|X-X'| - E|Y-Y'| on the points (unbiased: about 0 for real "
                            "data, either sign)",
            frechet_distance="Frechet distance between Gaussians fitted to the points: blind to "
                             "modes (a ring and a blob of the same spread score alike)")
        if train.mixture is not None:
            notes["modes_covered"] = "modes with a sample within 3 std of their centre, on every sample"
    else:
        clf, out["feature_space"] = _classifier_for(train, heldout, classifier, progress)
        embed = clf.features if clf is not None else (lambda v: v.reshape(len(v), -1))
        real_features = embed(real)
        real_pixels = _pick(train.x, MAX_NEIGHBOUR_TRAIN, rng)
        real_few = _pick(real_features, n, rng)
        rows = [_image_row(x_ok, real_features, real_few, real_pixels, ref_x, clf, n, row_rng[0])]
        if ref_x is not None:
            rows.append(_image_row(ref_x, real_features, real_few, real_pixels, ref_x, clf, n, row_rng[1]))
        space = out["feature_space"]
        notes.update(
            frechet_distance=f"Frechet distance on {space}: not comparable with published FID; "
                             "biased upwards for few vectors, so read it beside the reference",
            kid=f"kernel distance (unbiased MMD, cubic kernel) on {space}: not comparable with "
                "published KID; can be slightly negative",
            nearest_neighbours="pixel space; closer_than_heldout: fraction of samples nearer a "
                               f"training image than the {COPY_QUANTILE:.0%} nearest held-out images "
                               f"(real data: about {COPY_QUANTILE})")
        if clf is not None:
            notes.update(
                classifier_score="classifier score (not comparable with published IS): "
                                 "exp(E[KL(p(y|x) || p(y))]), from 1 to the number of classes",
                confident_fraction=f"samples whose top class has probability >= {CONFIDENT}")
    out.update(rows[0])
    out["reference"] = rows[1] if len(rows) > 1 else None
    out["notes"] = notes
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out
