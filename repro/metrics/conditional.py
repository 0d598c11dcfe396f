"""Fidelity and diversity of samples drawn for requested labels, in a data-set classifier's feature space.

For a guidance sweep (Dhariwal & Nichol 2021, sec. 4 and Fig. 4; Ho & Salimans 2022, Fig. 4) each
setting's samples get, against ``real`` images of the same data set scored by the same classifier:

- ``fd_classifier``: the Fréchet distance of the classifier's penultimate features (not FID);
- ``precision``, ``recall`` (Kynkäänniemi et al. 2019, k = 3) and ``density``, ``coverage`` (Naeem et
  al. 2020, k = 5) in those features: fidelity (precision, density) against diversity (recall, coverage);
- ``label_accuracy``: the fraction of samples the classifier assigns to the label they were drawn for
  (``None`` when no label was requested, e.g. for an unconditional GAN);
- ``classes_hit`` and ``class_kl`` of the predicted classes (:func:`class_coverage`).

The classifier is the data set's evaluation classifier, not the noise-aware one that guided sampling,
so that guidance cannot score itself.
"""

from __future__ import annotations

from typing import Any

import torch

from .classifier import LoadedClassifier, class_coverage
from .frechet import feature_statistics, frechet_distance
from .prdc import density_coverage, precision_recall

__all__ = ["RealFeatures", "real_features", "conditional_scores"]

RealFeatures = dict  # {"features": N x D, "mu": D, "sigma": D x D}


def real_features(classifier: LoadedClassifier, images: torch.Tensor) -> RealFeatures:
    """Penultimate features of real ``images`` and their mean and covariance: the reference of a sweep."""
    _, feats = classifier.probs_and_features(images)
    return {"features": feats, **feature_statistics(feats)}


def conditional_scores(samples: torch.Tensor, classifier: LoadedClassifier, real: RealFeatures,
                       y: torch.Tensor | None = None) -> dict[str, Any]:
    """The scores of the module docstring for ``samples`` (N x C x H x W in [-1, 1]) drawn for labels ``y``."""
    if y is not None and y.shape != (samples.shape[0],):
        raise ValueError(f"y must hold one label per sample, shape ({samples.shape[0]},); got {tuple(y.shape)}")
    probs, feats = classifier.probs_and_features(samples)
    stats = feature_statistics(feats)
    precision, recall = precision_recall(real["features"], feats, k=3)
    density, coverage = density_coverage(real["features"], feats, k=5)
    classes = class_coverage(probs)
    accuracy = None if y is None else float((probs.argmax(dim=1) == y.cpu()).double().mean())
    return {"fd_classifier": frechet_distance(stats["mu"], stats["sigma"], real["mu"], real["sigma"]),
            "precision": precision, "recall": recall, "density": density, "coverage": coverage,
            "label_accuracy": accuracy, "classes_hit": classes["classes_hit"], "class_kl": classes["class_kl"],
            "n": samples.shape[0]}
