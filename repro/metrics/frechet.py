"""Frechet distance between Gaussians fitted to features (Heusel et al. 2017, eq. 6).

    d^2 = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))

The statistics and the distance are torch-fidelity's (``fid_features_to_statistics``,
``fid_statistics_to_metric``, adapted from the TTUR reference code): mean in the features' dtype,
unbiased covariance, and Tr((sigma1 sigma2)^(1/2)) as the sum of the square roots of the eigenvalues
of sigma1 sigma2, real part. That keeps the result real and finite when a covariance is singular
(N <= feature dimension), where ``scipy.linalg.sqrtm`` can return complex or infinite values.

FID is biased upwards for finite N (Binkowski et al. 2018, Chong & Forsyth 2020): compare numbers
computed with the same N only, and report N with each number.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .checks import check_features, check_same_dim

__all__ = ["SampleSizeWarning", "feature_statistics", "frechet_distance", "frechet_distance_to",
           "fid_from_features", "warn_if_singular"]


class SampleSizeWarning(UserWarning):
    """Too few samples for a full-rank covariance: the number is valid but strongly biased."""


def warn_if_singular(n: int, dim: int, what: str = "features") -> None:
    """Warn when ``n`` samples of ``dim``-dimensional features give a singular covariance (n <= dim)."""
    if n <= dim:
        warnings.warn(
            f"{n} samples of {dim}-dimensional {what}: the covariance is singular (rank <= {n - 1}); the "
            f"Frechet distance is real and finite but strongly biased by N. Use more than {dim} samples "
            "(papers use 10k or 50k) and compare numbers at equal N only.", SampleSizeWarning, stacklevel=3)


def _as_cpu_tensor(x, what: str = "features") -> torch.Tensor:
    """N x D finite features (torch or numpy) with the 2 samples a covariance needs, on the CPU."""
    return check_features(x, what, min_n=2, why="a covariance needs at least 2 samples").cpu()


def feature_statistics(feats) -> dict:
    """Mean, covariance (numpy) and count of N x D features, by torch-fidelity's statistics code."""
    from torch_fidelity.metric_fid import fid_features_to_statistics

    x = _as_cpu_tensor(feats)
    stats = fid_features_to_statistics(x)
    stats["n"] = x.shape[0]
    return stats


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, eq. 6)."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_statistics_to_metric

    m1, s1, m2, s2 = (np.atleast_1d(torch.as_tensor(a).detach().cpu().numpy()) for a in (mu1, sigma1, mu2, sigma2))
    # torch-fidelity needs equal dtypes per pair; its own statistics keep the mean in the features' dtype
    mu_dtype, sigma_dtype = np.result_type(m1, m2, np.float32), np.result_type(s1, s2, np.float32)
    m1, m2 = m1.astype(mu_dtype, copy=False), m2.astype(mu_dtype, copy=False)
    s1, s2 = s1.astype(sigma_dtype, copy=False), s2.astype(sigma_dtype, copy=False)
    if m1.ndim != 1 or m1.shape != m2.shape or s1.shape != (m1.size, m1.size) or s2.shape != s1.shape:
        raise ValueError(f"shapes do not match: mu {m1.shape}, {m2.shape}; sigma {s1.shape}, {s2.shape}")
    if not all(np.isfinite(a).all() for a in (m1, s1, m2, s2)):
        raise ValueError("statistics contain NaN or infinite values")
    d = fid_statistics_to_metric({"mu": m1, "sigma": s1}, {"mu": m2, "sigma": s2}, verbose=False)[KEY_METRIC_FID]
    if not np.isfinite(d):
        raise FloatingPointError(f"Frechet distance is not finite ({d}); check the statistics")
    return float(d)


def frechet_distance_to(feats: torch.Tensor, mu, sigma, what: str = "features") -> float:
    """Frechet distance from the Gaussian fitted to ``feats`` (N x D) to N(``mu``, ``sigma``), e.g. cached
    reference statistics; warns (:class:`SampleSizeWarning`) when N <= D."""
    feats = _as_cpu_tensor(feats, what)
    warn_if_singular(feats.shape[0], feats.shape[1], what)
    s = feature_statistics(feats)
    return frechet_distance(s["mu"], s["sigma"], mu, sigma)


def fid_from_features(feats_a, feats_b) -> float:
    """Frechet distance between Gaussians fitted to two N x D feature sets (FID on Inception pool3).

    Warns (:class:`SampleSizeWarning`) when either set has no more samples than dimensions.
    """
    a, b = _as_cpu_tensor(feats_a, "feats_a"), _as_cpu_tensor(feats_b, "feats_b")
    check_same_dim(a, b, "feats_a", "feats_b")
    dtype = torch.promote_types(a.dtype, b.dtype)
    for x in (a, b):
        warn_if_singular(x.shape[0], x.shape[1])
    sa, sb = feature_statistics(a.to(dtype)), feature_statistics(b.to(dtype))
    return frechet_distance(sa["mu"], sa["sigma"], sb["mu"], sb["sigma"])
