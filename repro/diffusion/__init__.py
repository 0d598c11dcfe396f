"""Diffusion models as in the papers: beta schedules, the Gaussian process, respacing, samplers.

- :mod:`.schedule`: linear (Ho et al. 2020) and cosine (Nichol & Dhariwal 2021) betas, float64.
- :mod:`.gaussian_diffusion`: q(x_t | x0), its posterior, p(x_{t-1} | x_t) with fixed or learned
  variance, the simple / vlb / hybrid losses and the bound in bits/dim.
- :mod:`.losses`: the KL and discretised-decoder terms of the bound.
- :mod:`.respace`: a process on a subsequence of its steps (iDDPM sec. 4).
- :mod:`.samplers`: ancestral (Ho et al. 2020) and DDIM (Song et al. 2021) sampling.
- :mod:`.timestep_sampler`: uniform and importance-sampled training timesteps.
- :mod:`.guidance`: classifier guidance (Dhariwal & Nichol 2021, Algorithms 1-2) and classifier-free
  guidance (Ho & Salimans 2022).
- :mod:`.analytic`: exact results for Gaussian data, the reference of the tests.
"""

from .gaussian_diffusion import DECODERS, LOSS_TYPES, VARIANCES, GaussianDiffusion, output_channels
from .losses import discretized_gaussian_log_likelihood, mean_flat, normal_kl
from .respace import space_timesteps
from .samplers import ancestral_sample_loop, ddim_sample_loop
from .schedule import SCHEDULES, get_beta_schedule
from .timestep_sampler import make_timestep_sampler

__all__ = [
    "GaussianDiffusion", "get_beta_schedule", "space_timesteps", "normal_kl",
    "discretized_gaussian_log_likelihood", "mean_flat", "make_timestep_sampler",
    "ancestral_sample_loop", "ddim_sample_loop", "output_channels",
    "SCHEDULES", "LOSS_TYPES", "VARIANCES", "DECODERS",
]
