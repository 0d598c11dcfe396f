"""Metrics of the report: FID, KID, IS, precision/recall, density/coverage, mode coverage.

- ``frechet_distance``, ``fid_from_features``: Heusel et al. 2017, eq. 6 (torch-fidelity's code)
- ``kid_from_features``: Binkowski et al. 2018 (torch-fidelity's code)
- ``precision_recall``: Kynkaanniemi et al. 2019 (torch-fidelity's code, in blocks)
- ``density_coverage``: Naeem et al. 2020 (in blocks)
- ``inception_score``: Salimans et al. 2016, from class probabilities
- ``mode_coverage``: Metz et al. 2017, Srivastava et al. 2017 (2D mixtures)
- ``classifier_score``, ``class_coverage``: with our data-set classifier (never reported as IS)

``evaluate`` computes them from a generator and a reference data set; ``ClassifierTracker`` is the
cheap per-epoch callable for the trainers. Features come from :mod:`.inception` (offline TorchScript
or torch-fidelity's online network) and :mod:`.classifier`.
"""

from __future__ import annotations

from .classifier import class_coverage, classifier_score, load_classifier
from .bootstrap import bootstrap_interval, fd_interval, mean_interval
from .evaluate import evaluate, real_baseline
from .frechet import SampleSizeWarning, feature_statistics, fid_from_features, frechet_distance
from .inception import OfflineInception, OnlineInception, inception_extractor
from .inception_score import inception_score
from .kid import kid_from_features
from .modes import mode_coverage
from .prdc import density_coverage, half_sample_se, per_sample_terms, precision_recall
from .tracking import ClassifierTracker, ModeCoverageTracker

__all__ = [
    "frechet_distance", "fid_from_features", "feature_statistics", "kid_from_features", "precision_recall",
    "density_coverage", "per_sample_terms", "half_sample_se", "inception_score", "mode_coverage", "SampleSizeWarning",
    "evaluate", "real_baseline", "bootstrap_interval", "fd_interval", "mean_interval", "ClassifierTracker",
    "ModeCoverageTracker",
    "classifier_score", "class_coverage", "load_classifier",
    "OfflineInception", "OnlineInception", "inception_extractor", "register_offline_inception",
]


def register_offline_inception() -> str:
    """Register the offline Inception with torch-fidelity; see :mod:`.fidelity_extractor`."""
    from .fidelity_extractor import register_offline_inception as register

    return register()
