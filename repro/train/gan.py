"""GAN trainer: DCGAN on images (Radford et al. 2015), an MLP GAN on the 2D mixtures.

:func:`gan_epoch` is one pass of Goodfellow et al. 2014, Algorithm 1 with k = 1. With
``update="alternating"`` it follows the PyTorch DCGAN example the seed report ran: draw ``z``, update D
on a real and a generated batch (BatchNorm sees each separately), then update G through the updated D
on the same generated batch. With ``update="simultaneous"`` both gradients are taken at the same
parameters and both networks step together, as PacGAN's code does (Lin et al. 2018, through ALI's
training algorithm).
:func:`train_gan` hands it to the shared run loop (:mod:`repro.train.loop`), which keeps the records,
checkpoints (``best.pt`` when ``best_metric`` improves, ``last.pt`` every epoch) and exact resume.

Records, in the run folder: ``metrics.csv``, one row per epoch: ``epoch`` (0-based), ``step``
(iterations completed), means of ``loss_D``, ``loss_G``, ``D_x`` (D(x) on real data), ``D_G_z``
(D(G(z)) before the D update) and ``D_G_z2`` (after it, what G's step saw), ``epoch_time_s`` (wall) and
``epoch_cpu_s`` (CPU seconds of the process),
``diversity`` (:func:`repro.metrics.collapse.sample_diversity` of the snapshot), ``eval_time_s`` and
whatever ``evaluate(sample_fn)`` returns; ``iterations.csv``, the five values per iteration; and a
snapshot of G on fixed noise (``grids/epochNNNN.png`` for images, ``samples/epochNNNN.pt`` for points).
``evaluate`` draws from one noise stream seeded by ``seed + 1`` each epoch, so that a metric's series
compares generators, not noise draws.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import nn

from .. import precision
from ..data import DeviceBatches, ImageDataset, MixtureDataset
from ..metrics.collapse import sample_diversity
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator
from ..models.gan_mlp import MaxoutDiscriminator, MLPDiscriminator, MLPGenerator
from ..records import Record, load_record
from .accel import adam, compiled, prepare_cuda
from .checkpoint import set_rng_state
from .distributed import World, current_world, data_parallel, sync_batchnorm
from .gan_config import PRESETS, GANTrainConfig, preset, resolve_config
from .gan_losses import discriminator_loss, generator_loss
from .loop import FiniteWatch, config_dict, open_run, pick_device, training_tensor
from .trained import TrainedGAN

__all__ = ["ITERATION_COLUMNS", "PRESETS", "GANTrainConfig", "GANState", "build_gan", "gan_epoch",
           "preset", "setup_training", "train_gan"]

KIND = "gan"
ITERATION_COLUMNS = ("loss_D", "loss_G", "D_x", "D_G_z", "D_G_z2")
ITERATIONS = "iterations.csv"
Evaluate = Callable[[Callable[[int], torch.Tensor]], Mapping[str, float]]


def build_gan(cfg: GANTrainConfig) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for ``cfg`` (initialised from the global torch RNG)."""
    if cfg.arch == "mlp":
        hidden_D = cfg.mlp_hidden_D or cfg.mlp_hidden
        D = (MaxoutDiscriminator(hidden_D, cfg.mlp_depth_D, cfg.maxout_pieces, init_std=cfg.init_std)
             if cfg.d_arch == "maxout" else MLPDiscriminator(hidden_D, cfg.mlp_depth_D, init_std=cfg.init_std))
        return MLPGenerator(cfg.nz, cfg.mlp_hidden, cfg.mlp_depth_G, norm=cfg.g_norm, init_std=cfg.init_std), D
    if cfg.arch == "dcgan":
        if cfg.channels is None:
            raise ValueError("channels must be set to build a DCGAN")
        return (DCGANGenerator(cfg.nz, cfg.ngf, cfg.channels, cfg.image_size),
                DCGANDiscriminator(cfg.ndf, cfg.channels, cfg.image_size))
    raise ValueError(f"unknown arch {cfg.arch!r}; choose 'dcgan' or 'mlp'")


@dataclass
class GANState:
    """What :func:`gan_epoch` updates: G and D (and their training forwards), both Adams, the noise
    stream, and the per-iteration values of the run so far (rows of ``iterations.csv``)."""

    cfg: GANTrainConfig
    G: nn.Module
    D: nn.Module
    G_fwd: nn.Module
    D_fwd: nn.Module
    optG: torch.optim.Optimizer
    optD: torch.optim.Optimizer
    z_gen: torch.Generator
    device: torch.device
    iterations: list[list[Any]] = field(default_factory=list)
    world: World = World()

    def state_dict(self) -> dict[str, Any]:
        return dict(G=self.G.state_dict(), D=self.D.state_dict(), optG=self.optG.state_dict(),
                    optD=self.optD.state_dict(), z_rng=self.z_gen.get_state())

    def load_state_dict(self, ckpt: Mapping[str, Any]) -> None:
        self.G.load_state_dict(ckpt["G"])
        self.D.load_state_dict(ckpt["D"])
        self.optG.load_state_dict(ckpt["optG"])
        self.optD.load_state_dict(ckpt["optD"])
        self.z_gen.set_state(ckpt["z_rng"])


