"""Training loop of the diffusion models (Ho et al. 2020, Algorithm 1 and App. B; Nichol & Dhariwal 2021).

One call, :func:`train_diffusion`, trains a U-Net on an image data set or an MLP on a 2D mixture:
Adam (AdamW when ``weight_decay`` > 0; fused on CUDA), linear learning-rate warm-up, gradient
clipping, an EMA of the weights, optional bf16 autocast, channels_last and ``torch.compile``. After each epoch it logs a row to ``metrics.csv``
(losses, learning rate, gradient norm, wall time, sample metrics), saves a sample grid from the EMA
model (images) or the mode coverage of its samples (mixtures), then writes ``checkpoints/last.pt``
atomically. ``resume=True`` continues from that checkpoint; on the CPU the result is bit-identical
to an uninterrupted run. A NaN or Inf loss stops the run with :class:`NonFiniteLossError` naming the
step; the last checkpoint, written before it, is left as it was.

Losses are accumulated on the device and read once per epoch; the NaN check reads one flag every
``nan_check_every`` steps. Every global RNG state is restored after the per-epoch evaluation, so that
turning metrics on or off does not change the trained weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from ..data import DeviceBatches, ImageDataset, MixtureDataset
from ..diffusion import GaussianDiffusion, get_beta_schedule, make_timestep_sampler
from ..metrics.modes import mode_coverage
from ..models.denoiser_mlp import MLP_PRESETS, build_denoiser_mlp
from ..models.unet import build_unet, count_parameters
from ..records import Record, RunRecord, load_record
from .checkpoint import CheckpointError, check_finite, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .accel import adam, compiled, prepare_cuda
from .ema import EMA

__all__ = ["DiffusionTrainConfig", "train_diffusion", "setup_training", "build_diffusion", "build_denoiser",
           "load_trained", "TrainedDiffusion"]

KIND = "diffusion"
Evaluate = Callable[[Callable[[int], torch.Tensor]], Mapping[str, float]]


@dataclass
class DiffusionTrainConfig:
    """Every hyperparameter of a diffusion run; the defaults are Ho et al. 2020's CIFAR-10 setup (App. B).

    Ho et al.: U-Net "ho-cifar10" (dropout 0.1), linear schedule, T = 1000, L_simple with
    sigma_t^2 = beta_t, Adam lr 2e-4, batch 128, warm-up 5000 steps, gradient clipping at 1,
    EMA 0.9999. Nichol & Dhariwal's CIFAR-10 run: ``model="iddpm-cifar10"``, ``schedule="cosine"``,
    ``num_timesteps=4000``, ``learn_sigma=True``, ``loss_type="hybrid"``, ``lr=1e-4``.
    For the 2D mixtures use ``model="mlp"``; their points are divided by ``point_scale`` (default:
    the root mean square of the training points) and samples are scaled back.
    """

    model: str = "ho-cifar10"               # U-Net preset (repro.models.unet) or MLP preset ("mlp")
    model_kwargs: dict = field(default_factory=dict)
    schedule: str = "linear"                # "linear" | "cosine"
    num_timesteps: int = 1000
    learn_sigma: bool = False
    loss_type: str = "simple"               # "simple" | "vlb" | "hybrid"
    vlb_weight: float = 1e-3                # lambda of the hybrid loss (iDDPM)
    fixed_variance: str = "beta"            # "beta" | "beta_tilde" when not learning sigma
    timestep_sampler: str = "uniform"       # "uniform" | "loss-second-moment" (iDDPM, for "vlb")
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-4
    weight_decay: float = 0.0               # > 0 switches Adam to AdamW (papers: 0)
    adam_betas: tuple = (0.9, 0.999)
    warmup_steps: int = 5000                # lr_k = lr * min(1, k / warmup_steps), k = 1, 2, ...
    grad_clip: float | None = 1.0           # max global gradient norm; None: no clipping
    ema_decay: float = 0.9999
    seed: int = 0
    bf16: bool = False                      # bf16 autocast, CUDA only
    channels_last: bool = False             # CUDA memory format for the U-Net
    compile: bool = False                   # torch.compile the training forward pass
    sampler: str = "ddim"                   # grids and metrics: "ddim" | "ancestral"
    sampler_steps: int = 50                 # respaced steps of that sampler
    ddim_eta: float = 0.0
    grid_size: int = 64
    grid_every: int = 1                     # epochs between sample grids (the last epoch always)
    eval_every: int = 1                     # epochs between evaluate() calls (the last epoch always)
    eval_samples: int = 2500                # mixtures: samples for mode coverage (PacGAN: 2500)
    sample_batch_size: int = 500
    point_scale: float | None = None
    nan_check_every: int = 100              # steps between reads of the non-finite-loss flag


def _as_config(config: DiffusionTrainConfig | Mapping[str, Any]) -> DiffusionTrainConfig:
    if isinstance(config, DiffusionTrainConfig):
        return config
    names = {f.name for f in dataclasses.fields(DiffusionTrainConfig)}
    unknown = sorted(set(config) - names)
    if unknown:
        raise TypeError(f"unknown diffusion config keys {unknown}; known keys: {sorted(names)}")
    return DiffusionTrainConfig(**config)


def _config_dict(cfg: DiffusionTrainConfig) -> dict[str, Any]:
    """The config as JSON types (tuples become lists), the form stored in manifests and checkpoints."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def build_diffusion(cfg: DiffusionTrainConfig, decoder: str = "discretized") -> GaussianDiffusion:
    """The process a config describes."""
    return GaussianDiffusion(get_beta_schedule(cfg.schedule, cfg.num_timesteps), learn_sigma=cfg.learn_sigma,
                             loss_type=cfg.loss_type, vlb_weight=cfg.vlb_weight,
                             fixed_variance=cfg.fixed_variance, decoder=decoder)


