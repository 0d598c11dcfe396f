"""Weight initialisation of Radford et al. 2015 (DCGAN), sec. 4.

"All weights were initialized from a zero-centered Normal distribution with standard deviation 0.02."
BatchNorm scales (gamma) are drawn from N(1, 0.02) and all biases set to zero, as in the reference
PyTorch DCGAN example that the seed report ran.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DCGAN_INIT_STD", "dcgan_init_"]

DCGAN_INIT_STD = 0.02


@torch.no_grad()
def dcgan_init_(module: nn.Module, std: float = DCGAN_INIT_STD) -> nn.Module:
    """Initialise every (transposed) convolution and linear layer N(0, std), BatchNorm gamma N(1, std).

    Works in place on ``module`` and its children and returns it; uses the global torch RNG.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module
