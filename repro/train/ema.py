"""Exponential moving average of model weights (Ho et al. 2020, App. B: decay 0.9999).

theta_ema <- decay * theta_ema + (1 - decay) * theta after every optimiser step. Samples and
metrics of a diffusion run come from the averaged weights. Buffers (e.g. normalisation statistics)
are copied, not averaged.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """A frozen copy of ``model`` whose parameters track an exponential moving average of ``model``'s."""

    def __init__(self, model: nn.Module, decay: float = 0.9999) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step towards ``model``'s current weights."""
        ema_params = list(self.model.parameters())
        params = [p.detach() for p in model.parameters()]
        if len(ema_params) != len(params):
            raise ValueError("the model does not have the EMA copy's parameters")
        if ema_params:
            torch._foreach_lerp_(ema_params, params, 1.0 - self.decay)
        for b_ema, b in zip(self.model.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.decay = state["decay"]
        self.model.load_state_dict(state["model"])
