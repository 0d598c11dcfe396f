"""Data-parallel training over processes started by ``torchrun`` (PyTorch DistributedDataParallel).

One process per GPU (NCCL) or per CPU worker (gloo). The semantics, the same for both trainers:

- The configured ``batch_size`` is the global batch; each of the ``size`` ranks computes
  ``batch_size / size`` of it (a world size that does not divide it is an error before any work).
- Rank ``r`` takes the ``r``-th slice of every global batch of the epoch's permutation, so the ranks
  together see exactly the batches one process with the same seed sees, in the same order.
- Noise that defines the objective (diffusion ``t`` and ``eps``, GAN ``z``) is drawn for the whole
  global batch from the one seeded stream every rank holds, and each rank keeps its slice: a K-process
  run computes the 1-process run's loss, and the two agree up to float summation order. Randomness
  inside the networks (dropout) comes from per-rank streams derived from ``(seed, rank, step)``, so
  ranks do not share dropout masks and a resume replays them.
- DDP averages gradients over ranks, so every rank applies the same update and holds the same weights
  (and an EMA of them that is therefore the same too). Logged losses are averaged over ranks each step.
- Rank 0 alone locks the run folder and writes records, grids and checkpoints; every rank resumes
  from the ``last.pt`` that rank 0 validated. Evaluation samples are split over the ranks
  (:meth:`World.sample`: each draws its share on its own stream, and all are gathered); every rank
  then scores the gathered samples, and rank 0 records the row.

With one process none of this is active: no wrapper, no collective, the same random draws.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["World", "current_world", "init_from_env", "data_parallel", "sync_batchnorm", "GlooSyncBatchNorm"]

# Rank 0 evaluates while the others wait at their next collective: allow long evaluations.
TIMEOUT = timedelta(minutes=int(os.environ.get("REPRO_DIST_TIMEOUT_MIN", "60")))


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run (``size`` 1: a single process)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def per_rank_batch(self, batch_size: int) -> int:
        """``batch_size / size``, or a clear error when the world size does not divide the batch."""
        if batch_size % self.size:
            raise ValueError(f"the world size {self.size} does not divide batch_size {batch_size}: the global "
                             f"batch is split evenly over the ranks; choose a batch_size that is a multiple of "
                             f"{self.size} or another number of processes")
        return batch_size // self.size

    def shard(self, x: torch.Tensor) -> torch.Tensor:
        """The ``rank``-th of ``size`` equal slices of ``x`` along its first dimension (``x`` itself for one)."""
        if self.size == 1:
            return x
        b = self.per_rank_batch(x.shape[0])
        return x[self.rank * b:(self.rank + 1) * b]

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of ``x`` over ranks (``x`` itself for one process)."""
        if self.size == 1:
            return x
        x = x.clone()
        dist.all_reduce(x)
        return x / self.size

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Every rank's ``x`` concatenated in rank order (the global batch's order)."""
        if self.size == 1:
            return x
        parts = [torch.empty_like(x) for _ in range(self.size)]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)

    @contextlib.contextmanager
    def rank_stream(self, seed: int, step: int, device: torch.device) -> Iterator[None]:
        """Run a block on this rank's own global RNG stream, seeded by ``(seed, rank, step)`` and
        restored afterwards (nothing changes for one process)."""
        if self.size == 1:
            yield
            return
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=device.type if devices else "cuda"):
            torch.manual_seed((seed * 1_000_003 + step) * 65_537 + self.rank)
            yield

    def sample(self, n: int, draw: Callable[[int], torch.Tensor], seed: int, step: int,
               device: torch.device) -> torch.Tensor:
        """``n`` samples drawn across the ranks and gathered on every rank, in rank order: rank ``r``
        draws ``ceil(n / size)`` with ``draw`` on its own stream (:meth:`rank_stream` of ``(seed, step)``).
        One process: ``draw(n)`` as it is."""
        if self.size == 1:
            return draw(n)
        with self.rank_stream(seed, step, device):
            mine = draw(-(-n // self.size))
        return self.gather(mine)[:n]

    def share(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (a picklable object)."""
        if self.size == 1:
            return value
        box = [value if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def current_world() -> World:
    """The world of the process group this process belongs to, or a single process."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def init_from_env(device: str | None = None) -> tuple[World, torch.device]:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE`` > 1) and pick this
    rank's device: ``cuda:LOCAL_RANK`` with NCCL when CUDA is there (or ``device`` says ``cuda``),
    else the CPU with gloo. Without torchrun, a single process on ``device`` (default: CUDA if any)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    if size == 1:
        return World(), torch.device(device or ("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT,
                                device_id=torch.device("cuda", local) if cuda else None)
    return current_world(), torch.device("cuda", local) if cuda else torch.device("cpu")


def data_parallel(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``module`` wrapped in DistributedDataParallel for more than one rank; ``module`` itself otherwise.

    DDP broadcasts rank 0's weights when it wraps, and its buffers (BatchNorm statistics) before each
    forward, so every rank computes with the same state.
    """
    if world.size == 1:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose batch statistics cover the global batch on every rank, for CPU (gloo) ranks.

    ``torch.nn.SyncBatchNorm`` runs on GPUs only; this computes the same statistics with two
    differentiable all-reduces (the mean, then the mean squared deviation: the biased variance that
    normalises, as BatchNorm does; the running variance is unbiased over the global batch).
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {x.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        n = x.numel() // x.shape[1] * dist.get_world_size()
        mean = all_reduce(x.sum(dims)) / n
        var = all_reduce((x - mean.view(shape)).pow(2).sum(dims)) / n
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / (n - 1), m)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y


def sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every BatchNorm synchronised over ranks: ``torch.nn.SyncBatchNorm`` on GPUs,
    :class:`GlooSyncBatchNorm` on the CPU. Parameters and buffers keep their names and values."""
    if device.type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            new = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new)
        else:
            sync_batchnorm(child, device)
    return module
