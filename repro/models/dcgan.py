"""DCGAN generator and discriminator (Radford et al. 2015, sec. 3 and fig. 1).

The 64 x 64 pair is the one the seed report printed (the PyTorch DCGAN example):

- generator: ConvTranspose ``nz -> 8 ngf`` (1 -> 4 x 4, stride 1), then stride-2 ConvTranspose
  ``8 ngf -> 4 ngf -> 2 ngf -> ngf -> C`` doubling the side each time; BatchNorm + ReLU after every
  layer but the last, which is Tanh (outputs in [-1, 1]);
- discriminator: stride-2 Conv ``C -> ndf -> 2 ndf -> 4 ndf -> 8 ndf`` halving the side, LeakyReLU(0.2)
  after each and BatchNorm after all but the first, then Conv ``8 ndf -> 1`` (4 x 4 -> 1 x 1).

At 32 x 32 the family has one stride-2 level fewer (``nz -> 4 ngf -> 2 ngf -> ngf -> C``). In general a
side ``s = 2^k`` (16 <= s <= 128) has ``k - 2`` stride-2 levels. Convolutions carry no bias (BatchNorm
follows them), as in the reference code.

One difference from the printed model: the discriminator returns the *logit* (no final Sigmoid); the
sigmoid lives inside the loss (:mod:`repro.train.gan_losses`), which is the numerically stable form of
the same function.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .init import dcgan_init_

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "dcgan_levels"]


def dcgan_levels(image_size: int) -> int:
    """Number of stride-2 (de)convolutions for a square image of side ``image_size`` (3 at 32, 4 at 64)."""
    k = round(math.log2(image_size)) if image_size > 0 else 0
    if image_size < 16 or image_size > 128 or 2**k != image_size:
        raise ValueError(f"DCGAN needs a power-of-two image size between 16 and 128, got {image_size}")
    return k - 2


class DCGANGenerator(nn.Module):
    """``G(z)``: latent ``z`` (N x nz, or N x nz x 1 x 1) to images N x C x s x s in [-1, 1]."""

    def __init__(self, nz: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.nz, self.ngf, self.channels, self.image_size = nz, ngf, channels, image_size
        levels = dcgan_levels(image_size)
        width = ngf * 2 ** (levels - 1)  # 8 ngf at 64 x 64, 4 ngf at 32 x 32
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
        ]
        for _ in range(levels - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim == 2:
            z = z[:, :, None, None]
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """``D(x)``: images N x C x s x s to logits N (the probability "x is real" is their sigmoid)."""

    def __init__(self, ndf: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        self.ndf, self.channels, self.image_size = ndf, channels, image_size
        levels = dcgan_levels(image_size)
        # no BatchNorm on the first layer (Radford et al. 2015, sec. 3)
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(levels - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()
