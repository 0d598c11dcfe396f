"""Minibatches served from one tensor on the device, by index.

For 32 x 32 images a training step takes milliseconds on a GPU; a DataLoader with per-image
decoding and collation would dominate it. The whole uint8 data set sits on the device (150 MB for
CIFAR-10) and each batch is one gather plus a cast to [-1, 1].

The shuffle of epoch ``e`` is a pure function of ``(seed, e)``, so a resumed run sees exactly the
batches an uninterrupted one would. With ``world_size`` ranks, ``batch_size`` is the global batch and
rank ``r`` is served the ``r``-th slice of each: together the ranks see one process's batches.
"""

from __future__ import annotations

from typing import Iterator

import torch

__all__ = ["DeviceBatches", "epoch_permutation"]


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffled order of ``n`` items in ``epoch`` (CPU, deterministic)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class DeviceBatches:
    """Iterate over shuffled minibatches of ``data`` (uint8 images or float points) on ``device``.

    uint8 data is returned as float32 in [-1, 1]; float data as it is. Labels come alongside. With
    ``world_size`` > 1, each global batch of ``batch_size`` is cut into equal slices and rank ``rank``
    gets its own.
    """

    def __init__(self, data: torch.Tensor, labels: torch.Tensor | None, batch_size: int,
                 device: torch.device | str = "cpu", seed: int = 0, drop_last: bool = True,
                 rank: int = 0, world_size: int = 1) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if batch_size % world_size or not 0 <= rank < world_size or (world_size > 1 and not drop_last):
            raise ValueError(f"rank {rank} of {world_size} needs a batch_size that the world size divides "
                             f"(got {batch_size}) and drop_last=True")
        if batch_size > data.shape[0] and drop_last:
            raise ValueError(f"batch_size {batch_size} is larger than the data set ({data.shape[0]} items)")
        self.device = torch.device(device)
        self.data = data.to(self.device)
        self.labels = labels.to(self.device) if labels is not None else None
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        n = self.data.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        perm = epoch_permutation(self.data.shape[0], self.seed, epoch).to(self.device)
        for i in range(len(self)):
            idx = perm[i * self.batch_size:(i + 1) * self.batch_size]
            if self.world_size > 1:
                b = self.batch_size // self.world_size
                idx = idx[self.rank * b:(self.rank + 1) * b]
            x = self.data[idx]
            if x.dtype == torch.uint8:
                x = x.float().div_(127.5).sub_(1.0)
            yield x, (self.labels[idx] if self.labels is not None else None)