def build_denoiser(cfg: DiffusionTrainConfig, data_shape: tuple[int, ...]) -> nn.Module:
    """The network a config describes, for data of shape ``data_shape`` (C, H, W) or (dim,)."""
    if cfg.model in MLP_PRESETS:
        if len(data_shape) != 1:
            raise ValueError(f"MLP preset {cfg.model!r} needs points, got data of shape {data_shape}")
        return build_denoiser_mlp(cfg.model, data_shape[0], cfg.learn_sigma, **cfg.model_kwargs)
    if len(data_shape) != 3:
        raise ValueError(f"U-Net preset {cfg.model!r} needs images, got data of shape {data_shape}; "
                         f"use an MLP preset ({', '.join(MLP_PRESETS)}) for points")
    return build_unet(cfg.model, data_shape[0], data_shape[-1], cfg.learn_sigma, **cfg.model_kwargs)


@dataclass
class TrainedDiffusion:
    """A trained (EMA) model with its process; ``sample(n)`` draws with the run's sampler."""

    model: nn.Module
    diffusion: GaussianDiffusion
    config: DiffusionTrainConfig
    data_shape: tuple[int, ...]
    point_scale: float | None = None
    _process: GaussianDiffusion | None = field(default=None, repr=False)

    @property
    def process(self) -> GaussianDiffusion:
        """The process the sampler walks: ``diffusion`` respaced to ``config.sampler_steps``."""
        if self._process is None:
            steps = self.config.sampler_steps
            self._process = self.diffusion if steps >= self.diffusion.num_timesteps else self.diffusion.respace(steps)
        return self._process

    def sample(self, n: int, generator: torch.Generator | None = None, batch_size: int | None = None,
               autocast: bool = False) -> torch.Tensor:
        """n samples: images in [-1, 1], or points in data coordinates."""
        cfg, device = self.config, next(self.model.parameters()).device
        points = self.point_scale is not None
        process = self.process
        ctx = (torch.autocast("cuda", dtype=torch.bfloat16) if autocast and device.type == "cuda"
               else contextlib.nullcontext())
        out, bs = [], batch_size or cfg.sample_batch_size
        for i in range(0, n, bs):
            shape = (min(bs, n - i), *self.data_shape)
            with ctx:
                if cfg.sampler == "ddim":
                    x = process.ddim_sample_loop(self.model, shape, steps=None, eta=cfg.ddim_eta,
                                                 clip_denoised=not points, generator=generator, device=device)
                elif cfg.sampler == "ancestral":
                    x = process.p_sample_loop(self.model, shape, clip_denoised=not points, generator=generator,
                                              device=device)
                else:
                    raise ValueError(f"unknown sampler {cfg.sampler!r}; choose 'ddim' or 'ancestral'")
            out.append(x.float())
        x = torch.cat(out) if out else torch.empty(0, *self.data_shape, device=device)
        return x * self.point_scale if points else x


