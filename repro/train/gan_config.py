"""The GAN trainer's configuration: every hyperparameter of a run, the papers' presets, and the check
of a configuration against its data (:func:`resolve_config`, before any run folder is made)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..data import ImageDataset, MixtureDataset
from .gan_losses import GeneratorLoss, parse_generator_loss
from .loop import as_config

__all__ = ["GANTrainConfig", "PRESETS", "preset", "resolve_config"]


@dataclass(frozen=True)
class GANTrainConfig:
    """Every hyperparameter of a GAN run; recorded as the manifest's ``params``.

    ``arch`` is ``"dcgan"`` (images, ``image_size`` a power of two, ``channels`` taken from the data when
    ``None``) or ``"mlp"`` (2D mixtures). ``best_metric`` names a column of ``evaluate`` (e.g.
    ``"fd_classifier"``) and ``best_mode`` its direction; it selects ``best.pt``. ``bf16`` autocasts the
    forward passes; ``channels_last`` (CUDA) and ``compile`` only change speed. With several ranks
    (torchrun), ``sync_bn`` computes BatchNorm statistics over the global batch (SyncBatchNorm); the
    default is per-rank BatchNorm on each rank's slice, what the seed's single-GPU setting amounts to at
    its per-GPU batch.
    """

    arch: Literal["dcgan", "mlp"] = "dcgan"
    image_size: int = 64
    channels: int | None = None
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    mlp_hidden: int = 128
    mlp_hidden_D: int | None = None          # None: mlp_hidden
    mlp_depth_G: int = 2
    mlp_depth_D: int = 2
    g_norm: Literal["none", "batch"] = "none"   # MLP generator: BatchNorm before each ReLU
    d_arch: Literal["mlp", "maxout"] = "mlp"    # MLP discriminator: ReLU (Metz et al.) or maxout (PacGAN)
    maxout_pieces: int = 5
    init_std: float | None = None            # MLP weights N(0, init_std), biases 0; None: PyTorch's init
    batch_size: int = 128
    epochs: int = 25
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    betas_G: tuple = (0.5, 0.999)            # Adam
    betas_D: tuple = (0.5, 0.999)
    g_loss: str = GeneratorLoss.NON_SATURATING.value
    update: Literal["alternating", "simultaneous"] = "alternating"
    seed: int = 0
    grid_samples: int = 64
    grid_every: int = 1
    track_every: int = 1
    best_metric: str | None = None
    best_mode: Literal["min", "max"] = "min"
    check_every: int = 50                    # steps between reads of the non-finite-loss flag
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = False                    # several ranks: BatchNorm over the global batch


PRESETS: dict[str, GANTrainConfig] = {
    # The seed report: batch 128, nz 100, ngf = ndf = 64, lr_G 1e-4, lr_D 4e-4, Adam beta1 0.5, 64 x 64.
    "seed-report": GANTrainConfig(image_size=64, batch_size=128, nz=100, ngf=64, ndf=64, lr_G=1e-4, lr_D=4e-4),
    # Radford et al. 2015, sec. 4: lr 2e-4, beta1 0.5, batch 128.
    "dcgan-paper": GANTrainConfig(image_size=64, batch_size=128, nz=100, ngf=64, ndf=64, lr_G=2e-4, lr_D=2e-4),
    # A CPU-sized DCGAN for Fashion-MNIST at 32 x 32 (padded), paper learning rates, narrow layers.
    "fashion-mnist-32-cpu": GANTrainConfig(image_size=32, channels=1, nz=100, ngf=32, ndf=32, batch_size=64),
    # 2D mixtures, after Metz et al. 2017 app. A: z 256-d, 128-unit ReLU layers, batch 512, Adam 1e-4, beta1 0.5.
    "mixture-mlp": GANTrainConfig(arch="mlp", nz=256, mlp_hidden=128, batch_size=512, lr_G=1e-4, lr_D=1e-4,
                                  grid_samples=1000),
    # Lin et al. 2018 (PacGAN), Table 1's vanilla GAN, from its public code: z 2-d; G 4 x 400 (Linear,
    # BatchNorm, ReLU); D 3 maxout layers of 200 units x 5 pieces; weights N(0, 0.02); Adam 1e-4,
    # beta1 0.8; batch 100 of 100,000 points; simultaneous updates; 400 epochs (400,000 steps).
    "mixture-pacgan": GANTrainConfig(arch="mlp", nz=2, mlp_hidden=400, mlp_depth_G=4, g_norm="batch",
                                     mlp_hidden_D=200, mlp_depth_D=3, d_arch="maxout", maxout_pieces=5,
                                     init_std=0.02, batch_size=100, lr_G=1e-4, lr_D=1e-4, betas_G=(0.8, 0.999),
                                     betas_D=(0.8, 0.999), update="simultaneous", grid_samples=2500),
}


def preset(name: str, **overrides: Any) -> GANTrainConfig:
    """A named preset from :data:`PRESETS`, with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown GAN preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


def resolve_config(config: GANTrainConfig | Mapping[str, Any], dataset: ImageDataset | MixtureDataset) -> GANTrainConfig:
    """Check the config against the data and fill ``channels`` from it."""
    cfg = as_config(GANTrainConfig, config)
    parse_generator_loss(cfg.g_loss)  # unknown names fail here, before a run folder is made
    for name, value, choices in (("best_mode", cfg.best_mode, ("min", "max")),
                                 ("update", cfg.update, ("alternating", "simultaneous")),
                                 ("d_arch", cfg.d_arch, ("mlp", "maxout"))):
        if value not in choices:
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    if isinstance(dataset, MixtureDataset):
        if cfg.arch != "mlp":
            raise ValueError(f"the 2D mixture {dataset.name!r} needs arch='mlp', got {cfg.arch!r}")
        return cfg
    if cfg.arch != "dcgan":
        raise ValueError(f"image data needs arch='dcgan', got {cfg.arch!r}")
    c, h, w = dataset.images.shape[1:]
    if h != cfg.image_size or w != cfg.image_size:
        raise ValueError(f"images are {h} x {w} but image_size is {cfg.image_size}; "
                         f"load the data with image_size={cfg.image_size}")
    if cfg.channels is not None and cfg.channels != c:
        raise ValueError(f"images have {c} channels but the config says channels={cfg.channels}")
    return dataclasses.replace(cfg, channels=c)
