"""Trainers (GAN and diffusion), their run loop and checkpoints, and trained generators.

``load_run(path)`` reads a finished run back as a generator with ``.sample(n, ...)``.
"""

from .runs import load_diffusion, load_gan, load_run
from .trained import TrainedDiffusion, TrainedGAN

__all__ = ["load_run", "load_gan", "load_diffusion", "TrainedGAN", "TrainedDiffusion"]
