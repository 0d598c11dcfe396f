"""Small MLP generators and discriminators for the 2D Gaussian mixtures (the mode-collapse demonstration).

Two published setups are expressible with the arguments below:

- After Metz et al. 2017 ("Unrolled GANs", appendix A) and its public ports (the defaults): the
  generator maps a 256-dimensional standard normal ``z`` through two ReLU hidden layers of 128 units to
  a linear 2D output; the discriminator has ReLU hidden layers of 128 units and a linear logit. Layers
  keep PyTorch's default initialisation.
- Lin et al. 2018 (PacGAN), sec. 4.1 and its public code for Table 1 (the vanilla GAN is PacGAN with
  one packed sample): ``MLPGenerator(nz=2, hidden=400, depth=4, norm="batch", init_std=0.02)``, four
  400-unit layers each ``Linear`` (no bias) -> BatchNorm -> ReLU, and a linear 2D output with bias; and
  ``MaxoutDiscriminator()``, three maxout layers of 200 units with 5 pieces (Goodfellow et al. 2013) and
  a linear logit. Every weight is drawn from N(0, 0.02) and every bias is zero; BatchNorm starts at
  scale 1, shift 0, with eps 1e-4 and a running-average rate of 0.05 (PyTorch's are 1e-5 and 0.1).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["Maxout", "MaxoutDiscriminator", "MLPDiscriminator", "MLPGenerator", "normal_init_"]

# BatchNorm settings of PacGAN's code (the Blocks library's defaults there): eps 1e-4, and population
# statistics updated as 0.95 * old + 0.05 * batch.
BN_EPS = 1e-4
BN_MOMENTUM = 0.05

Norm = Literal["none", "batch"]


@torch.no_grad()
def normal_init_(module: nn.Module, std: float) -> nn.Module:
    """Every linear weight N(0, std), every bias zero, BatchNorm scale 1 and shift 0 (PacGAN's init)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def _mlp(d_in: int, hidden: int, depth: int, d_out: int, norm: Norm = "none") -> nn.Sequential:
    if norm not in ("none", "batch"):
        raise ValueError(f"norm must be 'none' or 'batch', got {norm!r}")
    layers: list[nn.Module] = []
    for i in range(depth):
        width_in = d_in if i == 0 else hidden
        if norm == "batch":  # the shift of BatchNorm makes a bias redundant
            layers += [nn.Linear(width_in, hidden, bias=False),
                       nn.BatchNorm1d(hidden, eps=BN_EPS, momentum=BN_MOMENTUM)]
        else:
            layers.append(nn.Linear(width_in, hidden))
        layers.append(nn.ReLU(True))
    layers.append(nn.Linear(hidden if depth else d_in, d_out))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """``G(z)``: latent N x nz to points N x dim (unbounded: the mixtures live on radius 1, 2 or 4).

    ``norm="batch"`` puts BatchNorm before each ReLU (PacGAN's generator); in train mode it then uses
    the batch's statistics, in eval mode the running ones. ``init_std`` draws every weight from
    N(0, init_std) with zero biases; ``None`` keeps PyTorch's default initialisation.
    """

    def __init__(self, nz: int = 256, hidden: int = 128, depth: int = 2, dim: int = 2,
                 norm: Norm = "none", init_std: float | None = None) -> None:
        super().__init__()
        self.nz, self.dim = nz, dim
        self.main = _mlp(nz, hidden, depth, dim, norm)
        if init_std is not None:
            normal_init_(self, init_std)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class MLPDiscriminator(nn.Module):
    """``D(x)``: points N x dim to logits N."""

    def __init__(self, hidden: int = 128, depth: int = 2, dim: int = 2, init_std: float | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.main = _mlp(dim, hidden, depth, 1)
        if init_std is not None:
            normal_init_(self, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013, eq. 1): the maximum over ``pieces`` affine maps per unit."""

    def __init__(self, d_in: int, d_out: int, pieces: int) -> None:
        super().__init__()
        self.d_out, self.pieces = d_out, pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).unflatten(-1, (self.d_out, self.pieces)).amax(-1)


class MaxoutDiscriminator(nn.Module):
    """``D(x)``: points N x dim to logits N through ``depth`` maxout layers and a linear logit.

    The defaults are PacGAN's discriminator for its 2D experiments: three layers of 200 units with 5
    pieces, weights N(0, 0.02), zero biases.
    """

    def __init__(self, hidden: int = 200, depth: int = 3, pieces: int = 5, dim: int = 2,
                 init_std: float | None = 0.02) -> None:
        super().__init__()
        self.dim = dim
        layers: list[nn.Module] = [Maxout(dim if i == 0 else hidden, hidden, pieces) for i in range(depth)]
        layers.append(nn.Linear(hidden if depth else dim, 1))
        self.main = nn.Sequential(*layers)
        if init_std is not None:
            normal_init_(self, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()