def _channels_last(cfg: GANTrainConfig, device: torch.device) -> bool:
    return cfg.channels_last and cfg.arch == "dcgan" and device.type == "cuda"


def setup_training(cfg: GANTrainConfig, device: torch.device, world: World | None = None) -> GANState:
    """Seeded G and D (their memory format), their training forwards (compiled or not; DDP-wrapped, with
    synchronised BatchNorm if ``sync_bn``, for several ranks), both Adams and the noise generator:
    everything :func:`train_gan` builds before its first step."""
    world = world or current_world()
    torch.manual_seed(cfg.seed)
    G, D = (m.to(device) for m in build_gan(cfg))
    if world.size > 1 and cfg.sync_bn:
        G, D = sync_batchnorm(G, device), sync_batchnorm(D, device)
    if _channels_last(cfg, device):
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    optG = adam(G.parameters(), device, cfg.lr_G, cfg.betas_G)
    optD = adam(D.parameters(), device, cfg.lr_D, cfg.betas_D)
    prepare_cuda(device)
    z_gen = torch.Generator(device).manual_seed(cfg.seed)
    G_fwd, D_fwd = (compiled(data_parallel(m, world, device), cfg.compile) for m in (G, D))
    return GANState(cfg, G, D, G_fwd, D_fwd, optG, optD, z_gen, device, world=world)


