"""Which timesteps a training batch sees, and with what weight.

- ``"uniform"``: t ~ U{0, ..., T-1}, weight 1 (Ho et al. 2020, Algorithm 1).
- ``"loss-second-moment"``: importance sampling for L_vlb, p_t proportional to sqrt(E[L_t^2]) over the
  last 10 values of each L_t, sampling uniformly until every t has 10 (Nichol & Dhariwal 2021, eq. 18);
  weight 1 / (T p_t) keeps the estimate unbiased. A small uniform share (1e-3) keeps every p_t > 0, as
  in their code.

The state lives on the training device and is updated without a host sync, so that it costs no
``.item()`` per step; it is saved in checkpoints with :meth:`state_dict`.
"""

from __future__ import annotations

import torch

__all__ = ["UniformSampler", "LossSecondMomentResampler", "make_timestep_sampler", "TIMESTEP_SAMPLERS"]

TIMESTEP_SAMPLERS = ("uniform", "loss-second-moment")


class UniformSampler:
    """t uniform on {0, ..., T-1}, all weights 1."""

    def __init__(self, num_timesteps: int) -> None:
        self.num_timesteps = num_timesteps

    def sample(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.randint(0, self.num_timesteps, (batch_size,), device=device)
        return t, torch.ones(batch_size, device=device)

    def update(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Uniform sampling ignores the losses."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class LossSecondMomentResampler:
    """Importance sampling of t for L_vlb (iDDPM eq. 18), history of ``history`` losses per step."""

    def __init__(self, num_timesteps: int, device: torch.device | str = "cpu", history: int = 10,
                 uniform_prob: float = 1e-3) -> None:
        self.num_timesteps, self.history, self.uniform_prob = num_timesteps, history, uniform_prob
        self.losses = torch.zeros(num_timesteps, history, dtype=torch.float64, device=device)
        self.counts = torch.zeros(num_timesteps, dtype=torch.long, device=device)

    def probabilities(self) -> torch.Tensor:
        """p_t proportional to sqrt(mean of the stored L_t^2), uniform until every t has a full history."""
        p = self.losses.pow(2).mean(dim=1).sqrt()
        p = p / p.sum().clamp(min=1e-300)
        p = (1.0 - self.uniform_prob) * p + self.uniform_prob / self.num_timesteps
        uniform = torch.full_like(p, 1.0 / self.num_timesteps)
        # a non-finite loss in the history (the trainer stops on it) must not break sampling meanwhile
        usable = (self.counts >= self.history).all() & torch.isfinite(p).all()
        return torch.where(usable, p, uniform)

    def sample(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.probabilities().to(device)
        t = torch.multinomial(p, batch_size, replacement=True)
        return t, (1.0 / (self.num_timesteps * p[t])).float()

    def update(self, t: torch.Tensor, losses: torch.Tensor) -> None:
        """Append each example's L_t to the history of its t (oldest value dropped)."""
        t = t.to(self.counts.device)
        order = torch.argsort(t, stable=True)
        ts = t[order]
        # rank of each example among those with the same t in this batch
        first = torch.searchsorted(ts, ts, right=False)
        rank = torch.arange(len(ts), device=ts.device) - first
        slot = (self.counts[ts] + rank) % self.history
        self.losses[ts, slot] = losses.detach()[order].to(self.losses)
        self.counts.index_add_(0, ts, torch.ones_like(ts))

    def state_dict(self) -> dict:
        return {"losses": self.losses.cpu(), "counts": self.counts.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.losses.copy_(state["losses"])
        self.counts.copy_(state["counts"])


def make_timestep_sampler(name: str, num_timesteps: int,
                          device: torch.device | str = "cpu") -> UniformSampler | LossSecondMomentResampler:
    """The named timestep sampler (see the module docstring)."""
    if name == "uniform":
        return UniformSampler(num_timesteps)
    if name == "loss-second-moment":
        return LossSecondMomentResampler(num_timesteps, device)
    raise ValueError(f"unknown timestep sampler {name!r}; choose one of {', '.join(TIMESTEP_SAMPLERS)}")
