"""What a classifier says about a batch of samples: which classes, how sure, how varied.

Read from its (N, C) class probabilities ``p(y|x)``, one row per sample (visgen's
digits classifier gives them, and was trained to answer "every class alike" for
pictures that are no digit, so its confidence means shape).

Qt-free; numpy only.
"""
from __future__ import annotations

import numpy as np

CONFIDENT = 0.9  # a sample is "labelled with confidence" when its top class has at least this probability


def _rows(probabilities) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must be (N, classes), got shape {p.shape}")
    return p


def class_histogram(probabilities) -> np.ndarray:
    """(C,) fraction of samples whose most probable class is each class (sums to 1).

    Shows a model that draws some classes more than others, or only one (mode collapse).
    It counts the classifier's opinion however unsure it is: noise lands somewhere too,
    so read it with ``confident_fraction``."""
    p = _rows(probabilities)
    if len(p) == 0:
        return np.zeros(p.shape[1])
    return np.bincount(p.argmax(1), minlength=p.shape[1]) / len(p)


def confident_fraction(probabilities, threshold: float = CONFIDENT) -> float:
    """Fraction of samples whose most probable class has probability >= ``threshold``:
    how many samples the classifier recognises as a clear example of some class. Not a
    measure of variety (one perfect "1" drawn every time scores 1.0). Rows that are not
    finite count as not confident."""
    p = _rows(probabilities)
    if len(p) == 0:
        return float("nan")
    top = np.nan_to_num(p.max(1), nan=0.0)
    return float(np.mean(top >= threshold))


def classifier_score(probabilities, eps: float = 1e-12) -> float:
    """``exp(E_x[KL(p(y|x) || p(y))])``, with ``p(y)`` the mean of the rows: the Inception
    Score's formula on this classifier, so "classifier score", *not comparable with published
    Inception Scores* (those use Inception-v3 on ImageNet's 1000 classes).

    Between 1 (every sample gets the same answer, or every answer is unsure) and the number
    of classes (each sample clearly one class, all classes equally often). High when samples
    are sure and varied; blind to whether they resemble the training data in any other way,
    and to copies. NaN when a row is not finite."""
    p = _rows(probabilities)
    if len(p) == 0 or not np.isfinite(p).all():
        return float("nan")
    marginal = p.mean(0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(marginal + eps))).sum(1)
    return float(np.exp(kl.mean()))


def classifier_summary(probabilities, threshold: float = CONFIDENT) -> dict:
    """All three at once: ``{"class_histogram": list of C fractions, "confident_fraction",
    "classifier_score"}`` (plain floats, for JSON)."""
    return {"class_histogram": [float(v) for v in class_histogram(probabilities)],
            "confident_fraction": confident_fraction(probabilities, threshold),
            "classifier_score": classifier_score(probabilities)}
