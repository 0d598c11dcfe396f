"""Scores from the data-set classifier's class probabilities.

- :func:`classifier_score`: the Inception Score formula (Salimans et al. 2016) applied to our small
  classifier; a "classifier score" (the "MNIST score" of e.g. Li et al. 2017), never comparable with IS.
- :func:`class_coverage`: mode collapse on images. Each sample gets its arg-max class; a class is *hit*
  when it receives at least ``min_fraction`` of the samples (default 1%, a tenth of its share under a
  uniform 10-class histogram, so that a few misclassified samples do not count). ``class_kl`` is the KL
  of the class histogram from the uniform one, in nats: 0 for a balanced sample, ``log K`` when all
  samples fall in one class; the same direction as ``kl_to_uniform`` of :func:`repro.metrics.mode_coverage`.
"""

from __future__ import annotations

import torch

from ..checks import check_probs
from ..inception_score import inception_score
from ..modes import histogram_coverage

__all__ = ["classifier_score", "class_coverage"]


def classifier_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) over all samples (one split) of the classifier's probabilities."""
    return inception_score(probs, splits=1)[0]


def class_coverage(probs: torch.Tensor, min_fraction: float = 0.01) -> dict:
    """Classes hit and the KL of the arg-max class histogram from uniform, for N x K ``probs``."""
    probs = check_probs(probs)
    n, k = probs.shape
    counts = torch.bincount(probs.argmax(dim=1), minlength=k)
    hit, kl, threshold = histogram_coverage(counts, n, min_fraction)
    return {
        "classes_hit": hit,
        "num_classes": k,
        "class_kl": kl,
        "class_counts": counts.tolist(),
        "min_count": threshold,
        "n": n,
    }
