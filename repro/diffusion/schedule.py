"""Noise schedules beta_1..beta_T of the forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I).

- ``"linear"``: Ho et al. 2020, sec. 4: beta rises linearly from 1e-4 to 0.02 over T = 1000 steps. For
  another T both ends are multiplied by 1000 / T, so that the process reaches the same noise level
  (Nichol & Dhariwal 2021, sec. 3.2 and their code).
- ``"cosine"``: Nichol & Dhariwal 2021, eq. 17: alpha-bar(t) = f(t) / f(0) with
  f(t) = cos^2((t / T + s) / (1 + s) * pi / 2), s = 0.008, and beta_t clipped at 0.999 so that the
  last steps are not singular.

Schedules are float64 tensors: alpha-bar is a product of up to thousands of factors close to 1,
which float32 does not resolve. Callers cast the values they index to the data type at use.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

__all__ = ["get_beta_schedule", "betas_for_alpha_bar", "SCHEDULES"]

SCHEDULES = ("linear", "cosine")


def betas_for_alpha_bar(num_timesteps: int, alpha_bar: Callable[[float], float],
                        max_beta: float = 0.999) -> torch.Tensor:
    """Betas whose cumulative product follows ``alpha_bar`` on [0, 1]: beta_t = 1 - abar(t/T) / abar((t-1)/T).

    Nichol & Dhariwal 2021, sec. 3.2 (the relation between beta_t and alpha-bar_t below eq. 17).
    """
    betas = [min(1.0 - alpha_bar((i + 1) / num_timesteps) / alpha_bar(i / num_timesteps), max_beta)
             for i in range(num_timesteps)]
    return torch.tensor(betas, dtype=torch.float64)


def get_beta_schedule(name: str, num_timesteps: int) -> torch.Tensor:
    """The named schedule as a float64 tensor of ``num_timesteps`` betas (see the module docstring)."""
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps must be at least 1, got {num_timesteps}")
    if name == "linear":
        scale = 1000.0 / num_timesteps
        if scale * 0.02 >= 1.0:
            raise ValueError(f"the linear schedule scaled to T = {num_timesteps} reaches beta >= 1; use T >= 21 "
                             "or the cosine schedule")
        return torch.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=torch.float64)
    if name == "cosine":
        s = 0.008
        return betas_for_alpha_bar(num_timesteps, lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2)
    raise ValueError(f"unknown beta schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
