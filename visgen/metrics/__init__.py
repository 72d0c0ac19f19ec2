"""Measurements of what a model has learnt, from outside the model (Qt-free).

``digits_classifier``: a small classifier of the 8x8 digits, trained once and
cached, that judges generated digits (time to insight; the Frechet distance and
KID on its features).

Sample quality (issue 12), one idea per module, each number beside what real
data scores:

* ``sample_report.sample_metrics``: everything below for one batch of samples,
  with the held-out real data's numbers as ``reference``;
* ``feature_distances``: ``frechet_distance``, ``kernel_distance`` (KID);
* ``manifold``: ``precision_recall_density_coverage``;
* ``point_distances``: ``energy_distance``;
* ``memorisation``: ``nearest_training_neighbours``;
* ``run_report.measure_run``: one row of the comparison table for one run, live or
  saved (``visgen eval`` and the Compare window);
* ``classifier_scores``: ``class_histogram``, ``confident_fraction``,
  ``classifier_score`` (and ``classifier_summary``: all three).

Importing this package is cheap (no torch): the names below load their module
on first use, as ``visgen``'s own lazy names do.
"""
from __future__ import annotations

from ..lazy_names import lazy_getattr

_LAZY = {
    "sample_metrics": ".sample_report",
    "measure_run": ".run_report",
    "frechet_distance": ".feature_distances",
    "kernel_distance": ".feature_distances",
    "precision_recall_density_coverage": ".manifold",
    "energy_distance": ".point_distances",
    "nearest_training_neighbours": ".memorisation",
    "class_histogram": ".classifier_scores",
    "confident_fraction": ".classifier_scores",
    "classifier_score": ".classifier_scores",
    "classifier_summary": ".classifier_scores",
    "load_digits_classifier": ".digits_classifier",
    "load_image_classifier": ".image_classifier",
}


__getattr__ = lazy_getattr(__name__, _LAZY)


__all__ = list(_LAZY)
