"""Drawing N samples in batches, for evaluation.

A source is either a tensor of images or a sample function ``sample_fn(n) -> N x C x H x W`` images
in [-1, 1] on any device (the trainers' interface). Samples are quantised to uint8 as they arrive, as
every reference FID pipeline does with images saved to disk, and only uint8 CPU batches travel on.
Sample functions draw from a private random stream seeded by ``seed``: the same seed gives the same
samples of the same model, and the caller's random state (e.g. a training run's) is left as it was.
"""

from __future__ import annotations

from typing import Callable, Iterator, Union

import torch
from tqdm import tqdm

from ..data import to_uint8

__all__ = ["SampleSource", "NonFiniteSamplesError", "sample_batches"]

SampleSource = Union[Callable[[int], torch.Tensor], torch.Tensor]


class NonFiniteSamplesError(ValueError):
    """The generator returned NaN or infinite pixels (a diverged model)."""


def _devices(device: torch.device | str) -> list[int]:
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


class _PrivateStream:
    """A random stream of its own: each ``call`` continues it, and the caller's state is restored after."""

    def __init__(self, seed: int, device: torch.device | str) -> None:
        self.seed, self.devices, self.state = seed, _devices(device), None

    def call(self, fn: Callable[[int], torch.Tensor], n: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=self.devices):
            if self.state is None:
                torch.manual_seed(self.seed)
            else:
                torch.set_rng_state(self.state[0])
                for d, s in zip(self.devices, self.state[1]):
                    torch.cuda.set_rng_state(s, d)
            out = fn(n)
            self.state = (torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in self.devices])
        return out


def _check(x: torch.Tensor, want: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != want:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"sample function must return {want} x C x H x W images, got {shape}")
    if x.dtype == torch.uint8:
        return x.cpu()
    bad = int((~torch.isfinite(x)).any(dim=(1, 2, 3)).sum())
    if bad:
        raise NonFiniteSamplesError(f"{bad} of {want} samples contain NaN or infinite values")
    return to_uint8(x.detach()).cpu()


def sample_batches(source: SampleSource, n: int, batch_size: int, seed: int = 0,
                   device: torch.device | str = "cpu", progress: bool = True,
                   desc: str = "samples") -> Iterator[torch.Tensor]:
    """Yield ``n`` images from ``source`` as uint8 CPU batches of at most ``batch_size``."""
    if n <= 0 or batch_size <= 0:
        raise ValueError(f"n and batch_size must be positive, got {n} and {batch_size}")
    if isinstance(source, torch.Tensor) and source.shape[0] < n:
        raise ValueError(f"asked for {n} samples but the tensor holds {source.shape[0]}")
    stream = None if isinstance(source, torch.Tensor) else _PrivateStream(seed, device)
    with tqdm(total=n, unit="img", desc=desc, disable=not progress, leave=False) as bar:
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            with torch.no_grad():
                x = source[start:start + b] if stream is None else stream.call(source, b)
            yield _check(x, b)
            bar.update(b)
