"""Small building blocks shared by the diffusion networks."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["timestep_embedding", "zero_module", "normalization"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017, sec. 3.5; Ho et al. 2020, App. B).

    Returns len(t) x ``dim`` float32 features [cos(t w_i), sin(t w_i)] with frequencies
    w_i = max_period^(-i / (dim / 2)), zero-padded when ``dim`` is odd.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return nn.functional.pad(emb, (0, dim % 2))


def zero_module(module: nn.Module) -> nn.Module:
    """Zero a layer's parameters, so that a residual branch starts as the identity (Ho et al.'s code)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def normalization(channels: int, groups: int = 32) -> nn.GroupNorm:
    """Group normalisation (Wu & He 2018) with 32 groups as in Ho et al. 2020, fewer for narrow layers."""
    groups = math.gcd(groups, channels)
    return nn.GroupNorm(groups, channels)
