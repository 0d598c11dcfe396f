"""Trained generators behind one interface: ``.sample(n, *, sampler, steps, eta, batch_size, generator)``.

- :class:`TrainedGAN`: G(z), z ~ N(0, I) (one network evaluation per sample).
- :class:`TrainedDiffusion`: ancestral sampling (Ho et al. 2020, Algorithm 2) or DDIM (Song et al. 2021,
  eq. 12) on ``steps`` respaced steps of the trained process (Nichol & Dhariwal 2021, sec. 4).

Sampler settings are arguments of ``sample``, not part of a training config, so one trained model
serves every sampler. Noise comes from ``generator`` (or the global torch RNG); successive calls with
one generator continue its stream. :func:`repro.train.load_run` builds either from a run folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..diffusion import GaussianDiffusion, ancestral_sample_loop, ddim_sample_loop

__all__ = ["TrainedGAN", "TrainedDiffusion", "DIFFUSION_SAMPLERS"]

DIFFUSION_SAMPLERS = ("ddim", "ancestral")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@dataclass(frozen=True)
class TrainedGAN:
    """A generator ``G`` (eval mode while sampling) with latent size ``nz``."""

    G: nn.Module
    nz: int

    @torch.no_grad()
    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) in eval mode, float32 (G's mode is restored after)."""
        was_training = self.G.training
        self.G.eval()
        try:
            return self.G(z).float()
        finally:
            self.G.train(was_training)

    def sample(self, n: int, *, sampler: str = "gan", steps: int = 1, eta: float = 0.0, batch_size: int = 500,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples (images in [-1, 1] or points), float32, on G's device."""
        if sampler != "gan" or steps != 1:
            raise ValueError(f"a GAN samples in one step (sampler='gan', steps=1), got sampler={sampler!r}, "
                             f"steps={steps}")
        device = _device(self.G)
        return torch.cat([self.generate(torch.randn(min(batch_size, n - i), self.nz, device=device,
                                                    generator=generator)) for i in range(0, n, batch_size)])


@dataclass(frozen=True)
class TrainedDiffusion:
    """A denoiser (usually the EMA weights) and its process.

    Points (2D mixtures) are modelled divided by ``point_scale`` and sampled back in data coordinates;
    ``clip_denoised`` clips x0-hat to [-1, 1] for images (Ho et al.'s sampler) and not for points.
    """

    model: nn.Module
    diffusion: GaussianDiffusion
    data_shape: tuple[int, ...]
    point_scale: float | None = None
    clip_denoised: bool = True
    _respaced: dict = field(default_factory=dict, repr=False, compare=False)

    def process(self, steps: int) -> GaussianDiffusion:
        """The process on ``steps`` evenly spaced steps (all T when ``steps`` = T)."""
        T = self.diffusion.num_timesteps
        if not 1 <= steps <= T:
            raise ValueError(f"steps must be between 1 and the model's T = {T}, got {steps}")
        if steps == T:
            return self.diffusion
        if steps not in self._respaced:
            self._respaced[steps] = self.diffusion.respace(steps)
        return self._respaced[steps]

    @torch.no_grad()
    def sample(self, n: int, *, sampler: str = "ddim", steps: int = 50, eta: float = 0.0, batch_size: int = 500,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples: images in [-1, 1], or points in data coordinates; ``steps`` network calls each."""
        if sampler not in DIFFUSION_SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(DIFFUSION_SAMPLERS)}")
        process, device = self.process(steps), _device(self.model)
        out = []
        for i in range(0, n, batch_size):
            shape = (min(batch_size, n - i), *self.data_shape)
            if sampler == "ddim":
                x = ddim_sample_loop(process, self.model, shape, eta=eta, clip_denoised=self.clip_denoised,
                                     generator=generator, device=device)
            else:
                x = ancestral_sample_loop(process, self.model, shape, clip_denoised=self.clip_denoised,
                                          generator=generator, device=device)
            out.append(x.float())
        x = torch.cat(out) if out else torch.empty(0, *self.data_shape, device=device)
        return x * self.point_scale if self.point_scale is not None else x
