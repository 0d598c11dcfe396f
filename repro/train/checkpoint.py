"""Checkpoints shared by the GAN and diffusion trainers.

A checkpoint is one ``torch.save`` dict, written atomically, holding a ``format`` tag, the trainer
``kind``, the run's ``config`` (so a resume with other settings is refused), the epoch/step counters,
model/optimiser/EMA state dicts and every RNG state, so that a resumed CPU run continues bit for bit.

Checkpoints hold tensors and plain Python values only (the NumPy RNG state is stored as a tensor), and
are read with ``torch.load(weights_only=True)``: a file whose pickle would build any other object, and
so could run code, is refused with :class:`CheckpointError` before anything in it runs.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ..io import atomic_torch_save

__all__ = [
    "CheckpointError",
    "NonFiniteLossError",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "check_finite",
]

FORMAT = "repro-checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, corrupt, or from a different run configuration."""


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or Inf; the message names the step and the last good checkpoint."""


def rng_state() -> dict[str, Any]:
    """All RNG states a training step draws from (Python, NumPy, torch CPU and CUDA), as tensors and
    plain values."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    random.setstate(state["python"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, kind: str, config: Mapping[str, Any], **state: Any) -> None:
    """Write ``state`` (state dicts, counters) plus format, kind, config and RNG states atomically."""
    atomic_torch_save({"format": FORMAT, "kind": kind, "config": dict(config), "rng": rng_state(), **state}, path)


def load_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config: Mapping[str, Any] | None = None,
    map_location: Any = "cpu",
    ignore: tuple[str, ...] = ("epochs", "device", "out_dir", "resume", "compile"),
) -> dict[str, Any]:
    """Load and validate a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`CheckpointError` naming the problem when the file is missing, unreadable, of
    another trainer ``kind``, or when a ``config`` value (other than those in ``ignore``, which may
    legitimately change on resume, like the total number of epochs) differs from the stored one.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; start a new run instead of resuming")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises several types for a truncated, foreign or unsafe file
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise CheckpointError(
            f"checkpoint {path} is corrupt, not a torch file, or holds objects other than tensors and plain "
            f"values, which are not loaded because unpickling them could run code ({type(e).__name__}: "
            f"{first}). Delete it to start over, or resume from another checkpoint."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a repro checkpoint (missing format tag {FORMAT!r})")
    if ckpt.get("kind") != kind:
        raise CheckpointError(f"{path} is a {ckpt.get('kind')!r} checkpoint, but a {kind!r} trainer tried to load it")
    if config is not None:
        stored = ckpt.get("config", {})
        diff = {
            k: (stored.get(k), v)
            for k, v in config.items()
            if k not in ignore and k in stored and stored[k] != v
        }
        if diff:
            lines = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(f"checkpoint {path} was written with other settings ({lines}); resume with the "
                                  "same settings, or name the ones to change as overrides (recorded in the manifest: "
                                  f"overrides={tuple(diff)!r} in Python, -y 'overrides: [{', '.join(diff)}]' in a "
                                  f"notebook, --overrides {','.join(diff)} on the command line), or start a new run "
                                  "in another folder")
    return ckpt


def check_finite(step: int, checkpoint: str | os.PathLike | None = None, **losses: Any) -> None:
    """Raise :class:`NonFiniteLossError` if any loss is NaN or Inf (one host sync for all of them)."""
    values = {k: float(v) for k, v in losses.items()}
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        where = f"; the last good checkpoint is {checkpoint}" if checkpoint else ""
        raise NonFiniteLossError(
            f"non-finite loss at step {step}: {bad}{where}. Lower the learning rate, enable gradient "
            "clipping, or disable bf16 autocast, then resume."
        )