def _autocast(cfg: DiffusionTrainConfig, device: torch.device) -> contextlib.AbstractContextManager:
    if cfg.bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _isolated_rng():
    """Run a block without changing any global RNG state seen by training."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _channels_last(cfg: DiffusionTrainConfig, device: torch.device, data_shape: tuple[int, ...]) -> bool:
    return cfg.channels_last and device.type == "cuda" and len(data_shape) == 3


def setup_training(cfg: DiffusionTrainConfig, data_shape: tuple[int, ...], device: torch.device,
                   points: bool = False) -> tuple[GaussianDiffusion, nn.Module, nn.Module, EMA,
                                                  torch.optim.Optimizer, Any]:
    """Seeded process, model (its memory format), training forward (compiled or not), EMA, optimiser and
    timestep sampler: everything :func:`train_diffusion` builds before its first step."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    diffusion = build_diffusion(cfg, decoder="continuous" if points else "discretized")
    model = build_denoiser(cfg, data_shape).to(device)
    if _channels_last(cfg, device, data_shape):
        model = model.to(memory_format=torch.channels_last)
    ema = EMA(model, cfg.ema_decay)
    opt = adam(model.parameters(), device, cfg.lr, cfg.adam_betas, cfg.weight_decay)
    prepare_cuda(device)
    t_sampler = make_timestep_sampler(cfg.timestep_sampler, diffusion.num_timesteps, device)
    return diffusion, model, compiled(model, cfg.compile), ema, opt, t_sampler


