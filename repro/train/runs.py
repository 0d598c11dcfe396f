"""Finished runs, ready to sample from: ``load_run(path).sample(n, ...)`` for a GAN or a diffusion run.

The manifest's ``kind`` picks :func:`load_gan` (a :class:`TrainedGAN`, from the best checkpoint when the
run kept one) or :func:`load_diffusion` (a :class:`TrainedDiffusion` with the EMA weights). Checkpoints
are read with :func:`repro.train.checkpoint.load_checkpoint`, which refuses anything but tensors and
plain values.
"""

from __future__ import annotations

import os

import torch

from ..records import Record, load_record
from . import diffusion, gan
from .checkpoint import load_checkpoint
from .trained import TrainedDiffusion, TrainedGAN

__all__ = ["load_run", "load_gan", "load_diffusion"]

Run = str | os.PathLike | Record


def _record(run: Run) -> Record:
    return run if isinstance(run, Record) else load_record(run)


def load_gan(run: Run, device: torch.device | str = "cpu", checkpoint: str | None = None) -> TrainedGAN:
    """The generator of a GAN run from ``checkpoint`` (``"best"`` or ``"last"``; ``None``: ``best.pt``
    when the run kept one, else ``last.pt``), in eval mode."""
    rec = _record(run)
    if checkpoint is None:
        checkpoint = "best" if (rec.path / "checkpoints" / "best.pt").exists() else "last"
    ckpt = load_checkpoint(rec.path / "checkpoints" / f"{checkpoint}.pt", gan.KIND, rec.params)
    cfg = gan.GANTrainConfig(**ckpt["config"])
    G, _ = gan.build_gan(cfg)
    G.load_state_dict(ckpt["G"])
    return TrainedGAN(G.to(device).eval().requires_grad_(False), cfg.nz)


def load_diffusion(run: Run, device: torch.device | str = "cpu", weights: str = "ema",
                   checkpoint: str = "last") -> TrainedDiffusion:
    """The denoiser of a diffusion run (``weights``: ``"ema"`` or ``"model"``) with its process, in eval mode."""
    if weights not in ("ema", "model"):
        raise ValueError(f"weights must be 'ema' or 'model', got {weights!r}")
    rec = _record(run)
    ckpt = load_checkpoint(rec.path / "checkpoints" / f"{checkpoint}.pt", diffusion.KIND, rec.params)
    cfg = diffusion.DiffusionTrainConfig(**ckpt["config"])
    data_shape = tuple(rec.manifest["data_shape"])
    model = diffusion.build_denoiser(cfg, data_shape)
    model.load_state_dict(ckpt["ema"]["model"] if weights == "ema" else ckpt["model"])
    model = model.to(device).eval().requires_grad_(False)
    return TrainedDiffusion(model, diffusion.build_diffusion(cfg), data_shape, cfg.point_scale,
                            clip_denoised=cfg.decoder == "discretized", num_classes=cfg.num_classes)


def load_run(run: Run, device: torch.device | str = "cpu", checkpoint: str | None = None) -> TrainedGAN | TrainedDiffusion:
    """The trained generator of a run folder (or of its loaded record), in eval mode on ``device``, from
    ``checkpoint`` (``"best"`` or ``"last"``; ``None``: each kind's default, see :func:`load_gan` and
    :func:`load_diffusion`)."""
    rec = _record(run)
    kind = rec.manifest.get("kind")
    if kind == gan.KIND:
        return load_gan(rec, device=device, checkpoint=checkpoint)
    if kind == diffusion.KIND:
        return load_diffusion(rec, device=device, checkpoint=checkpoint or "last")
    raise ValueError(f"{rec.path} holds a {kind!r} run; load_run reads GAN and diffusion training runs")
