"""Reverse-process samplers: one step is one equation, the loop only walks t from T-1 to 0.

- :func:`ancestral_step`: Ho et al. 2020, Algorithm 2, x_{t-1} = mu_theta(x_t, t) + sigma_t z (no noise
  at the last step), with sigma_t from the model (learned) or fixed.
- :func:`ddim_step`: Song et al. 2021, eq. 12, x_{t-1} = sqrt(abar_{t-1}) x0_hat
  + sqrt(1 - abar_{t-1} - sigma_t^2) eps_hat + sigma_t z with sigma_t = eta sqrt(beta-tilde_t) (eq. 16);
  eta = 0 is deterministic, eta = 1 is ancestral sampling with the posterior variance beta-tilde_t.

Both loops draw the step noise z in the same order from ``generator``, so that on one set of kept
steps DDIM with eta = 1 and ancestral sampling with Sigma = beta-tilde_t give the same samples.

Both take an optional ``cond_fn(x_t, original t)`` = s grad log p_phi(y | x_t, t) for classifier
guidance (Dhariwal & Nichol 2021, Algorithms 1 and 2; see :mod:`.guidance`).
"""

from __future__ import annotations

from typing import Callable

import torch

from .gaussian_diffusion import GaussianDiffusion, Model
from .guidance import CondFn, condition_eps, condition_mean

__all__ = ["ancestral_step", "ddim_step", "ancestral_sample_loop", "ddim_sample_loop", "ddim_coefficients"]

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def ancestral_step(diffusion: GaussianDiffusion, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                   z: torch.Tensor, clip_denoised: bool = True, cond_fn: CondFn | None = None) -> torch.Tensor:
    """x_{t-1} = mu_theta(x_t, t) + sigma_t z, and z = 0 at t = 0 (Ho et al. 2020, Algorithm 2, line 4).

    With ``cond_fn``, mu becomes mu + Sigma s grad log p_phi(y | x_t) (Dhariwal & Nichol 2021, Algorithm 1).
    """
    p = diffusion.p_mean_variance(model, x_t, t, clip_denoised)
    mean = p["mean"]
    if cond_fn is not None:
        mean = condition_mean(mean, p["variance"], cond_fn(x_t, diffusion.buffer("timestep_map", x_t.device)[t]))
    not_last = (t != 0).to(x_t.dtype).view(-1, *([1] * (x_t.ndim - 1)))
    return mean + not_last * torch.exp(0.5 * p["log_variance"]) * z


def ddim_coefficients(diffusion: GaussianDiffusion, eta: float, device: torch.device) -> dict[str, torch.Tensor]:
    """Per-step float64 factors of Song et al. 2021, eq. 12, with sigma_t(eta) of eq. 16.

    eq. 16, sigma_t^2 = eta^2 (1 - abar_{t-1}) / (1 - abar_t) (1 - abar_t / abar_{t-1}), is eta^2
    beta-tilde_t; it is taken from ``posterior_variance`` to keep float64 precision near t = 0.
    """
    abar_prev = diffusion.alphas_cumprod_prev
    sigma = eta * diffusion.posterior_variance.sqrt()
    return {"sqrt_abar_prev": abar_prev.sqrt().to(device), "sigma": sigma.to(device),
            "dir": (1.0 - abar_prev - sigma ** 2).clamp(min=0.0).sqrt().to(device)}