def train_diffusion(config: DiffusionTrainConfig | Mapping[str, Any], dataset: ImageDataset | MixtureDataset,
                    out_dir: str | os.PathLike, *, resume: bool = False, evaluate: Evaluate | None = None,
                    device: torch.device | str | None = None) -> RunRecord:
    """Train (or, with ``resume``, continue) a diffusion model; returns the run's :class:`RunRecord`.

    ``evaluate(sample_fn)``, when given, is called every ``eval_every`` epochs with
    ``sample_fn(n)`` drawing n EMA samples with the configured sampler (images in [-1, 1], points in
    data coordinates); its dict joins that epoch's row.
    """
    cfg = _as_config(config)
    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    params = _config_dict(cfg)
    if cfg.bf16 and device.type != "cuda":
        warnings.warn(f"bf16 autocast is used on CUDA only; training in float32 on {device}", stacklevel=2)
    points = isinstance(dataset, MixtureDataset)
    data = dataset.points if points else dataset.images
    data_shape = tuple(data.shape[1:])
    if resume:
        record = RunRecord.resume(out_dir)
        if record.manifest.get("kind") != KIND:
            raise CheckpointError(f"{out_dir} holds a {record.manifest.get('kind')!r} run, not a diffusion run")
        stored = record.manifest.get("data", {}).get("sha256")
        if stored is not None and stored != dataset.info()["sha256"]:
            raise CheckpointError(f"{out_dir} was trained on other data (sha256 {stored[:12]}...); "
                                  "resume with the same data set or start a new run")
    else:
        record = RunRecord(out_dir, KIND, params, data=dataset.info(), device=device)
    ckpt_path = record.checkpoint_dir / "last.pt"
    try:
        diffusion, model, forward, ema, opt, t_sampler = setup_training(cfg, data_shape, device, points)
        scale = None
        if points:
            scale = float(cfg.point_scale or dataset.points.double().pow(2).mean().sqrt())
        start_epoch, step = 0, 0
        if resume:
            ckpt = load_checkpoint(ckpt_path, KIND, params)
            model.load_state_dict(ckpt["model"])
            ema.load_state_dict(ckpt["ema"])
            opt.load_state_dict(ckpt["optimizer"])
            t_sampler.load_state_dict(ckpt["timestep_sampler"])
            set_rng_state(ckpt["rng"])
            start_epoch, step = ckpt["epoch"] + 1, ckpt["step"]
            record.truncate(ckpt["epoch"])
            record.manifest["params"]["epochs"] = cfg.epochs
        record.update(model_parameters=count_parameters(model), point_scale=scale,
                      bf16_active=cfg.bf16 and device.type == "cuda")
        trained = TrainedDiffusion(ema.model, diffusion, cfg, data_shape, scale)
        batches = DeviceBatches(data / scale if points else data, None, cfg.batch_size, device, cfg.seed)
        row: dict[str, Any] = {}
        for epoch in range(start_epoch, cfg.epochs):
            row, step = _train_epoch(cfg, diffusion, model, forward, ema, opt, t_sampler, batches, epoch, step,
                                     device, ckpt_path)
            last = epoch == cfg.epochs - 1
            with _isolated_rng():
                row.update(_evaluate_epoch(cfg, trained, dataset, record, epoch, last, evaluate, device))
            record.log(row)
            save_checkpoint(ckpt_path, KIND, params, model=model.state_dict(), ema=ema.state_dict(),
                            optimizer=opt.state_dict(), timestep_sampler=t_sampler.state_dict(),
                            epoch=epoch, step=step, point_scale=scale)
        record.finish(epochs=cfg.epochs, steps=step, **{k: v for k, v in row.items() if k != "epoch"})
    except BaseException as err:
        record.fail(err)
        raise
    return record


def _train_epoch(cfg: DiffusionTrainConfig, diffusion: GaussianDiffusion, model: nn.Module, forward: nn.Module,
                 ema: EMA, opt: torch.optim.Optimizer, t_sampler: Any, batches: DeviceBatches, epoch: int, step: int,
                 device: torch.device, ckpt_path: os.PathLike) -> tuple[dict[str, Any], int]:
    """One pass over the data (Ho et al. 2020, Algorithm 1 per batch); returns the epoch's row and step."""
    model.train()
    sums = torch.zeros(4, dtype=torch.float64, device=device)      # loss, mse, vb, grad norm
    first_bad = torch.full((), -1, dtype=torch.long, device=device)
    bad_values = torch.zeros(3, dtype=torch.float64, device=device)
    n, lr, t0 = 0, cfg.lr, time.perf_counter()
    max_norm = cfg.grad_clip if cfg.grad_clip else math.inf
    channels_last = _channels_last(cfg, device, tuple(batches.data.shape[1:]))

    def raise_if_bad() -> None:
        bad = int(first_bad)  # the one host sync of the check
        if bad >= 0:
            loss, mse, vb = bad_values.tolist()
            check_finite(bad, ckpt_path if os.path.exists(ckpt_path) else None, loss=loss, mse=mse, vb=vb)

    for x0, _ in batches.epoch(epoch):
        step += 1
        lr = cfg.lr * min(1.0, step / cfg.warmup_steps) if cfg.warmup_steps > 0 else cfg.lr
        for group in opt.param_groups:
            group["lr"] = lr
        if channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        t, weights = t_sampler.sample(x0.shape[0], device)
        with _autocast(cfg, device):
            terms = diffusion.training_losses(forward, x0, t)
        loss = (terms["loss"] * weights).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        opt.step()
        ema.update(model)
        t_sampler.update(t, terms["loss"].detach())
        stats = torch.stack([loss.detach(), terms["mse"].detach().mean(), terms["vb"].detach().mean(),
                             grad_norm.detach()]).double()
        sums += stats
        newly_bad = (first_bad < 0) & ~torch.isfinite(stats[:3]).all()
        first_bad = torch.where(newly_bad, torch.full_like(first_bad, step), first_bad)
        bad_values = torch.where(newly_bad, stats[:3], bad_values)
        n += 1
        if cfg.nan_check_every > 0 and step % cfg.nan_check_every == 0:
            raise_if_bad()
    raise_if_bad()
    if n == 0:
        raise ValueError(f"epoch {epoch} had no batches: batch_size {cfg.batch_size} exceeds the data set")
    loss, mse, vb, grad_norm = (sums / n).tolist()
    wall = time.perf_counter() - t0
    return {"epoch": epoch, "step": step, "loss": loss, "mse": mse, "vb": vb, "lr": lr, "grad_norm": grad_norm,
            "epoch_time_s": round(wall, 3), "examples_per_s": round(n * cfg.batch_size / wall, 1)}, step


