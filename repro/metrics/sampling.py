"""Drawing N samples in batches, for evaluation.

A source is either a tensor of images or a sample function ``sample_fn(n) -> N x C x H x W`` images
in [-1, 1] on any device (the trainers' interface). Samples are quantised to uint8 as they arrive, as
every reference FID pipeline does with images saved to disk, and only uint8 CPU batches travel on.
Sample functions draw from a private random stream seeded by ``seed``: the same seed gives the same
samples of the same model, and the caller's random state (e.g. a training run's) is left as it was.
Tensors (or numpy arrays) are checked whole before the first batch, a function's output batch by batch
(:mod:`.checks`: uint8, or finite floats in [-1, 1]; nothing outside is clamped).
"""

from __future__ import annotations

from typing import Callable, Iterator, Union

import numpy as np
import torch
from tqdm import tqdm

from ..data import to_uint8
from .checks import NonFiniteSamplesError, as_tensor, check_images

__all__ = ["SampleSource", "NonFiniteSamplesError", "sample_batches", "check_source"]

SampleSource = Union[Callable[[int], torch.Tensor], torch.Tensor, np.ndarray]


def _devices(device: torch.device | str) -> list[int]:
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return [device.index if device.index is not None else torch.cuda.current_device()]
    return []


class PrivateStream:
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


def _quantised(x: torch.Tensor) -> torch.Tensor:
    return x.cpu() if x.dtype == torch.uint8 else to_uint8(x.detach()).cpu()


def _check(x: torch.Tensor, want: int, start: int, n: int, unit_interval_check: bool) -> torch.Tensor:
    """One batch of a sample function, checked (shape, dtype, finite, range) and quantised."""
    if isinstance(x, np.ndarray):
        x = as_tensor(x, "sample function output")
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != want:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"sample function must return {want} x C x H x W images, got {shape}")
    x = check_images(x, "sample function's images", unit_interval_check, first_index=start, total=n)
    return _quantised(x)


def check_source(source: SampleSource, n: int, batch_size: int = 1,
                 unit_interval_check: bool = False) -> SampleSource:
    """``source`` ready for :func:`sample_batches`, refused now if it cannot give ``n`` good images.

    A numpy array becomes a tensor; a tensor's first ``n`` images are checked whole (see
    :func:`repro.metrics.checks.check_images`); a function is checked batch by batch as it runs.
    """
    if n <= 0 or batch_size <= 0:
        raise ValueError(f"n (samples) and batch_size must be positive, got n = {n} and batch_size = {batch_size}")
    if isinstance(source, (torch.Tensor, np.ndarray)):
        source = as_tensor(source, "samples")
        if source.ndim >= 1 and source.shape[0] < n:
            raise ValueError(f"asked for {n} samples but the tensor holds {source.shape[0]}")
        check_images(source[:n], "samples", unit_interval_check)
        return source
    if not callable(source):
        raise TypeError("samples must be a tensor or numpy array of images, or a function n -> images; "
                        f"got {type(source).__name__}")
    return source


def sample_batches(source: SampleSource, n: int, batch_size: int, seed: int = 0,
                   device: torch.device | str = "cpu", progress: bool = True,
                   desc: str = "samples", unit_interval_check: bool = False) -> Iterator[torch.Tensor]:
    """Yield ``n`` images from ``source`` as uint8 CPU batches of at most ``batch_size``.

    ``unit_interval_check``: refuse float images with no value below 0 (images in [0, 1]); off for a
    training run's generator, which may legitimately saturate.
    """
    source = check_source(source, n, batch_size, unit_interval_check)
    stream = None if isinstance(source, torch.Tensor) else PrivateStream(seed, device)
    with tqdm(total=n, unit="img", desc=desc, disable=not progress, leave=False) as bar:
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            with torch.no_grad():
                if stream is None:
                    x = _quantised(source[start:start + b])
                else:
                    x = _check(stream.call(source, b), b, start, n, unit_interval_check)
            yield x
            bar.update(b)
