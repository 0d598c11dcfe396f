"""Diffusion trainer (Ho et al. 2020, Algorithm 1 and App. B; Nichol & Dhariwal 2021).

:func:`ddpm_epoch` is one pass of Algorithm 1 over the data: x0 from the data, t from the timestep
sampler, the loss of the configured objective, Adam (AdamW with weight decay; fused on CUDA), linear
learning-rate warm-up, gradient clipping and an EMA of the weights. :func:`train_diffusion` hands it to
the shared run loop (:mod:`repro.train.loop`), which keeps the records, checkpoints and exact resume.
After each epoch the loop saves a snapshot of the EMA model (a sample grid, or samples of 2D points)
every ``grid_every`` epochs and calls ``evaluate(sample_fn)`` every ``track_every`` epochs, with
``sample_fn(n)`` drawing n EMA samples with the tracking sampler (images in [-1, 1], points in data
coordinates). Losses stay on the device and are read once per epoch.

With ``num_classes`` the U-Net is class-conditional and learns eps(x_t, y) from the data set's labels;
``p_uncond`` > 0 drops each label to the null label with that probability (Ho & Salimans 2022,
Algorithm 1), so that one network also learns eps(x_t) for classifier-free guidance
(:class:`repro.diffusion.guidance.ClassifierFreeGuidance`). The snapshots and ``evaluate`` of such a
run sample with the null label, the unconditional model (untrained when ``p_uncond`` = 0).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from .. import precision
from ..data import DeviceBatches, ImageDataset, MixtureDataset
from ..diffusion import GaussianDiffusion, get_beta_schedule, make_timestep_sampler, output_channels
from ..diffusion.guidance import drop_labels, with_label
from ..models.denoiser_mlp import MLP_PRESETS, build_denoiser_mlp
from ..models.unet import build_unet, count_parameters
from .accel import adam, compiled, prepare_cuda
from .checkpoint import set_rng_state
from .distributed import World, current_world, data_parallel
from ..records import Record
from .diffusion_config import PRESETS, DiffusionTrainConfig, preset, resolve_config
from .ema import EMA
from .loop import FiniteWatch, config_dict, open_run, pick_device, training_tensor
from .trained import TrainedDiffusion

__all__ = ["DiffusionTrainConfig", "PRESETS", "preset", "DiffusionState", "setup_training", "ddpm_epoch",
           "train_diffusion", "build_diffusion", "build_denoiser"]

KIND = "diffusion"
Evaluate = Callable[[Callable[[int], torch.Tensor]], Mapping[str, float]]


def build_diffusion(cfg: DiffusionTrainConfig) -> GaussianDiffusion:
    """The process a config describes."""
    return GaussianDiffusion(get_beta_schedule(cfg.schedule, cfg.num_timesteps), variance=cfg.variance,
                             loss_type=cfg.loss_type, vlb_weight=cfg.vlb_weight,
                             decoder=cfg.decoder or "discretized")


def build_denoiser(cfg: DiffusionTrainConfig, data_shape: tuple[int, ...]) -> nn.Module:
    """The network a config describes, for data of shape ``data_shape`` (C, H, W) or (dim,)."""
    out = output_channels(cfg.variance, data_shape[0])
    if cfg.model in MLP_PRESETS:
        if cfg.num_classes is not None:
            raise ValueError("class conditioning (num_classes) is an option of the U-Net presets, not of the MLP")
        if len(data_shape) != 1:
            raise ValueError(f"MLP preset {cfg.model!r} needs points, got data of shape {data_shape}")
        return build_denoiser_mlp(cfg.model, data_shape[0], out_dim=out, **cfg.model_kwargs)
    if len(data_shape) != 3:
        raise ValueError(f"U-Net preset {cfg.model!r} needs images, got data of shape {data_shape}; "
                         f"use an MLP preset ({', '.join(MLP_PRESETS)}) for points")
    cond = {} if cfg.num_classes is None else {"num_classes": cfg.num_classes}
    return build_unet(cfg.model, data_shape[0], data_shape[-1], out_channels=out, **cond, **cfg.model_kwargs)


@dataclass
class DiffusionState:
    """What :func:`ddpm_epoch` updates: the process, the network (and its training forward), EMA,
    optimiser and timestep sampler."""

    cfg: DiffusionTrainConfig
    diffusion: GaussianDiffusion
    model: nn.Module
    forward: nn.Module
    ema: EMA
    opt: torch.optim.Optimizer
    t_sampler: Any
    device: torch.device
    world: World = World()

    def state_dict(self) -> dict[str, Any]:
        return dict(model=self.model.state_dict(), ema=self.ema.state_dict(), optimizer=self.opt.state_dict(),
                    timestep_sampler=self.t_sampler.state_dict())

    def load_state_dict(self, ckpt: Mapping[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.ema.load_state_dict(ckpt["ema"])
        self.opt.load_state_dict(ckpt["optimizer"])
        self.t_sampler.load_state_dict(ckpt["timestep_sampler"])


def _channels_last(cfg: DiffusionTrainConfig, device: torch.device, data_shape: tuple[int, ...]) -> bool:
    return cfg.channels_last and device.type == "cuda" and len(data_shape) == 3


def setup_training(cfg: DiffusionTrainConfig, data_shape: tuple[int, ...], device: torch.device,
                   world: World | None = None) -> DiffusionState:
    """Seeded process, model (its memory format), training forward (compiled or not, DDP-wrapped with more
    than one rank), EMA, optimiser and timestep sampler: everything :func:`train_diffusion` builds before
    its first step."""
    world = world or current_world()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    diffusion = build_diffusion(cfg)
    model = build_denoiser(cfg, data_shape).to(device)
    if _channels_last(cfg, device, data_shape):
        model = model.to(memory_format=torch.channels_last)
    ema = EMA(model, cfg.ema_decay)
    opt = adam(model.parameters(), device, cfg.lr, cfg.betas, cfg.weight_decay)
    prepare_cuda(device)
    t_sampler = make_timestep_sampler(cfg.timestep_sampler, diffusion.num_timesteps, device)
    forward = compiled(data_parallel(model, world, device), cfg.compile)
    return DiffusionState(cfg, diffusion, model, forward, ema, opt, t_sampler, device, world)


def ddpm_epoch(s: DiffusionState, batches: DeviceBatches, epoch: int, step: int) -> tuple[dict[str, Any], int]:
    """One pass over the data, Ho et al. 2020, Algorithm 1 per batch; returns the epoch's row and step.

    With several ranks (:mod:`repro.train.distributed`) ``t`` and ``eps`` are drawn for the global batch
    and sliced, the timestep sampler sees the global batch's losses and the row averages the ranks.
    """
    cfg, device, world = s.cfg, s.device, s.world
    s.model.train()
    sums = torch.zeros(4, dtype=torch.float64, device=device)      # loss, mse, vb, grad norm
    watch = FiniteWatch(("loss", "mse", "vb"), device, cfg.check_every)
    n, lr, t0, cpu0 = 0, cfg.lr, time.perf_counter(), time.process_time()
    max_norm = cfg.grad_clip if cfg.grad_clip else math.inf
    channels_last = _channels_last(cfg, device, tuple(batches.data.shape[1:]))
    for x0, y in batches.epoch(epoch):
        step += 1
        lr = cfg.lr * min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps > 0 else cfg.lr
        for group in s.opt.param_groups:
            group["lr"] = lr
        if channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        t, weights = s.t_sampler.sample(x0.shape[0] * world.size, device)
        noise = None  # one process: drawn inside training_losses, as always
        if world.size > 1:
            noise = world.shard(torch.randn((x0.shape[0] * world.size, *x0.shape[1:]), device=device))
        with world.rank_stream(cfg.seed, step, device):  # label and network dropout: this rank's own draws
            model = s.forward
            if cfg.num_classes is not None:  # eps(x_t, y), the label dropped with probability p_uncond
                model = with_label(s.forward, drop_labels(y, cfg.p_uncond, cfg.num_classes) if cfg.p_uncond > 0 else y)
            with precision.autocast(device, cfg.bf16):
                terms = s.diffusion.training_losses(model, x0, world.shard(t), noise)
        loss = (terms["loss"] * world.shard(weights)).mean()
        s.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(s.model.parameters(), max_norm)
        s.opt.step()
        s.ema.update(s.model)
        s.t_sampler.update(t, world.gather(terms["loss"].detach()))
        stats = world.mean(torch.stack([loss.detach(), terms["mse"].detach().mean(), terms["vb"].detach().mean(),
                                        grad_norm.detach()]).double())
        sums += stats
        n += 1
        watch.observe(step, stats[:3])
    watch.check()
    if n == 0:
        raise ValueError(f"epoch {epoch} had no batches: batch_size {cfg.batch_size} exceeds the data set")
    loss, mse, vb, grad_norm = (sums / n).tolist()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"epoch": epoch, "step": step, "loss": loss, "mse": mse, "vb": vb, "lr": lr, "grad_norm": grad_norm,
            "epoch_time_s": round(wall, 3), "epoch_cpu_s": round(cpu, 3),
            "examples_per_s": round(n * cfg.batch_size / wall, 1)}, step


def _labels(cfg: DiffusionTrainConfig, dataset: ImageDataset | MixtureDataset) -> torch.Tensor | None:
    """The labels a class-conditional run trains on (``None`` for an unconditional one), checked."""
    if cfg.num_classes is None:
        return None
    labels = dataset.labels.long()
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= cfg.num_classes):
        raise ValueError(f"labels of {dataset.info()['name']} span {int(labels.min())}..{int(labels.max())}; "
                         f"num_classes = {cfg.num_classes} needs them in 0..{cfg.num_classes - 1}")
    return labels


def train_diffusion(config: DiffusionTrainConfig | Mapping[str, Any], dataset: ImageDataset | MixtureDataset,
                    out_dir: Any, *, resume: bool = False, evaluate: Evaluate | None = None,
                    device: torch.device | str | None = None, overrides: tuple[str, ...] = ()) -> Record | None:
    """Train (or, with ``resume``, continue) a diffusion model; returns the finished run's record.

    ``overrides`` names settings a resume may change (recorded in the manifest); see
    :func:`repro.train.loop.open_run`. In a process group (torchrun) every rank calls this; rank 0
    returns the record, the others ``None`` (see :mod:`repro.train.distributed`).
    """
    device = pick_device(device)
    data = training_tensor(dataset)
    cfg = resolve_config(config, data)
    world = current_world()
    world.per_rank_batch(cfg.batch_size)
    data_shape = tuple(data.shape[1:])
    labels = _labels(cfg, dataset)
    s = setup_training(cfg, data_shape, device, world)
    with open_run(out_dir, KIND, config_dict(cfg), dataset.info(), resume=resume, device=device,
                  overrides=overrides, best_metric=cfg.best_metric, best_mode=cfg.best_mode) as run:
        if run.checkpoint is not None:
            s.load_state_dict(run.checkpoint)
            set_rng_state(run.checkpoint["rng"])
        batches = DeviceBatches(data if cfg.point_scale is None else data / cfg.point_scale, labels,
                                cfg.batch_size, device, cfg.seed, rank=world.rank, world_size=world.size)
        trained = TrainedDiffusion(s.ema.model, s.diffusion, data_shape, cfg.point_scale,
                                   clip_denoised=cfg.decoder == "discretized", num_classes=cfg.num_classes)
        tracking = dict(sampler=cfg.track_sampler, steps=cfg.track_steps, eta=cfg.track_eta,
                        batch_size=cfg.track_batch_size)

        def measure(epoch: int, last: bool) -> dict[str, Any]:
            t0, row = time.perf_counter(), {}
            if world.main and cfg.grid_samples > 0 and (last or (epoch + 1) % max(cfg.grid_every, 1) == 0):
                snapshot = trained.sample(cfg.grid_samples, generator=torch.Generator(device).manual_seed(cfg.seed + 1),
                                          **tracking)  # the same noise every epoch
                run.record.save_snapshot(snapshot, f"epoch{epoch:04d}")
            if evaluate is not None and (last or (epoch + 1) % max(cfg.track_every, 1) == 0):
                # the global RNG, so that an evaluator that seeds it (repro.metrics.sampling) fixes the samples
                draw = partial(trained.sample, **tracking)
                row.update(evaluate(lambda n: world.sample(n, draw, cfg.seed + 1, epoch, device)))
            row["eval_time_s"] = round(time.perf_counter() - t0, 3)
            return row

        return run.epochs(cfg.epochs, lambda epoch, step: ddpm_epoch(s, batches, epoch, step), measure,
                          s.state_dict, model_parameters=count_parameters(s.model), data_shape=list(data_shape),
                          precision=precision.describe(device, cfg.bf16))
