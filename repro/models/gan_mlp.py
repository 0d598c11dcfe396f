"""Small MLP generator and discriminator for the 2D Gaussian mixtures (the mode-collapse demonstration).

After Metz et al. 2017 ("Unrolled GANs", appendix A) and its public ports: the generator maps a
256-dimensional standard normal ``z`` through two ReLU hidden layers of 128 units to a linear 2D
output; the discriminator has ReLU hidden layers of 128 units and a linear logit. Depths, widths and
``nz`` are arguments. Layers keep PyTorch's default initialisation (the DCGAN N(0, 0.02) rule is for
the convolutional models).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLPDiscriminator", "MLPGenerator"]


def _mlp(d_in: int, hidden: int, depth: int, d_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.ReLU(True)]
    layers.append(nn.Linear(hidden if depth else d_in, d_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """``G(z)``: latent N x nz to points N x dim (unbounded: the mixtures live on radius 2 or 4)."""

    def __init__(self, nz: int = 256, hidden: int = 128, depth: int = 2, dim: int = 2) -> None:
        super().__init__()
        self.nz, self.dim = nz, dim
        self.main = _mlp(nz, hidden, depth, dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class MLPDiscriminator(nn.Module):
    """``D(x)``: points N x dim to logits N."""

    def __init__(self, hidden: int = 128, depth: int = 2, dim: int = 2) -> None:
        super().__init__()
        self.dim = dim
        self.main = _mlp(dim, hidden, depth, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()