def _alternating_step(s: GANState, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """D steps on max log D(x) + log(1 - D(G(z))), then G steps through the updated D on the same G(z)."""
    with precision.autocast(s.device, s.cfg.bf16):
        fake = s.G_fwd(z)
        real_logits, fake_logits = s.D_fwd(x), s.D_fwd(fake.detach())
    loss_D = discriminator_loss(real_logits, fake_logits)
    s.optD.zero_grad(set_to_none=True)
    loss_D.backward()
    s.optD.step()
    with precision.autocast(s.device, s.cfg.bf16):
        fake_logits2 = s.D_fwd(fake)
    loss_G = generator_loss(fake_logits2, s.cfg.g_loss)
    s.optG.zero_grad(set_to_none=True)
    loss_G.backward()
    s.optG.step()
    return real_logits, fake_logits, fake_logits2, loss_D, loss_G


def _simultaneous_step(s: GANState, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Both players' gradients at the same parameters, then both Adam steps (PacGAN / ALI)."""
    with precision.autocast(s.device, s.cfg.bf16):
        fake = s.G_fwd(z)
        real_logits, fake_logits = s.D_fwd(x), s.D_fwd(fake)
    loss_D = discriminator_loss(real_logits, fake_logits)
    loss_G = generator_loss(fake_logits, s.cfg.g_loss)
    params_D, params_G = list(s.D.parameters()), list(s.G.parameters())
    grads_D = torch.autograd.grad(loss_D, params_D, retain_graph=True)
    grads_G = torch.autograd.grad(loss_G, params_G)
    for p, g in zip(params_D + params_G, grads_D + grads_G):
        p.grad = g
    s.optD.step()
    s.optG.step()
    return real_logits, fake_logits, loss_D, loss_G


def gan_epoch(s: GANState, batches: DeviceBatches, epoch: int, step: int) -> tuple[dict[str, Any], int]:
    """One pass over the data (``epoch`` 0-based), Goodfellow et al. 2014, Algorithm 1 with k = 1; returns
    the epoch's row (means of :data:`ITERATION_COLUMNS`) and step, and appends the per-iteration values
    to ``s.iterations``. With several ranks, ``z`` is drawn for the global batch and sliced, and the
    values are averaged over the ranks."""
    cfg, device, t0, world = s.cfg, s.device, time.perf_counter(), s.world
    cpu0 = time.process_time()
    stats = torch.zeros(len(batches), len(ITERATION_COLUMNS), device=device)
    watch = FiniteWatch(("loss_D", "loss_G"), device, cfg.check_every)
    s.G_fwd.train()
    s.D_fwd.train()
    channels_last = _channels_last(cfg, device)
    for i, (x, _) in enumerate(batches.epoch(epoch)):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        z = world.shard(torch.randn(x.shape[0] * world.size, cfg.nz, device=device, generator=s.z_gen))
        if cfg.update == "simultaneous":
            real_logits, fake_logits, loss_D, loss_G = _simultaneous_step(s, x, z)
            fake_logits2 = fake_logits
        else:
            real_logits, fake_logits, fake_logits2, loss_D, loss_G = _alternating_step(s, x, z)
        with torch.no_grad():
            stats[i] = world.mean(torch.stack([loss_D, loss_G, torch.sigmoid(real_logits.float()).mean(),
                                               torch.sigmoid(fake_logits.float()).mean(),
                                               torch.sigmoid(fake_logits2.float()).mean()]))
        watch.observe(step + i + 1, stats[i, :2])
    watch.check()
    host = stats.cpu()  # the epoch's one read of the training values
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    s.iterations += [[epoch, step + i + 1, *r] for i, r in enumerate(host.tolist())]
    step += len(host)
    return {"epoch": epoch, "step": step, **dict(zip(ITERATION_COLUMNS, host.mean(dim=0).tolist())),
            "epoch_time_s": round(wall, 3), "epoch_cpu_s": round(cpu, 3)}, step


def train_gan(config: GANTrainConfig | Mapping[str, Any], dataset: ImageDataset | MixtureDataset,
              out_dir: str | os.PathLike, *, resume: bool = False, evaluate: Evaluate | None = None,
              device: torch.device | str | None = None, overrides: tuple[str, ...] = ()) -> Record | None:
    """Train (or, with ``resume``, continue from ``last.pt``) a GAN on ``dataset``; return the run record.

    ``evaluate(sample_fn)`` is called every ``track_every`` epochs and its dict merged into the epoch's
    row. A resumed CPU run reproduces an uninterrupted one exactly. ``overrides`` names settings a resume
    may change (recorded in the manifest); see :func:`repro.train.loop.open_run`. In a process group
    (torchrun) every rank calls this; rank 0 returns the record, the others ``None``.
    """
    cfg = resolve_config(config, dataset)
    device = pick_device(device)
    world = current_world()
    world.per_rank_batch(cfg.batch_size)
    if world.size > 1 and cfg.update == "simultaneous":
        raise ValueError("update='simultaneous' takes gradients with torch.autograd.grad, which "
                         "DistributedDataParallel does not average; run it in one process")
    s = setup_training(cfg, device, world)
    with open_run(out_dir, KIND, config_dict(cfg), dataset.info(), resume=resume, device=device,
                  overrides=overrides, best_metric=cfg.best_metric, best_mode=cfg.best_mode) as run:
        data = training_tensor(dataset)
        batches = DeviceBatches(data, None, cfg.batch_size, device, seed=cfg.seed, rank=world.rank,
                                world_size=world.size)
        fixed_z = torch.randn(cfg.grid_samples, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed + 2))
        ref_idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed + 3))
        reference = batches.data[ref_idx[:min(cfg.grid_samples, len(data))].to(device)].float()
        if data.dtype == torch.uint8:
            reference = reference / 127.5 - 1.0  # the scale G's samples live on
        if run.checkpoint is not None:
            s.load_state_dict(run.checkpoint)
            set_rng_state(run.checkpoint["rng"])
            if world.main:
                s.iterations = [[r["epoch"], r["step"], *(r[c] for c in ITERATION_COLUMNS)] for r in
                                load_record(run.path).table(ITERATIONS) if r["epoch"] <= run.checkpoint["epoch"]]
        trained = TrainedGAN(s.G, cfg.nz)

        def train_epoch(epoch: int, step: int) -> tuple[dict[str, Any], int]:
            row, step = gan_epoch(s, batches, epoch, step)
            if world.main:
                run.record.write_table(ITERATIONS, ("epoch", "step") + ITERATION_COLUMNS, s.iterations)
            return row, step

        def measure(epoch: int, last: bool) -> dict[str, Any]:
            t0, row = time.perf_counter(), {}
            if world.main:
                snapshot = trained.generate(fixed_z.to(device))
                row["diversity"] = sample_diversity(snapshot, reference)
                if last or (epoch + 1) % max(cfg.grid_every, 1) == 0:
                    run.record.save_snapshot(snapshot, f"epoch{epoch:04d}")
            if evaluate is not None and (last or (epoch + 1) % max(cfg.track_every, 1) == 0):
                stream = torch.Generator(device).manual_seed(cfg.seed + 1)  # one process: one stream
                draw = partial(trained.sample, generator=stream if world.size == 1 else None)
                row.update(evaluate(lambda n: world.sample(n, draw, cfg.seed + 1, epoch, device)))
            row["eval_time_s"] = round(time.perf_counter() - t0, 3)
            return row

        return run.epochs(cfg.epochs, train_epoch, measure, s.state_dict,
                          precision=precision.describe(device, cfg.bf16))
