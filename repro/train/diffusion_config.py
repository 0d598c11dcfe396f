"""The diffusion trainer's configuration: every hyperparameter of a run, the papers' presets (Ho et al.
2020; Nichol & Dhariwal 2021), and the completion of a configuration from its data
(:func:`resolve_config`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from .loop import as_config

__all__ = ["DiffusionTrainConfig", "PRESETS", "preset", "resolve_config"]


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Every hyperparameter of a diffusion run, recorded as the manifest's ``params``.

    The defaults are Ho et al. 2020's CIFAR-10 setup (App. B); :data:`PRESETS` names the papers' other
    settings. ``decoder`` (``None``: discretised for 8-bit images, continuous for points) and
    ``point_scale`` (points are divided by it; ``None``: their root mean square) are filled from the data.
    ``track_*`` set the sampler of the per-epoch snapshots and ``evaluate``; ``best_metric`` (a column
    of ``evaluate``) keeps ``best.pt``.
    """

    model: str = "ho-cifar10"               # U-Net preset (repro.models.unet) or MLP preset ("mlp")
    model_kwargs: dict = field(default_factory=dict)
    num_classes: int | None = None          # class-conditional U-Net on the data's labels; None: unconditional
    p_uncond: float = 0.0                   # label dropout (Ho & Salimans 2022 use 0.1 or 0.2); needs num_classes
    schedule: str = "linear"                # "linear" | "cosine"
    num_timesteps: int = 1000
    variance: str = "fixed_large"           # "learned_range" | "fixed_large" | "fixed_small"
    loss_type: str = "simple"               # "simple" | "vlb" | "hybrid"
    vlb_weight: float = 1e-3                # lambda of the hybrid loss (iDDPM eq. 16)
    timestep_sampler: str = "uniform"       # "uniform" | "loss-second-moment" (iDDPM sec. 3.3, for "vlb")
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-4
    weight_decay: float = 0.0               # > 0 switches Adam to AdamW (papers: 0)
    betas: tuple = (0.9, 0.999)             # Adam
    warmup_steps: int = 5000                # lr_k = lr * min(1, k / warmup_steps), k = 1, 2, ...
    grad_clip: float | None = 1.0           # max global gradient norm; None: no clipping
    ema_decay: float = 0.9999
    seed: int = 0
    bf16: bool = False                      # bf16 autocast of the forward passes
    channels_last: bool = False             # CUDA memory format for the U-Net
    compile: bool = False                   # torch.compile the training forward pass
    decoder: str | None = None
    point_scale: float | None = None
    track_sampler: str = "ddim"             # "ddim" | "ancestral"
    track_steps: int = 50
    track_eta: float = 0.0
    track_batch_size: int = 500
    track_every: int = 1                    # epochs between evaluate() calls (the last epoch always)
    grid_samples: int = 64
    grid_every: int = 1                     # epochs between snapshots (the last epoch always)
    check_every: int = 100                  # steps between reads of the non-finite-loss flag
    best_metric: str | None = None
    best_mode: str = "min"


PRESETS: dict[str, DiffusionTrainConfig] = {
    # Ho et al. 2020, App. B: 35.7M U-Net (dropout 0.1), linear betas 1e-4..0.02, T = 1000, L_simple with
    # sigma_t^2 = beta_t, Adam 2e-4, batch 128, 5000 warm-up steps, clipping at 1, EMA 0.9999.
    "ho-cifar10": DiffusionTrainConfig(),
    # Nichol & Dhariwal 2021, sec. 3-4 and App. A (CIFAR-10): cosine schedule, T = 4000, learned Sigma with
    # L_hybrid (lambda 0.001), Adam 1e-4, batch 128, EMA 0.9999; their code neither warms up nor clips.
    "iddpm-cifar10": DiffusionTrainConfig(model="iddpm-cifar10", schedule="cosine", num_timesteps=4000,
                                          variance="learned_range", loss_type="hybrid", lr=1e-4, warmup_steps=0,
                                          grad_clip=None),
    # A CPU-sized DDPM for Fashion-MNIST at 32 x 32 (padded): the 0.65M-parameter "tiny" U-Net with
    # iDDPM's cosine schedule and hybrid loss (T = 1000), batch 64, Adam 5e-4 with 50 warm-up steps and an
    # EMA of 0.99, lowered from 0.9999 to fit runs of a few hundred to a few thousand steps.
    "fashion-mnist-32-cpu": DiffusionTrainConfig(model="tiny", schedule="cosine", variance="learned_range",
                                                 loss_type="hybrid", batch_size=64, lr=5e-4, warmup_steps=50,
                                                 ema_decay=0.99),
    # 2D mixtures: a residual MLP, T = 1000 with Ho's linear betas (the cosine schedule sharpened samples onto
    # modes of width 0.01 far more slowly), the hybrid loss as on images, EMA 0.995 for runs of a few
    # thousand steps.
    "mixture-mlp": DiffusionTrainConfig(model="mlp", schedule="linear", num_timesteps=1000,
                                        variance="learned_range", loss_type="hybrid", batch_size=512, lr=2e-3,
                                        warmup_steps=100, ema_decay=0.995, grid_samples=1000),
}


def preset(name: str, **overrides: Any) -> DiffusionTrainConfig:
    """A named preset of :data:`PRESETS`, with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown diffusion preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


def resolve_config(config: DiffusionTrainConfig | Mapping[str, Any], data: torch.Tensor) -> DiffusionTrainConfig:
    """The config with ``decoder`` and ``point_scale`` filled from the data, or a clear error."""
    config = as_config(DiffusionTrainConfig, config)
    points = data.is_floating_point()
    decoder = config.decoder or ("continuous" if points else "discretized")
    if points and decoder != "continuous":
        raise ValueError("real-valued data (2D points) need decoder='continuous'; 'discretized' is for 8-bit images")
    if not 0.0 <= config.p_uncond <= 1.0 or (config.p_uncond > 0 and config.num_classes is None):
        raise ValueError(f"p_uncond = {config.p_uncond} must be in [0, 1] and needs num_classes (label dropout "
                         "trains a class-conditional model)")
    scale = config.point_scale
    if points and scale is None:
        scale = float(data.double().pow(2).mean().sqrt())
    return dataclasses.replace(config, decoder=decoder, point_scale=scale if points else None)
