"""Exact reference results for Gaussian data x0 ~ N(m, s^2 I), to check the process and samplers.

For Gaussian data every marginal is Gaussian, x_t ~ N(sqrt(abar_t) m, v_t I) with
v_t = abar_t s^2 + 1 - abar_t, so the minimum-MSE noise predictor is linear,

    eps*(x_t, t) = E[eps | x_t] = sqrt(1 - abar_t) / v_t (x_t - sqrt(abar_t) m),

and the true reverse step q(x_{t-1} | x_t) is Gaussian with variance beta_t v_{t-1} / v_t
(v_{-1} = s^2). A DDPM whose model returns these is exact up to the prior mismatch at t = T and
the noiseless last step (which drops Var(x0 | x1), about beta_1), so ancestral sampling must
reproduce m and s. DDIM, a discretisation, is not exact for finitely many
steps; :func:`sampler_moments` gives the mean and standard deviation its samples must have, by
propagating the affine Gaussian recursion of each sampler in float64.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .gaussian_diffusion import GaussianDiffusion

__all__ = ["GaussianDataDenoiser", "quantize", "discretized_gaussian_entropy_bits", "sampler_moments"]


def _marginal_variance(alphas_cumprod: torch.Tensor, std: float) -> torch.Tensor:
    return alphas_cumprod * std ** 2 + 1.0 - alphas_cumprod


class GaussianDataDenoiser(nn.Module):
    """The optimal model of ``diffusion`` for x0 ~ N(``mean``, ``std``^2 I), in the model convention.

    Returns eps*(x_t, t) and, when the diffusion learns sigma, the v whose interpolated variance
    (iDDPM eq. 15) is the true reverse variance beta_t v_{t-1} / v_t. The v output is meant for the
    process it was built for (``diffusion`` before respacing); eps is valid for every respacing.
    """

    def __init__(self, diffusion: GaussianDiffusion, mean: float, std: float) -> None:
        super().__init__()
        self.mean, self.std, self.learn_sigma = float(mean), float(std), diffusion.learn_sigma
        abar = diffusion.alphas_cumprod
        v = _marginal_variance(abar, self.std)
        v_prev = torch.cat([v.new_full((1,), self.std ** 2), v[:-1]])
        log_var = torch.log(diffusion.betas * v_prev / v)
        lo, hi = diffusion.posterior_log_variance_clipped, diffusion.log_betas
        self.register_buffer("abar", abar)
        self.register_buffer("v", v)
        self.register_buffer("frac_out", 2.0 * (log_var - lo) / (hi - lo) - 1.0)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shape = (-1, *([1] * (x_t.ndim - 1)))
        abar, v = self.abar[t].view(shape), self.v[t].view(shape)
        eps = (torch.sqrt(1.0 - abar) / v * (x_t - torch.sqrt(abar) * self.mean)).to(x_t.dtype)
        if not self.learn_sigma:
            return eps
        return torch.cat([eps, self.frac_out[t].view(shape).to(x_t.dtype).expand_as(x_t)], dim=1)


def quantize(x: torch.Tensor, num_bins: int = 256) -> torch.Tensor:
    """Round values to the grid of ``num_bins`` levels in [-1, 1] (8-bit pixels for 256)."""
    k = num_bins - 1
    return torch.round((x.clamp(-1.0, 1.0) + 1.0) * (k / 2.0)) / (k / 2.0) - 1.0


def discretized_gaussian_entropy_bits(mean: float, std: float, num_bins: int = 256) -> float:
    """Entropy in bits of N(mean, std^2) quantised to the grid of :func:`quantize` (end bins open).

    This is the exact NLL per dimension of the quantised data under its own distribution, the
    lower bound of any model's expected NLL, hence of the variational bound.
    """
    k = num_bins - 1
    grid = torch.arange(num_bins, dtype=torch.float64) * (2.0 / k) - 1.0
    edges = torch.cat([torch.tensor([-math.inf]), grid[:-1] + 1.0 / k, torch.tensor([math.inf])])
    cdf = torch.special.ndtr((edges - mean) / std)
    p = (cdf[1:] - cdf[:-1]).clamp(min=0.0)
    p = p[p > 0]
    return float(-(p * torch.log2(p)).sum())


def sampler_moments(alphas_cumprod: torch.Tensor, mean: float, std: float, eta: float | None,
                    prior_mean: float = 0.0, prior_std: float = 1.0) -> tuple[float, float]:
    """Mean and std of the samples of the optimal model for N(``mean``, ``std``^2), no clipping.

    ``alphas_cumprod`` are the steps the sampler visits (ascending). ``eta=None``: ancestral sampling
    with the true reverse variance of each visited step; a number: DDIM with that eta (Song eq. 12,
    16). Each step maps z = x_t - sqrt(abar_t) m affinely, z' = c z + sigma n; the recursion is
    carried for the mean and variance of z, starting from x_T ~ N(prior_mean, prior_std^2).
    """
    abar = alphas_cumprod.to(torch.float64).tolist()
    s2 = std ** 2
    mu, var = prior_mean - math.sqrt(abar[-1]) * mean, prior_std ** 2
    for i in range(len(abar) - 1, -1, -1):
        a, ap = abar[i], (abar[i - 1] if i > 0 else 1.0)
        v, vp = a * s2 + 1.0 - a, (ap * s2 + 1.0 - ap)
        c_eps = math.sqrt(1.0 - a) / v                 # eps* = c_eps z
        c_x0 = math.sqrt(a) * s2 / v                   # x0* - m = c_x0 z
        if eta is None:
            beta = 1.0 - a / ap
            # Ho eq. 7 in z: coef1 (x0* - m) + coef2 z (the m terms add up to sqrt(abar_{t-1}) m)
            c = beta * math.sqrt(ap) / (1.0 - a) * c_x0 + (1.0 - ap) * math.sqrt(1.0 - beta) / (1.0 - a)
            sigma2 = beta * vp / v if i > 0 else 0.0
        else:
            sigma2 = eta ** 2 * (1.0 - ap) / (1.0 - a) * (1.0 - a / ap)
            c = math.sqrt(ap) * c_x0 + math.sqrt(max(1.0 - ap - sigma2, 0.0)) * c_eps
        mu, var = c * mu, c * c * var + sigma2
    return mean + mu, math.sqrt(var)
