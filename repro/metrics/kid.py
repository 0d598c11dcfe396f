"""Kernel Inception Distance (Binkowski et al. 2018, sec. 3 and appendix).

KID is the unbiased estimate of the squared MMD with the cubic polynomial kernel
k(x, y) = (x . y / d + 1)^3, averaged over ``num_subsets`` random subsets of ``subset_size`` samples
from each set; the standard deviation over subsets comes with it. Unlike FID it is unbiased in N, and
values slightly below 0 are valid (the two distributions are very close).

The computation is torch-fidelity's ``kid_features_to_metric`` (adapted from the MMD-GAN reference
code), with subsets drawn by ``numpy.random.RandomState(seed)``.
"""

from __future__ import annotations

import warnings

import torch

from .checks import check_features, check_same_dim
from .frechet import SampleSizeWarning

__all__ = ["kid_from_features"]


def kid_from_features(feats_a, feats_b, num_subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial-kernel MMD^2 over ``num_subsets`` subsets.

    When a set has fewer than ``subset_size`` samples, the subsets shrink to the smaller set's size
    (as in the MMD-GAN reference code), with a :class:`SampleSizeWarning`.
    """
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    why = "KID needs at least 2 samples in each set"
    a = check_features(feats_a, "feats_a", min_n=2, why=why).cpu()
    b = check_features(feats_b, "feats_b", min_n=2, why=why).cpu()
    check_same_dim(a, b, "feats_a", "feats_b")
    if num_subsets < 1 or subset_size < 2:
        raise ValueError(f"KID needs num_subsets >= 1 and subset_size >= 2, got {num_subsets} and {subset_size}")
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < subset_size:
        warnings.warn(f"KID subsets of {m} samples instead of {subset_size}: only {a.shape[0]} and {b.shape[0]} "
                      "samples given", SampleSizeWarning, stacklevel=2)
    dtype = torch.promote_types(a.dtype, b.dtype)
    out = kid_features_to_metric(a.to(dtype), b.to(dtype), kid_subsets=num_subsets, kid_subset_size=m,
                                 rng_seed=seed, verbose=False)
    return out[KEY_METRIC_KID_MEAN], out[KEY_METRIC_KID_STD]
