"""Speed settings shared by the trainers; none changes what is computed on the CPU.

- :func:`adam`: Adam (AdamW with weight decay) with the fused CUDA kernel on CUDA, one launch for all
  parameters; the CPU keeps PyTorch's default implementation so that CPU runs stay bit-identical.
- :func:`prepare_cuda`: cuDNN autotuning (the shapes of a run are fixed) and TF32 matrix multiplies
  for the float32 parts of a run, on CUDA only.
- :func:`compiled`: ``torch.compile`` of a module's forward when asked, the module itself otherwise.
  The compiled wrapper shares the module's parameters; checkpoints keep saving the module itself.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

__all__ = ["adam", "prepare_cuda", "compiled"]


def adam(params: Iterable[torch.Tensor], device: torch.device, lr: float, betas: tuple[float, float],
         weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015), AdamW (Loshchilov & Hutter 2019) when ``weight_decay`` > 0."""
    cls = torch.optim.AdamW if weight_decay > 0 else torch.optim.Adam
    fused = {"fused": True} if torch.device(device).type == "cuda" else {}
    return cls(params, lr=lr, betas=tuple(betas), weight_decay=weight_decay, **fused)


def prepare_cuda(device: torch.device) -> None:
    """cuDNN benchmark mode and TF32 matmuls when ``device`` is CUDA; nothing elsewhere."""
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def compiled(module: nn.Module, enabled: bool) -> nn.Module:
    """``torch.compile(module)`` when ``enabled``; ``module`` unchanged otherwise."""
    return torch.compile(module) if enabled else module
