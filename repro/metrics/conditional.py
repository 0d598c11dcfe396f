"""Fidelity and diversity of samples drawn for requested labels, in a data-set classifier's feature space.

For a guidance sweep (Dhariwal & Nichol 2021, sec. 4 and Fig. 4; Ho & Salimans 2022, Fig. 4) each
setting's samples get, against ``real`` images of the same data set scored by the same classifier:

- ``fd_classifier``: the Fréchet distance of the classifier's penultimate features (not FID);
- ``precision``, ``recall`` (Kynkäänniemi et al. 2019, k = 3) and ``density``, ``coverage`` (Naeem et
  al. 2020, k = 5) in those features: fidelity (precision, density) against diversity (recall, coverage);
- ``label_accuracy``: the fraction of samples the classifier assigns to the label they were drawn for
  (``None`` when no label was requested, e.g. for an unconditional GAN);
- ``classes_hit`` and ``class_kl`` of the predicted classes (:func:`class_coverage`).

Each of precision, recall, density, coverage and label accuracy comes with a 95% interval (``<name>_lo``,
``<name>_hi``) for the sampling error of the generated set, the real set held fixed (it is shared by every
setting scored against it):

- precision, density and label accuracy are means of terms of the samples
  (:func:`repro.metrics.prdc.per_sample_terms`): the interval of their mean
  (:func:`repro.metrics.bootstrap.mean_interval`, Wilson's for the 0/1 terms);
- recall and coverage are means of terms of the real images, which the samples move through their
  positions and their k-NN balls: value ± 1.96 standard errors, the larger of the half-sample estimate
  over the samples (:func:`repro.metrics.prdc.half_sample_se`) and the real terms' own (from their Wilson
  interval), cut to [0, 1] (on Gaussian features, within a quarter of the spread over fresh generated
  sets; tests/test_metrics_prdc.py).

With ``bootstrap`` resamples, the Fréchet distance gets its 95% normal bootstrap interval
(``fd_classifier_lo``, ``fd_classifier_hi``; :func:`repro.metrics.bootstrap.fd_interval`).

The classifier is the data set's evaluation classifier, not the noise-aware one that guided sampling,
so that guidance cannot score itself.
"""

from __future__ import annotations

from typing import Any

import torch

from .bootstrap import Z95, fd_interval, mean_interval
from .classifier import LoadedClassifier, class_coverage
from .frechet import feature_statistics, frechet_distance
from .prdc import density_coverage, half_sample_se, per_sample_terms, precision_recall

__all__ = ["RealFeatures", "real_features", "conditional_scores"]

RealFeatures = dict  # {"features": N x D, "mu": D, "sigma": D x D}


def real_features(classifier: LoadedClassifier, images: torch.Tensor) -> RealFeatures:
    """Penultimate features of real ``images`` and their mean and covariance: the reference of a sweep."""
    _, feats = classifier.probs_and_features(images)
    return {"features": feats, **feature_statistics(feats)}


def conditional_scores(samples: torch.Tensor, classifier: LoadedClassifier, real: RealFeatures,
                       y: torch.Tensor | None = None, bootstrap: int = 0, seed: int = 0) -> dict[str, Any]:
    """The scores of the module docstring for ``samples`` (N x C x H x W in [-1, 1]) drawn for labels ``y``,
    with their intervals (``bootstrap`` resamples, seeded by ``seed``, for the Fréchet distance's; 0: none)."""
    if y is not None and y.shape != (samples.shape[0],):
        raise ValueError(f"y must hold one label per sample, shape ({samples.shape[0]},); got {tuple(y.shape)}")
    if bootstrap < 0:
        raise ValueError(f"bootstrap = {bootstrap} must be >= 0 (resamples of the FD's interval; 0: none)")
    probs, feats = classifier.probs_and_features(samples)
    stats = feature_statistics(feats)
    precision, recall = precision_recall(real["features"], feats, k=3)
    density, coverage = density_coverage(real["features"], feats, k=5)
    classes = class_coverage(probs)
    out = {"fd_classifier": frechet_distance(stats["mu"], stats["sigma"], real["mu"], real["sigma"]),
           "precision": precision, "recall": recall, "density": density, "coverage": coverage,
           "label_accuracy": None, "classes_hit": classes["classes_hit"], "class_kl": classes["class_kl"],
           "n": samples.shape[0]}
    terms = per_sample_terms(real["features"], feats, k_pr=3, k_dc=5)
    if y is not None:
        terms["label_accuracy"] = (probs.argmax(dim=1) == y.cpu()).double()
        out["label_accuracy"] = float(terms["label_accuracy"].mean())
    for name in ("precision", "density", "label_accuracy"):
        if name in terms:
            out[f"{name}_lo"], out[f"{name}_hi"] = mean_interval(terms[name])
    halves = half_sample_se(real["features"], feats, k_pr=3, k_dc=5, seed=seed)
    for name in ("recall", "coverage"):
        lo, hi = mean_interval(terms[name])  # the real terms' own (Wilson's: a width at 0 and 1)
        se = max(halves[name], (hi - lo) / (2 * Z95))
        out[f"{name}_lo"], out[f"{name}_hi"] = max(out[name] - Z95 * se, 0.0), min(out[name] + Z95 * se, 1.0)
    if bootstrap:
        out["fd_classifier_lo"], out["fd_classifier_hi"] = fd_interval(feats, real["mu"], real["sigma"], bootstrap,
                                                                        seed=seed, what="classifier features")
    return out
