"""The two likelihood terms of the diffusion variational bound, in nats (divide by log 2 for bits).

- :func:`normal_kl` is every L_{t-1} = KL(q(x_{t-1} | x_t, x0) || p(x_{t-1} | x_t)) and L_T
  (Ho et al. 2020, eq. 5): the KL divergence between two diagonal Gaussians.
- :func:`discretized_gaussian_log_likelihood` is the decoder term L_0 = -log p(x0 | x1) (Ho et al.
  2020, eq. 13): data are 8-bit values scaled to [-1, 1], so a pixel value x owns the bin
  [x - 1/255, x + 1/255] and the end bins extend to -inf and +inf.
"""

from __future__ import annotations

import math

import torch

__all__ = ["normal_kl", "discretized_gaussian_log_likelihood", "mean_flat", "standard_normal_cdf"]


def mean_flat(x: torch.Tensor) -> torch.Tensor:
    """Mean over all dimensions but the first (per-example mean of a batch)."""
    return x.mean(dim=tuple(range(1, x.ndim))) if x.ndim > 1 else x


def normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor,
              logvar2: torch.Tensor) -> torch.Tensor:
    """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) per element, in nats (arguments broadcast).

    KL = 1/2 [log(s2^2 / s1^2) + s1^2 / s2^2 + (mu1 - mu2)^2 / s2^2 - 1].
    """
    mean1, logvar1, mean2, logvar2 = (torch.as_tensor(a) for a in (mean1, logvar1, mean2, logvar2))
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2)
                  + (mean1 - mean2) ** 2 * torch.exp(-logvar2) - 1.0)


def standard_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Phi(x), the exact standard normal CDF (Ho et al.'s code uses a tanh approximation instead)."""
    return torch.special.ndtr(x)


def discretized_gaussian_log_likelihood(x: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor,
                                        num_bins: int = 256) -> torch.Tensor:
    """log P(x) per element, in nats, for x on the grid of ``num_bins`` values in [-1, 1].

    Ho et al. 2020, eq. 13: P(x) = integral over the bin of x of N(means, exp(log_scales)^2), with bin
    edges x -+ 1 / (num_bins - 1) and the first and last bins open to -inf and +inf. Probabilities
    are floored at 1e-12 as in Ho et al.'s code, so that a badly wrong decoder gives a large finite
    loss rather than infinity.
    """
    if not (x.shape == means.shape == log_scales.shape):
        raise ValueError(f"shapes differ: x {tuple(x.shape)}, means {tuple(means.shape)}, "
                         f"log_scales {tuple(log_scales.shape)}")
    half_bin = 1.0 / (num_bins - 1)
    inv_std = torch.exp(-log_scales)
    upper = (x - means + half_bin) * inv_std
    lower = (x - means - half_bin) * inv_std
    log_cdf_upper = torch.special.log_ndtr(upper)            # first bin: P(X <= x + half_bin)
    log_sf_lower = torch.special.log_ndtr(-lower)            # last bin: P(X >= x - half_bin)
    # Interior bins: Phi(upper) - Phi(lower), taken in the tail nearer to 0 to avoid cancellation.
    right_tail = lower > 0
    delta = torch.where(right_tail, standard_normal_cdf(-lower) - standard_normal_cdf(-upper),
                        standard_normal_cdf(upper) - standard_normal_cdf(lower))
    log_delta = torch.log(delta.clamp(min=1e-12))
    edge = 1.0 - half_bin / 2  # a value this close to -1 or 1 is an end bin
    return torch.where(x < -edge, log_cdf_upper.clamp(min=math.log(1e-12)),
                       torch.where(x > edge, log_sf_lower.clamp(min=math.log(1e-12)), log_delta))
