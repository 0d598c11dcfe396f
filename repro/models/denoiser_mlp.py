"""A small noise-prediction MLP for low-dimensional data (the 2D Gaussian mixtures).

The same role as the U-Net, ``model(x_t, t)`` returning eps (and v when learning sigma), for points
instead of images. Each coordinate is also given as Fourier features sin(f x), cos(f x) with
frequencies f from 1 to ``max_frequency`` (Tancik et al. 2020): a plain MLP of raw coordinates
learns the narrow modes of the mixtures (std 1% of their spacing) far more slowly, which would
confound "slow to train" with "collapsed". The sinusoidal timestep embedding (as in the U-Net)
enters every residual block, and the output layer starts at zero.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .nn import timestep_embedding, zero_module

__all__ = ["DenoiserMLP", "MLP_PRESETS", "build_denoiser_mlp"]

MLP_PRESETS: dict[str, dict[str, Any]] = {
    "mlp": dict(hidden=128, depth=3, fourier_features=8, max_frequency=32.0),
    "mlp-wide": dict(hidden=256, depth=4, fourier_features=8, max_frequency=32.0),
}


class _Block(nn.Module):
    """h + W2 drop(silu(W1 silu(norm(h)) + E emb))."""

    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.emb = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        r = F.silu(self.fc1(F.silu(self.norm(h))) + self.emb(emb))
        return h + self.fc2(self.drop(r))


class DenoiserMLP(nn.Module):
    """eps-predictor for points of dimension ``dim``, with ``out_dim`` outputs (default ``dim``: eps; 2 * dim
    for eps and v of a learned variance, see :func:`repro.diffusion.output_channels`).

    Args:
        hidden, depth: width and number of residual blocks.
        fourier_features: number of frequencies per coordinate (0: raw coordinates only).
        max_frequency: the highest frequency; they are geometrically spaced from 1.
    """

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3, out_dim: int | None = None,
                 dropout: float = 0.0, fourier_features: int = 8, max_frequency: float = 32.0) -> None:
        super().__init__()
        self.dim, self.hidden, self.out_dim = dim, hidden, out_dim or dim
        freqs = torch.logspace(0.0, math.log10(max_frequency), fourier_features) if fourier_features else torch.zeros(0)
        self.register_buffer("freqs", freqs, persistent=False)
        self.time_embed = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.inp = nn.Linear(dim * (1 + 2 * fourier_features), hidden)
        self.blocks = nn.ModuleList([_Block(hidden, dropout) for _ in range(depth)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(),
                                 zero_module(nn.Linear(hidden, self.out_dim)))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time_embed(timestep_embedding(t, self.hidden).to(x.dtype))
        if len(self.freqs):
            a = (x[:, :, None] * self.freqs.to(x.dtype)).flatten(1)
            x = torch.cat([x, torch.sin(a), torch.cos(a)], dim=1)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)


def build_denoiser_mlp(preset: str, dim: int = 2, out_dim: int | None = None, **overrides: Any) -> DenoiserMLP:
    """A :class:`DenoiserMLP` from a named preset in :data:`MLP_PRESETS`, with keyword overrides."""
    if preset not in MLP_PRESETS:
        raise ValueError(f"unknown MLP preset {preset!r}; choose one of {', '.join(MLP_PRESETS)}")
    return DenoiserMLP(dim=dim, out_dim=out_dim, **{**MLP_PRESETS[preset], **overrides})
