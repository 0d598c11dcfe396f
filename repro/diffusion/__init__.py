"""Diffusion models as in the papers: beta schedules, the Gaussian process, respacing, samplers.

- :mod:`.schedule`: linear (Ho et al. 2020) and cosine (Nichol & Dhariwal 2021) betas, float64.
- :mod:`.gaussian_diffusion`: q(x_t | x0), its posterior, p(x_{t-1} | x_t) with fixed or learned
  variance, the simple / vlb / hybrid losses and the bound in bits/dim.
- :mod:`.losses`: the KL and discretised-decoder terms of the bound.
- :mod:`.respace`: a process on a subsequence of its steps (iDDPM sec. 4).
- :mod:`.samplers`: ancestral (Ho et al. 2020) and DDIM (Song et al. 2021) sampling.
- :mod:`.timestep_sampler`: uniform and importance-sampled training timesteps.
- :mod:`.analytic`: exact results for Gaussian data, the reference of the tests.
"""

from .gaussian_diffusion import DECODERS, FIXED_VARIANCES, LOSS_TYPES, GaussianDiffusion
from .losses import discretized_gaussian_log_likelihood, mean_flat, normal_kl
from .respace import space_timesteps
from .schedule import SCHEDULES, get_beta_schedule
from .timestep_sampler import make_timestep_sampler

__all__ = [
    "GaussianDiffusion", "get_beta_schedule", "space_timesteps", "normal_kl",
    "discretized_gaussian_log_likelihood", "mean_flat", "make_timestep_sampler",
    "SCHEDULES", "LOSS_TYPES", "FIXED_VARIANCES", "DECODERS",
]
