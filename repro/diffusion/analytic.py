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

For a labelled mixture p(x0, y) = pi_y N(m_y, s_y^2 I) every marginal is again a mixture, so the
optimal noisy classifier p(y | x_t) (Bayes' rule on the components' marginals) and the optimal
denoiser E[eps | x_t] = sum_y p(y | x_t) eps*_y(x_t) are closed-form (:class:`MixtureClassifier`,
:class:`MixtureDenoiser`); given y the data are one Gaussian, the reference of the guidance tests.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .gaussian_diffusion import GaussianDiffusion

__all__ = ["GaussianDataDenoiser", "quantize", "discretized_gaussian_entropy_bits", "sampler_moments",
           "mixture_log_posterior", "MixtureClassifier", "MixtureDenoiser", "ancestral_guidance_bias_bound"]


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
        self.mean, self.std, self.learn_sigma = float(mean), float(std), diffusion.learned_variance
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
                    prior_mean: float = 0.0, prior_std: float = 1.0,
                    ancestral_variances: torch.Tensor | None = None) -> tuple[float, float]:
    """Mean and std of the samples of the optimal model for N(``mean``, ``std``^2), no clipping.

    ``alphas_cumprod`` are the steps the sampler visits (ascending). ``eta=None``: ancestral sampling
    with the true reverse variance of each visited step, or with the fixed Sigma_t of
    ``ancestral_variances`` (one per step, ascending; Ho et al. 2020 sec. 3.2) when given; a number:
    DDIM with that eta (Song eq. 12, 16). Each step maps z = x_t - sqrt(abar_t) m affinely,
    z' = c z + sigma n; the recursion is carried for the mean and variance of z, starting from
    x_T ~ N(prior_mean, prior_std^2).
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
            reverse = beta * vp / v if ancestral_variances is None else float(ancestral_variances[i])
            sigma2 = reverse if i > 0 else 0.0
        else:
            sigma2 = eta ** 2 * (1.0 - ap) / (1.0 - a) * (1.0 - a / ap)
            c = math.sqrt(ap) * c_x0 + math.sqrt(max(1.0 - ap - sigma2, 0.0)) * c_eps
        mu, var = c * mu, c * c * var + sigma2
    return mean + mu, math.sqrt(var)


def mixture_log_posterior(x_t: torch.Tensor, abar: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                          stds: torch.Tensor) -> torch.Tensor:
    """log p(y | x_t) for x0 ~ sum_y pi_y N(m_y, s_y^2 I) under q(x_t | x0) (Ho et al. 2020, eq. 4).

    Component y has the marginal N(sqrt(abar) m_y, v_y I), v_y = abar s_y^2 + 1 - abar; Bayes' rule gives
    p(y | x_t) = pi_y N(x_t; sqrt(abar) m_y, v_y I) / sum_k (...). ``x_t`` is N x D, ``abar`` N x 1
    (1 for clean data), ``means`` K x D; returns N x K normalised log-probabilities.
    """
    v = abar * stds.to(x_t.dtype) ** 2 + 1.0 - abar                                  # N x K
    sq = ((x_t[:, None, :] - abar.sqrt()[:, :, None] * means.to(x_t.dtype)) ** 2).sum(-1)  # N x K
    log_joint = torch.log(weights.to(x_t.dtype)) - 0.5 * x_t.shape[1] * torch.log(2 * math.pi * v) - 0.5 * sq / v
    return torch.log_softmax(log_joint, dim=1)


class _Mixture(nn.Module):
    """The mixture pi_y N(m_y, s_y^2 I) (``means`` K x D) and the alpha-bar of ``diffusion`` (before respacing)."""

    def __init__(self, diffusion: GaussianDiffusion, weights: list[float], means: list[list[float]],
                 stds: list[float]) -> None:
        super().__init__()
        self.register_buffer("abar", diffusion.alphas_cumprod.clone())
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float64))
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float64).reshape(len(weights), -1))
        self.register_buffer("stds", torch.as_tensor(stds, dtype=torch.float64))
        self.num_classes = len(weights)

    def abar_at(self, t: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        return self.abar[t].to(x_t.dtype)[:, None]


class MixtureClassifier(_Mixture):
    """The optimal noisy classifier p(y | x_t, t) of the mixture: ``forward`` returns its N x K log-probs.

    The Bayes classifier that Dhariwal & Nichol 2021 (sec. 4.1) train p_phi(y | x_t, t) to approximate.
    ``t`` is the original timestep of ``diffusion`` (so it serves every respacing of it).
    """

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return mixture_log_posterior(x_t, self.abar_at(t, x_t), self.weights, self.means, self.stds)


class MixtureDenoiser(_Mixture):
    """The optimal eps-predictor of the mixture, unconditional or given y (fixed-variance processes).

    ``forward(x_t, t, y=None)``: with a label y in 0..K-1, eps*_y(x_t) = sqrt(1 - abar_t) / v_y
    (x_t - sqrt(abar_t) m_y), the denoiser of component y alone; with ``y`` None or the null label K
    (:attr:`null_label`, Ho & Salimans 2022), E[eps | x_t] = sum_y p(y | x_t) eps*_y(x_t). Since
    eps*(x_t) = -sqrt(1 - abar_t) grad log p(x_t) (Song et al. 2021b), the two differ by
    -sqrt(1 - abar_t) grad log p(y | x_t): Dhariwal & Nichol's eq. 14 holds exactly here.
    """

    @property
    def null_label(self) -> int:
        return self.num_classes

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        abar = self.abar_at(t, x_t)
        v = abar * self.stds.to(x_t.dtype) ** 2 + 1.0 - abar                                   # N x K
        eps = (1.0 - abar).sqrt()[:, :, None] / v[:, :, None] * (
            x_t[:, None, :] - abar.sqrt()[:, :, None] * self.means.to(x_t.dtype))               # N x K x D
        weights = mixture_log_posterior(x_t, abar, self.weights, self.means, self.stds).exp()
        if y is not None:
            labelled = y != self.null_label
            one_hot = nn.functional.one_hot(y.clamp(max=self.num_classes - 1), self.num_classes).to(x_t.dtype)
            weights = torch.where(labelled[:, None], one_hot, weights)
        return (weights[:, :, None] * eps).sum(1)


def ancestral_guidance_bias_bound(alphas_cumprod: torch.Tensor, variances: torch.Tensor, std: float,
                                  mean_gap: float) -> float:
    """Largest distance between a sample of Algorithm 1 with s = 1 and one of the chain of component y alone.

    Dhariwal & Nichol 2021, Algorithm 1, on two components of equal std ``std`` whose means are
    ``mean_gap`` apart, with the exact model and classifier, against ancestral sampling (Ho et al. 2020,
    Algorithm 2) with the denoiser of component y and the same Sigma_t = ``variances`` (ascending, as
    ``alphas_cumprod``), whose moments :func:`sampler_moments` gives. With eps = eps_y +
    sqrt(1 - abar_t) g, g = grad log p(y | x_t), Ho's mean 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t)
    eps) plus Dhariwal & Nichol's shift Sigma_t g is the mean of component y plus r_t = (Sigma_t - beta_t /
    sqrt(alpha_t)) g. The log-odds are linear with slope sqrt(abar_t) mean_gap / v_t, which bounds |g|;
    driven by the same noise, both chains differ by at most sum_t |r_t| times the product of the later
    steps' factors c (the affine recursion of :func:`sampler_moments`). So do the samples' means and
    their standard deviations (Minkowski).
    """
    abar, s2 = alphas_cumprod.to(torch.float64).tolist(), std ** 2
    bound, gain = 0.0, 1.0  # gain: product of c over the steps after the current one
    for i in range(len(abar)):
        a, ap = abar[i], (abar[i - 1] if i > 0 else 1.0)
        beta, v = 1.0 - a / ap, a * s2 + 1.0 - a
        bound += abs(float(variances[i]) - beta / math.sqrt(1.0 - beta)) * math.sqrt(a) * abs(mean_gap) / v * gain
        c_x0 = math.sqrt(a) * s2 / v  # x0* - m = c_x0 z, as in sampler_moments
        gain *= beta * math.sqrt(ap) / (1.0 - a) * c_x0 + (1.0 - ap) * math.sqrt(1.0 - beta) / (1.0 - a)
    return bound