def ddim_step(diffusion: GaussianDiffusion, model: Model, x_t: torch.Tensor, t: torch.Tensor, z: torch.Tensor,
              coef: dict[str, torch.Tensor], clip_denoised: bool = True, cond_fn: CondFn | None = None) -> torch.Tensor:
    """x_{t-1} = sqrt(abar_{t-1}) x0_hat + sqrt(1 - abar_{t-1} - sigma_t^2) eps_hat + sigma_t z (Song eq. 12).

    eps_hat is recomputed from the (clipped) x0_hat, so that both terms describe the same x0. With
    ``cond_fn``, the model's eps is first replaced by eps - sqrt(1 - abar_t) s grad log p_phi(y | x_t)
    (Dhariwal & Nichol 2021, Algorithm 2).
    """
    out = diffusion.model_output(model, x_t, t)
    if cond_fn is not None:
        c = x_t.shape[1]  # eps, then v when the variance is learned (unused by DDIM)
        guidance = cond_fn(x_t, diffusion.buffer("timestep_map", x_t.device)[t])
        eps = condition_eps(out[:, :c], diffusion.at("sqrt_one_minus_alphas_cumprod", t, x_t), guidance)
        out = torch.cat([eps, out[:, c:]], dim=1)
    x0 = diffusion.pred_xstart_from_output(out, x_t, t, clip_denoised)
    eps = diffusion.predict_eps_from_xstart(x_t, t, x0)

    def c(name: str) -> torch.Tensor:
        return coef[name][t].to(x_t.dtype).view(-1, *([1] * (x_t.ndim - 1)))

    return c("sqrt_abar_prev") * x0 + c("dir") * eps + c("sigma") * z


def _sample_loop(diffusion: GaussianDiffusion, model: Model, shape: tuple[int, ...], step: Step,
                 noise: torch.Tensor | None, generator: torch.Generator | None,
                 device: torch.device | str | None, progress: bool, draw_noise: bool = True) -> torch.Tensor:
    device = torch.device(device) if device is not None else _model_device(model, noise)
    shape = tuple(noise.shape) if noise is not None else tuple(shape)
    x = noise.to(device) if noise is not None else torch.randn(shape, generator=generator, device=device)
    steps = range(diffusion.num_timesteps - 1, -1, -1)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="sampling")
    z = torch.zeros_like(x)  # one noise buffer, refilled in place: the same draws as torch.randn
    t = torch.empty(shape[0], device=device, dtype=torch.long)
    for i in steps:
        t.fill_(i)
        if draw_noise:
            z.normal_(generator=generator)
        x = step(x, t, z)
    return x


@torch.no_grad()
def ancestral_sample_loop(diffusion: GaussianDiffusion, model: Model, shape: tuple[int, ...],
                          noise: torch.Tensor | None = None, progress: bool = False, clip_denoised: bool = True,
                          generator: torch.Generator | None = None,
                          device: torch.device | str | None = None, cond_fn: CondFn | None = None) -> torch.Tensor:
    """Samples x0 from x_T = ``noise`` (or fresh N(0, I)) through every step of ``diffusion``.

    ``cond_fn``: classifier guidance, Dhariwal & Nichol 2021, Algorithm 1 (see :mod:`.guidance`).
    """
    def step(x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return ancestral_step(diffusion, model, x, t, z, clip_denoised, cond_fn)

    return _sample_loop(diffusion, model, shape, step, noise, generator, device, progress)


@torch.no_grad()
def ddim_sample_loop(diffusion: GaussianDiffusion, model: Model, shape: tuple[int, ...], eta: float = 0.0,
                     noise: torch.Tensor | None = None, progress: bool = False, clip_denoised: bool = True,
                     generator: torch.Generator | None = None,
                     device: torch.device | str | None = None, cond_fn: CondFn | None = None) -> torch.Tensor:
    """DDIM samples through every step of ``diffusion`` (respace it first for fewer steps).

    ``cond_fn``: classifier guidance, Dhariwal & Nichol 2021, Algorithm 2 (see :mod:`.guidance`).
    """
    if eta < 0:
        raise ValueError(f"eta must be non-negative, got {eta}")
    device = torch.device(device) if device is not None else _model_device(model, noise)
    coef = ddim_coefficients(diffusion, eta, device)

    def step(x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return ddim_step(diffusion, model, x, t, z, coef, clip_denoised, cond_fn)

    return _sample_loop(diffusion, model, shape, step, noise, generator, device, progress, draw_noise=eta > 0)


def _model_device(model: Model, noise: torch.Tensor | None) -> torch.device:
    if noise is not None:
        return noise.device
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if callable(params) else None
    return first.device if first is not None else torch.device("cpu")
