"""Trained generators behind one interface: ``.sample(n, *, sampler, steps, eta, batch_size, generator)``.

- :class:`TrainedGAN`: G(z), z ~ N(0, I) (one network evaluation per sample).
- :class:`TrainedDiffusion`: ancestral sampling (Ho et al. 2020, Algorithm 2) or DDIM (Song et al. 2021,
  eq. 12) on ``steps`` respaced steps of the trained process (Nichol & Dhariwal 2021, sec. 4).

Sampler settings are arguments of ``sample``, not part of a training config, so one trained model
serves every sampler. Noise comes from ``generator`` (or the global torch RNG); successive calls with
one generator continue its stream. :func:`repro.train.load_run` builds either from a run folder.

A diffusion model also samples towards requested labels ``y`` (:mod:`repro.diffusion.guidance`): with
a noise-aware ``classifier`` at gradient scale ``scale`` (Dhariwal & Nichol 2021, Algorithm 1 for the
ancestral sampler, Algorithm 2 for DDIM), and, for a class-conditional U-Net, as eps(x_t, y) or with
classifier-free guidance of weight ``guidance_weight`` (Ho & Salimans 2022, eq. 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..diffusion import GaussianDiffusion, ancestral_sample_loop, ddim_sample_loop
from ..diffusion.guidance import ClassifierFreeGuidance, classifier_guidance, with_label

__all__ = ["TrainedGAN", "TrainedDiffusion", "DIFFUSION_SAMPLERS"]

DIFFUSION_SAMPLERS = ("ddim", "ancestral")


def _device(model: nn.Module) -> torch.device:
    """Where the model's parameters (else buffers) live; the CPU for a model with neither (an analytic one)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


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
    With ``num_classes`` the model is class-conditional, ``model(x_t, t, y)``, and samples for labels ``y``.
    """

    model: nn.Module
    diffusion: GaussianDiffusion
    data_shape: tuple[int, ...]
    point_scale: float | None = None
    clip_denoised: bool = True
    num_classes: int | None = None  # a class-conditional model(x_t, t, y), labels 0..num_classes - 1 (null: num_classes)
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

    def _guide(self, n: int, y, classifier, scale: float, guidance_weight: float | None) -> None:
        """Checks, before any sampling, that the guidance arguments fit together and fit the model."""
        if y is None:
            if classifier is not None or guidance_weight is not None:
                raise ValueError("guidance needs the requested labels y (one per sample)")
            return
        if y.shape != (n,):
            raise ValueError(f"y must hold one label per sample, shape ({n},); got {tuple(y.shape)}")
        if scale != 0 and classifier is None:
            raise ValueError(f"scale = {scale} needs a noise-aware classifier (classifier=...)")
        if guidance_weight is not None and self.num_classes is None:
            raise ValueError("classifier-free guidance (guidance_weight) needs a class-conditional model; this one "
                             "is unconditional: use classifier guidance (classifier, scale) instead")
        if classifier is None and self.num_classes is None:
            raise ValueError("an unconditional model ignores y without a classifier: pass classifier and scale, "
                             "or sample a class-conditional model")
        if self.num_classes is not None and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must be in 0..{self.num_classes - 1}, got {int(y.min())}..{int(y.max())}")

    @torch.no_grad()
    def sample(self, n: int, *, sampler: str = "ddim", steps: int = 50, eta: float = 0.0, batch_size: int = 500,
               generator: torch.Generator | None = None, y: torch.Tensor | None = None, classifier=None,
               scale: float = 0.0, guidance_weight: float | None = None) -> torch.Tensor:
        """n samples: images in [-1, 1], or points in data coordinates; ``steps`` network calls each.

        With labels ``y`` (one per sample): a ``classifier(x_t, t)`` (logits of p_phi(y | x_t, t)) guides
        at gradient scale ``scale`` (0: no classifier guidance); a class-conditional model samples
        eps(x_t, y), or (1 + w) eps(x_t, y) - w eps(x_t) with ``guidance_weight`` = w. A conditional
        model sampled without ``y`` uses its null label (the unconditional model it learned).
        """
        if sampler not in DIFFUSION_SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(DIFFUSION_SAMPLERS)}")
        self._guide(n, y, classifier, scale, guidance_weight)
        process, device = self.process(steps), _device(self.model)
        out = []
        for i in range(0, n, batch_size):
            shape = (min(batch_size, n - i), *self.data_shape)
            model, cond_fn = self.model, None
            if y is not None:
                yb = y[i:i + shape[0]].to(device)
                if self.num_classes is not None:
                    model = (with_label(self.model, yb) if guidance_weight is None
                             else ClassifierFreeGuidance(self.model, yb, guidance_weight, self.num_classes))
                if classifier is not None and scale != 0:
                    cond_fn = classifier_guidance(classifier, yb, scale)
            if sampler == "ddim":
                x = ddim_sample_loop(process, model, shape, eta=eta, clip_denoised=self.clip_denoised,
                                     generator=generator, device=device, cond_fn=cond_fn)
            else:
                x = ancestral_sample_loop(process, model, shape, clip_denoised=self.clip_denoised,
                                          generator=generator, device=device, cond_fn=cond_fn)
            out.append(x.float())
        x = torch.cat(out) if out else torch.empty(0, *self.data_shape, device=device)
        return x * self.point_scale if self.point_scale is not None else x
