"""The Gaussian diffusion process: forward noising, reverse model, losses and likelihood.

Ho et al. 2020 (DDPM) with the learned variances, hybrid loss and respacing of Nichol & Dhariwal
2021 (iDDPM). Timesteps are 0-based: index t here is step t + 1 of the papers, so t = 0 is the
first noising step and its reverse is the decoder p(x0 | x1).

The object knows nothing of the network: every method that needs the model takes it as an argument
and calls ``model(x_t, t)`` with the integer timestep, expecting eps (C channels) followed, when the
variance is ``"learned_range"``, by the variance interpolation v (C more channels).

Schedule buffers stay float64 (CPU, with a per-device copy) and are cast to the data's dtype where
they are indexed.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

from .losses import discretized_gaussian_log_likelihood, mean_flat, normal_kl
from .respace import respaced_betas, space_timesteps

__all__ = ["GaussianDiffusion", "LOSS_TYPES", "VARIANCES", "DECODERS", "Model", "output_channels"]

Model = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOSS_TYPES = ("simple", "vlb", "hybrid")
# Sigma_theta(x_t, t): learned between beta_t and beta-tilde_t (iDDPM eq. 15), or fixed to
# sigma_t^2 = beta_t ("fixed_large") or beta-tilde_t ("fixed_small") (Ho et al. 2020, sec. 3.2).
VARIANCES = ("learned_range", "fixed_large", "fixed_small")
DECODERS = ("discretized", "continuous")  # L_0 for 8-bit data (Ho eq. 13) or a density for real data
_BUFFERS = ("betas", "log_betas", "alphas_cumprod", "alphas_cumprod_prev", "one_minus_alphas_cumprod",
            "sqrt_alphas_cumprod",
            "sqrt_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
            "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1",
            "posterior_mean_coef2", "fixed_log_variance")


def output_channels(variance: str, channels: int) -> int:
    """Output channels of a denoiser for data with ``channels``: eps, plus v when the variance is learned."""
    if variance not in VARIANCES:
        raise ValueError(f"unknown variance {variance!r}; choose one of {', '.join(VARIANCES)}")
    return channels * (2 if variance == "learned_range" else 1)


class GaussianDiffusion:
    """DDPM / iDDPM process on the float64 schedule ``betas`` (see :func:`get_beta_schedule`).

    Args:
        betas: beta_1..beta_T, each in (0, 1].
        variance: ``"learned_range"``: the model also outputs v and Sigma = exp(frac log beta_t +
            (1 - frac) log beta-tilde_t), frac = (v + 1) / 2 (iDDPM eq. 15); ``"fixed_large"``:
            sigma_t^2 = beta_t (Ho's CIFAR-10 choice); ``"fixed_small"``: sigma_t^2 = beta-tilde_t.
        loss_type: ``"simple"`` (Ho eq. 14, fixed variance), ``"vlb"`` (Ho eq. 5) or ``"hybrid"``
            (iDDPM eq. 16, learned variance).
        vlb_weight: lambda of the hybrid loss (iDDPM: 0.001).
        decoder: ``"discretized"`` (8-bit data in [-1, 1], Ho eq. 13) or ``"continuous"`` (L_0 is the
            Gaussian density of x0, for real-valued data such as 2D points).
        timestep_map: original index of each step, handed to the model (set by :meth:`respace`).
        alphas_cumprod: alpha-bar itself when it is known more exactly than cumprod(1 - betas), as for
            a respaced process, whose alpha-bar are those of the kept steps (set by :meth:`respace`).
    """

    def __init__(self, betas: torch.Tensor | Iterable[float], *, variance: str, loss_type: str,
                 vlb_weight: float = 1e-3, decoder: str = "discretized", timestep_map: torch.Tensor | None = None,
                 alphas_cumprod: torch.Tensor | None = None) -> None:
        for name, value, choices in (("loss_type", loss_type, LOSS_TYPES), ("decoder", decoder, DECODERS),
                                     ("variance", variance, VARIANCES)):
            if value not in choices:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
        learned = variance == "learned_range"
        if learned and loss_type == "simple":
            raise ValueError("L_simple gives the variance output no gradient (iDDPM sec. 3.1); "
                             "use loss_type='hybrid' or 'vlb' with variance='learned_range'")
        if not learned and loss_type == "hybrid":
            raise ValueError("the hybrid loss trains a learned variance; use variance='learned_range', or "
                             "loss_type='simple' for a fixed variance")
        betas = torch.as_tensor(betas, dtype=torch.float64).detach().cpu().clone()
        if betas.ndim != 1 or len(betas) == 0 or not bool(((betas > 0) & (betas <= 1)).all()):
            raise ValueError("betas must be a non-empty 1-D sequence of values in (0, 1]")
        self.variance, self.loss_type, self.vlb_weight = variance, loss_type, float(vlb_weight)
        self.learned_variance, self.decoder = learned, decoder
        self.num_timesteps = T = len(betas)
        self.timestep_map = (torch.arange(T) if timestep_map is None
                             else torch.as_tensor(timestep_map, dtype=torch.long).cpu())
        if self.timestep_map.shape != (T,):
            raise ValueError(f"timestep_map must have {T} entries, got {tuple(self.timestep_map.shape)}")

        # Ho et al. 2020, eq. 4: q(x_t | x0) = N(sqrt(abar_t) x0, (1 - abar_t) I), abar_t = prod(1 - beta_s).
        self.betas = betas
        self.log_betas = torch.log(betas)
        alphas = 1.0 - betas
        self.alphas_cumprod = (torch.cumprod(alphas, 0) if alphas_cumprod is None
                               else torch.as_tensor(alphas_cumprod, dtype=torch.float64).cpu().clone())
        if self.alphas_cumprod.shape != betas.shape:
            raise ValueError("alphas_cumprod must have one entry per beta")
        self.one_minus_alphas_cumprod = 1.0 - self.alphas_cumprod
        self.alphas_cumprod_prev = torch.cat([betas.new_ones(1), self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - self.alphas_cumprod).sqrt()
        self.sqrt_recip_alphas_cumprod = (1.0 / self.alphas_cumprod).sqrt()
        self.sqrt_recipm1_alphas_cumprod = (1.0 / self.alphas_cumprod - 1.0).sqrt()
        # Ho et al. 2020, eq. 7: q(x_{t-1} | x_t, x0) = N(coef1 x0 + coef2 x_t, beta-tilde_t I).
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # beta-tilde at the first step is 0; its log takes beta-tilde of the second step (Ho's code).
        first = self.posterior_variance[1:2] if T > 1 else betas[:1]
        self.posterior_log_variance_clipped = torch.log(torch.cat([first, self.posterior_variance[1:]]))
        self.posterior_mean_coef1 = betas * self.alphas_cumprod_prev.sqrt() / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * alphas.sqrt() / (1.0 - self.alphas_cumprod)
        # Fixed Sigma (Ho sec. 3.2). At the first step (the decoder) both choices use beta-tilde_2, as Ho
        # et al.'s code does for a better decoder log-likelihood; the papers leave this step unspecified.
        self.fixed_log_variance = (self.posterior_log_variance_clipped if variance == "fixed_small"
                                   else torch.log(torch.cat([first, betas[1:]])))
        self._device_buffers: dict[torch.device, dict[str, torch.Tensor]] = {}

    def __repr__(self) -> str:
        return (f"GaussianDiffusion(T={self.num_timesteps}, variance={self.variance!r}, "
                f"loss_type={self.loss_type!r}, vlb_weight={self.vlb_weight}, decoder={self.decoder!r})")

    # -- indexing the schedule -------------------------------------------------------------------
    def buffer(self, name: str, device: torch.device | str) -> torch.Tensor:
        """Schedule buffer ``name`` (float64) on ``device``, copied there once."""
        device = torch.device(device)
        if device not in self._device_buffers:
            self._device_buffers[device] = {k: getattr(self, k).to(device) for k in _BUFFERS}
            self._device_buffers[device]["timestep_map"] = self.timestep_map.to(device)
        return self._device_buffers[device][name]

    def at(self, name: str, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Buffer ``name`` at timesteps ``t`` (one per example), cast to ``x``'s dtype, broadcastable to ``x``."""
        value = self.buffer(name, x.device)[t].to(x.dtype)
        return value.view(-1, *([1] * (x.ndim - 1)))

    # -- forward process -------------------------------------------------------------------------
    def q_mean_variance(self, x0: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean, variance and log variance of q(x_t | x0) (Ho et al. 2020, eq. 4)."""
        mean = self.at("sqrt_alphas_cumprod", t, x0) * x0
        variance = self.at("one_minus_alphas_cumprod", t, x0).expand_as(x0)
        return mean, variance, torch.log(variance)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, eps ~ N(0, I) (Ho et al. 2020, eq. 4)."""
        noise = torch.randn_like(x0) if noise is None else noise
        return self.at("sqrt_alphas_cumprod", t, x0) * x0 + self.at("sqrt_one_minus_alphas_cumprod", t, x0) * noise

    def q_posterior_mean_variance(self, x0: torch.Tensor, x_t: torch.Tensor,
                                  t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean, variance beta-tilde_t and (clipped) log variance of q(x_{t-1} | x_t, x0) (Ho eqs. 6-7)."""
        mean = self.at("posterior_mean_coef1", t, x_t) * x0 + self.at("posterior_mean_coef2", t, x_t) * x_t
        variance = self.at("posterior_variance", t, x_t).expand_as(x_t)
        log_variance = self.at("posterior_log_variance_clipped", t, x_t).expand_as(x_t)
        return mean, variance, log_variance

    def predict_xstart_from_eps(self, x_t: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), eq. 4 solved for x0 (Ho eq. 15)."""
        return self.at("sqrt_recip_alphas_cumprod", t, x_t) * x_t - self.at("sqrt_recipm1_alphas_cumprod", t, x_t) * eps

    def predict_eps_from_xstart(self, x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """eps = (x_t / sqrt(abar_t) - x0) / sqrt(1 / abar_t - 1), eq. 4 solved for eps."""
        return ((self.at("sqrt_recip_alphas_cumprod", t, x_t) * x_t - x0)
                / self.at("sqrt_recipm1_alphas_cumprod", t, x_t))

    # -- reverse process -------------------------------------------------------------------------
    def model_output(self, model: Model, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``model(x_t, original t)`` in ``x_t``'s dtype, with its channel count checked."""
        out = model(x_t, self.buffer("timestep_map", x_t.device)[t])
        channels = output_channels(self.variance, x_t.shape[1])
        if out.shape != (x_t.shape[0], channels, *x_t.shape[2:]):
            raise ValueError(f"model returned shape {tuple(out.shape)}; expected {channels} channels "
                             f"{'(eps and v) ' if self.learned_variance else '(eps) '}for input {tuple(x_t.shape)}")
        return out.to(x_t.dtype)

    def split_output(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(eps, v) of a model output; v is ``None`` for a fixed variance."""
        if self.learned_variance:
            eps, v = out.chunk(2, dim=1)
            return eps, v
        return out, None

    def pred_xstart_from_output(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                                clip_denoised: bool = True) -> torch.Tensor:
        """x0 predicted from the model's eps (Ho eq. 15), clipped to [-1, 1] when ``clip_denoised``."""
        eps, _ = self.split_output(out)
        pred_xstart = self.predict_xstart_from_eps(x_t, t, eps)
        return pred_xstart.clamp(-1.0, 1.0) if clip_denoised else pred_xstart

    def p_mean_variance_from_output(self, out: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                                    clip_denoised: bool = True) -> dict[str, torch.Tensor]:
        """p(x_{t-1} | x_t) from a model output: Ho eq. 11 (through x0, eq. 15) and iDDPM eq. 15."""
        _, v = self.split_output(out)
        if v is not None:
            frac = (v + 1.0) / 2.0
            log_variance = (frac * self.at("log_betas", t, x_t)
                            + (1.0 - frac) * self.at("posterior_log_variance_clipped", t, x_t))
        else:
            log_variance = self.at("fixed_log_variance", t, x_t).expand_as(x_t)
        pred_xstart = self.pred_xstart_from_output(out, x_t, t, clip_denoised)
        mean, _, _ = self.q_posterior_mean_variance(pred_xstart, x_t, t)
        return {"mean": mean, "variance": torch.exp(log_variance), "log_variance": log_variance,
                "pred_xstart": pred_xstart}

    def p_mean_variance(self, model: Model, x_t: torch.Tensor, t: torch.Tensor,
                        clip_denoised: bool = True) -> dict[str, torch.Tensor]:
        """Mean, variance, log variance of p(x_{t-1} | x_t) and the predicted x0 (clipped to [-1, 1])."""
        return self.p_mean_variance_from_output(self.model_output(model, x_t, t), x_t, t, clip_denoised)

    # -- variational bound ---------------------------------------------------------------------
    def vb_terms_bpd(self, out: torch.Tensor, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor,
                     clip_denoised: bool = False) -> torch.Tensor:
        """Per-example L_t in bits/dim: KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t)) for t > 0, -log p(x0|x1) at t = 0.

        Ho et al. 2020, eq. 5 (one term of the sum), with the decoder of eq. 13.
        """
        true_mean, _, true_log_variance = self.q_posterior_mean_variance(x0, x_t, t)
        p = self.p_mean_variance_from_output(out, x_t, t, clip_denoised)
        kl = mean_flat(normal_kl(true_mean, true_log_variance, p["mean"], p["log_variance"])) / math.log(2.0)
        if self.decoder == "discretized":
            log_px0 = discretized_gaussian_log_likelihood(x0, p["mean"], 0.5 * p["log_variance"])
        else:
            log_px0 = -0.5 * (math.log(2 * math.pi) + p["log_variance"]
                              + (x0 - p["mean"]) ** 2 * torch.exp(-p["log_variance"]))
        decoder_nll = -mean_flat(log_px0) / math.log(2.0)
        return torch.where(t == 0, decoder_nll, kl)

    def prior_bpd(self, x0: torch.Tensor) -> torch.Tensor:
        """L_T = KL(q(x_T | x0) || N(0, I)) in bits/dim (Ho et al. 2020, eq. 5); no parameters."""
        t = torch.full((x0.shape[0],), self.num_timesteps - 1, device=x0.device, dtype=torch.long)
        mean, _, log_variance = self.q_mean_variance(x0, t)
        return mean_flat(normal_kl(mean, log_variance, torch.zeros_like(mean), torch.zeros_like(mean))) / math.log(2.0)

    def training_losses(self, model: Model, x0: torch.Tensor, t: torch.Tensor,
                        noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Per-example ``loss``, ``mse`` (L_simple, Ho eq. 14) and ``vb`` (L_t in bits/dim) at timesteps ``t``.

        ``vb`` sees the predicted mean through a stop-gradient except for ``"vlb"``, so that in the
        hybrid loss it trains only the variance (iDDPM sec. 3.1). The loss is
        - ``"simple"``: mse;
        - ``"hybrid"``: mse + vlb_weight * T * vb (iDDPM eq. 16, L_vlb = sum_t L_t estimated by T L_t);
        - ``"vlb"``: T * vb, the one-sample estimate of L_vlb (iDDPM eq. 4-5); a caller sampling t
          with probabilities p_t instead of 1/T multiplies by 1 / (T p_t) (iDDPM eq. 18).
        """
        noise = torch.randn_like(x0) if noise is None else noise
        x_t = self.q_sample(x0, t, noise)
        out = self.model_output(model, x_t, t)
        eps, v = self.split_output(out)
        mse = mean_flat((noise - eps) ** 2)
        if self.loss_type == "vlb":
            vb = self.vb_terms_bpd(out, x0, x_t, t)
            return {"loss": self.num_timesteps * vb, "mse": mse.detach(), "vb": vb}
        if self.loss_type == "simple":  # vb is only logged: no graph for it
            with torch.no_grad():
                vb = self.vb_terms_bpd(out.detach(), x0, x_t, t)
            return {"loss": mse, "mse": mse, "vb": vb}
        frozen = torch.cat([eps.detach(), v], dim=1)  # hybrid implies a learned variance
        vb = self.vb_terms_bpd(frozen, x0, x_t, t)
        return {"loss": mse + self.vlb_weight * self.num_timesteps * vb, "mse": mse, "vb": vb}

    @torch.no_grad()
    def nll_terms_bpd(self, model: Model, x0: torch.Tensor, clip_denoised: bool = True,
                      progress: bool = False) -> dict[str, torch.Tensor]:
        """The full bound, per example in bits/dim: ``total`` = ``prior`` + sum of ``terms`` (N x T).

        Ho et al. 2020, eq. 5: L_T + sum_{t>1} L_{t-1} + L_0, each L_t at a fresh x_t ~ q(x_t | x0).
        """
        terms = torch.zeros(x0.shape[0], self.num_timesteps, device=x0.device, dtype=x0.dtype)
        steps = range(self.num_timesteps - 1, -1, -1)
        if progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc="bits/dim")
        for i in steps:
            t = torch.full((x0.shape[0],), i, device=x0.device, dtype=torch.long)
            x_t = self.q_sample(x0, t)
            terms[:, i] = self.vb_terms_bpd(self.model_output(model, x_t, t), x0, x_t, t, clip_denoised)
        prior = self.prior_bpd(x0)
        return {"total": prior + terms.sum(dim=1), "prior": prior, "terms": terms}

    def nll_bpd(self, model: Model, x0: torch.Tensor, clip_denoised: bool = True,
                progress: bool = False) -> torch.Tensor:
        """Per-example variational bound on -log p(x0) in bits/dim (prior + sum of L_t + decoder)."""
        return self.nll_terms_bpd(model, x0, clip_denoised, progress)["total"]

    # -- respacing --------------------------------------------------------------------------------
    def respace(self, steps: int | str | Iterable[int]) -> "GaussianDiffusion":
        """This process on a subsequence of its steps (iDDPM sec. 4); see :func:`space_timesteps`.

        The new process has the same alphas_cumprod at the kept steps and hands the model the
        original timestep indices. A learned v interpolates between the new beta and beta-tilde.
        """
        kept = space_timesteps(self.num_timesteps, steps)
        return GaussianDiffusion(respaced_betas(self.alphas_cumprod, kept), variance=self.variance,
                                 loss_type=self.loss_type, vlb_weight=self.vlb_weight, decoder=self.decoder,
                                 timestep_map=self.timestep_map[torch.as_tensor(kept)],
                                 alphas_cumprod=self.alphas_cumprod[torch.as_tensor(kept)])