def _evaluate_epoch(cfg: DiffusionTrainConfig, trained: TrainedDiffusion, dataset: Any, record: RunRecord,
                    epoch: int, last: bool, evaluate: Evaluate | None, device: torch.device) -> dict[str, Any]:
    """Sample grid or mode coverage of the EMA model, then ``evaluate``; global RNGs are restored by the caller."""
    t0, row = time.perf_counter(), {}
    bf16 = cfg.bf16 and device.type == "cuda"

    def generator(seed: int) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed)

    if isinstance(dataset, MixtureDataset):
        pts = trained.sample(cfg.eval_samples, generator(cfg.seed + 1), autocast=bf16)
        cov = mode_coverage(pts.cpu(), dataset.centers, dataset.std)
        row.update(modes_hit=cov["modes_hit"], high_quality_fraction=cov["high_quality_fraction"],
                   kl_to_uniform=cov["kl_to_uniform"])
    elif cfg.grid_size > 0 and (last or (epoch + 1) % max(cfg.grid_every, 1) == 0):
        grid = trained.sample(cfg.grid_size, generator(cfg.seed + 1), autocast=bf16)  # same noise every epoch
        record.save_grid(grid, f"epoch{epoch:04d}", nrow=max(1, int(math.sqrt(cfg.grid_size))))
    if evaluate is not None and (last or (epoch + 1) % max(cfg.eval_every, 1) == 0):
        # global RNG, so that an evaluator that seeds it (repro.metrics.sampling.seeded) fixes the samples
        row.update(evaluate(lambda n: trained.sample(n, autocast=bf16)))
    row["eval_time_s"] = round(time.perf_counter() - t0, 3)
    return row


def load_trained(run: str | os.PathLike | Record, device: torch.device | str = "cpu",
                 weights: str = "ema") -> TrainedDiffusion:
    """The model of a run (its folder, or its record already loaded; ``weights``: ``"ema"`` or ``"model"``)
    with its process and sampler."""
    rec = run if isinstance(run, Record) else load_record(run)
    cfg = _as_config(rec.params)
    data = rec.manifest.get("data", {})
    points = "shape" not in data
    data_shape = (2,) if points else tuple(data["shape"])
    ckpt = load_checkpoint(rec.path / "checkpoints" / "last.pt", KIND, _config_dict(cfg))
    model = build_denoiser(cfg, data_shape)
    if weights not in ("ema", "model"):
        raise ValueError(f"weights must be 'ema' or 'model', got {weights!r}")
    model.load_state_dict(ckpt["ema"]["model"] if weights == "ema" else ckpt["model"])
    model = model.to(device).eval().requires_grad_(False)
    diffusion = build_diffusion(cfg, decoder="continuous" if points else "discretized")
    return TrainedDiffusion(model, diffusion, cfg, data_shape, ckpt.get("point_scale"))
