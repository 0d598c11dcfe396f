"""Bootstrap intervals for metrics of generated samples (Efron & Tibshirani 1993, ch. 6 and 13).

The generated samples' features are resampled with replacement ``n_boot`` times and the statistic is
recomputed on each resample; the interval is the estimate plus or minus ``z`` standard deviations of
those values (the normal bootstrap interval, ``z`` = 1.96 for 95%). Not their percentiles: a resample
repeats about a third of its rows, which shrinks its covariance's rank and shifts a Fréchet distance
upwards, so the resamples' values sit above the estimate while their spread still measures its
sampling variability. The reference statistics stay fixed: the interval covers the variability of the
N generated samples, not of the reference set, and it does not remove the upward bias of a Fréchet
distance at finite N (compare numbers at equal N, and against real images at that N; see :mod:`.frechet`).
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

import torch

from .checks import check_features

__all__ = ["bootstrap_interval", "fd_interval", "mean_interval", "normal_quantile", "Z95", "FrechetToFixed"]


def normal_quantile(level: float) -> float:
    """z of a two-sided normal interval at ``level``: the standard normal's (1 + level) / 2 quantile."""
    if not 0 < level < 1:
        raise ValueError(f"level = {level} must be in (0, 1), e.g. 0.95")
    return NormalDist().inv_cdf((1 + level) / 2)


Z95 = normal_quantile(0.95)  # 1.95996...: every 95% interval of the package


def bootstrap_interval(feats, statistic: Callable[[torch.Tensor], float], n_boot: int = 100,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """The normal bootstrap interval of ``statistic(feats)``: the estimate +- z x the standard deviation of
    the statistic over ``n_boot`` resamples of the rows of ``feats``."""
    if n_boot < 2:
        raise ValueError(f"n_boot = {n_boot}: a bootstrap interval needs at least 2 resamples (use 100 or more)")
    z = normal_quantile(level)
    x = check_features(feats, "features", min_n=2, why="resampling needs at least 2 samples")
    g = torch.Generator().manual_seed(seed)
    values = torch.tensor([float(statistic(x[torch.randint(0, x.shape[0], (x.shape[0],), generator=g)]))
                           for _ in range(n_boot)], dtype=torch.float64)
    estimate, spread = float(statistic(x)), float(values.std())
    return estimate - z * spread, estimate + z * spread


class FrechetToFixed:
    """The Fréchet distance (Heusel et al. 2017, eq. 6) from features to a fixed N(``mu``, ``sigma``), fast
    enough to recompute hundreds of times: with A = sigma^(1/2) (one symmetric eigendecomposition),
    Tr((sigma_x sigma)^(1/2)) = Tr((A sigma_x A)^(1/2)), whose eigenvalues are those of the N x N matrix
    (X_c A)(X_c A)^T / (N - 1) for the centred features X_c, a symmetric problem (equal to
    :func:`.frechet.frechet_distance_to` up to rounding; tests/test_bootstrap.py checks it)."""

    def __init__(self, mu, sigma) -> None:
        self.mu = torch.as_tensor(mu, dtype=torch.float64).flatten()
        s = torch.as_tensor(sigma, dtype=torch.float64)
        w, v = torch.linalg.eigh((s + s.T) / 2)
        self.sqrt_sigma = (v * w.clamp(min=0).sqrt()) @ v.T
        self.trace_sigma = float(torch.trace(s))

    def __call__(self, feats: torch.Tensor) -> float:
        x = feats.to(torch.float64)
        n = x.shape[0]
        mean = x.mean(0)
        xc = x - mean
        m = xc @ self.sqrt_sigma
        small = (m @ m.T) if n <= m.shape[1] else (m.T @ m)   # the same nonzero eigenvalues
        tr_sqrt = torch.linalg.eigvalsh(small / (n - 1)).clamp(min=0).sqrt().sum()
        return float((mean - self.mu).pow(2).sum() + xc.pow(2).sum() / (n - 1) + self.trace_sigma - 2 * tr_sqrt)


def fd_interval(feats, mu, sigma, n_boot: int = 100, level: float = 0.95, seed: int = 0,
                what: str = "features") -> tuple[float, float]:
    """Bootstrap interval of the Fréchet distance from ``feats`` to the fixed N(``mu``, ``sigma``)."""
    x = check_features(feats, what, min_n=2, why="a covariance needs at least 2 samples")
    lo, hi = bootstrap_interval(x, FrechetToFixed(mu, sigma), n_boot, level, seed)
    return max(lo, 0.0), hi  # a distance is never negative: the normal interval is cut at 0


def mean_interval(terms, level: float = 0.95) -> tuple[float, float]:
    """The interval of the mean of ``terms`` (independent per-sample values). For 0/1 terms, a proportion
    p of n, the Wilson score interval (Wilson 1927), (p + z²/2n ± z sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n):
    it stays inside [0, 1] and keeps a width at p = 0 or 1, where the Wald interval p ± z sqrt(p(1 - p)/n)
    shrinks to a point. Otherwise the normal interval mean ± z sd / sqrt(n), the limit of the bootstrap
    interval of a mean as ``n_boot`` grows."""
    z = normal_quantile(level)
    x = torch.as_tensor(terms, dtype=torch.float64).flatten()
    if x.numel() < 2:
        raise ValueError(f"an interval of a mean needs at least 2 terms, got {x.numel()}")
    n, mean = x.numel(), float(x.mean())
    if bool(((x == 0) | (x == 1)).all()):
        centre, half = mean + z * z / (2 * n), z * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n))
        return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)
    half = z * float(x.std()) / n ** 0.5
    return mean - half, mean + half
