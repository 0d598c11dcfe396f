"""Precision policy, in one place: what a block of work may trade for speed.

- :func:`training`: TF32 matmuls and convolutions on CUDA for a run's training steps, and
  :func:`autocast` around their forward passes: bf16 autocast when asked, on CUDA and on CPUs
  (matmuls and convolutions in bf16, the rest in float32; backward passes stay outside it).
- :func:`evaluation`: float32 throughout: no autocast, no TF32. Every number a run reports (per-epoch
  tracking included) is computed under it, so that a metric means the same inside a CUDA training run
  and in a later evaluation (EDM turns TF32 off for the same reason; in bf16 the FID Inception's
  features move by about 2%).

Both are context managers that restore every flag they change on exit, so nothing leaks to the rest
of the process. :func:`describe` names the precision a block actually ran in, for the run's manifest.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

__all__ = ["training", "autocast", "evaluation", "describe"]


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def describe(device: torch.device | str, bf16: bool) -> str:
    """The precision training steps run in: ``"bf16-autocast"``, ``"tf32"`` (CUDA) or ``"fp32"``."""
    device = torch.device(device)
    if bf16:
        return "bf16-autocast"
    return "tf32" if device.type == "cuda" else "fp32"


def training(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Training steps: TF32 on CUDA (float32 elsewhere)."""
    return _tf32(torch.device(device).type == "cuda")


def autocast(device: torch.device | str, bf16: bool) -> torch.autocast:
    """A forward pass of a training step: bf16 autocast when ``bf16``, on CUDA or on the CPU."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16)


@contextlib.contextmanager
def evaluation() -> Iterator[None]:
    """Evaluation: float32 only, whatever the enclosing block allowed."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(_tf32(False))
        stack.enter_context(torch.autocast("cpu", enabled=False))
        if torch.cuda.is_available():
            stack.enter_context(torch.autocast("cuda", enabled=False))
        yield
