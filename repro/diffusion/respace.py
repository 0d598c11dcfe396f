"""Sampling on a subsequence of the timesteps (Nichol & Dhariwal 2021, sec. 4; Song et al. 2021, sec. 4.2).

A diffusion trained with T steps defines alpha-bar_t for every t. Keeping only the steps
S = (S_1 < ... < S_K) gives a shorter Markov chain with the same marginals q(x_{S_k} | x0): its
betas are beta_k = 1 - alpha-bar_{S_k} / alpha-bar_{S_{k-1}} (iDDPM sec. 4), and the model, which was
trained on the original indices, is called with S_k instead of k.
"""

from __future__ import annotations

from typing import Iterable

import torch

__all__ = ["space_timesteps", "respaced_betas"]


def space_timesteps(num_timesteps: int, steps: int | str | Iterable[int]) -> list[int]:
    """The kept timesteps, ascending, as indices into 0..T-1.

    - ``int`` K: K steps evenly spaced from 0 to T-1 inclusive, rounded to the nearest integer
      (the even striding of iDDPM sec. 4, which keeps both ends of the chain).
    - ``"ddimK"``: 0, c, 2c, ... with integer stride c = T // K (Song et al. 2021, sec. 4.2, "uniform"
      choice of tau, as in their and iDDPM's code).
    - an iterable: exactly those steps.
    """
    if isinstance(steps, str):
        if not steps.startswith("ddim") or not steps[4:].isdigit():
            raise ValueError(f"a string step spacing must look like 'ddim50', got {steps!r}")
        k = int(steps[4:])
        if not 1 <= k <= num_timesteps:
            raise ValueError(f"cannot keep {k} of {num_timesteps} steps")
        kept = list(range(0, num_timesteps, num_timesteps // k))[:k]
    elif isinstance(steps, int):
        if not 1 <= steps <= num_timesteps:
            raise ValueError(f"cannot keep {steps} of {num_timesteps} steps")
        if steps == 1:
            kept = [num_timesteps - 1]
        else:
            stride = (num_timesteps - 1) / (steps - 1)
            kept = [round(i * stride) for i in range(steps)]
    else:
        kept = sorted(int(s) for s in steps)
    if len(set(kept)) != len(kept) or not kept or kept[0] < 0 or kept[-1] >= num_timesteps:
        raise ValueError(f"kept timesteps must be distinct values in [0, {num_timesteps}), got {kept}")
    return kept


def respaced_betas(alphas_cumprod: torch.Tensor, kept: list[int]) -> torch.Tensor:
    """Betas of the chain on ``kept``: beta_k = 1 - abar[S_k] / abar[S_{k-1}], abar before S_1 being 1."""
    abar = alphas_cumprod.to(torch.float64)[torch.as_tensor(kept)]
    abar_prev = torch.cat([abar.new_ones(1), abar[:-1]])
    return 1.0 - abar / abar_prev
