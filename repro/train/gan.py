"""GAN trainer: DCGAN on images (Radford et al. 2015), an MLP GAN on the 2D mixtures.

One iteration is Goodfellow et al. 2014, Algorithm 1 with k = 1, in the order of the PyTorch DCGAN
example the seed report ran: draw ``z``, update D on a real and a generated batch (BatchNorm sees each
separately), then update G through the updated D on the same generated batch.

Records (see :mod:`repro.records`), in the run folder:

- ``metrics.csv``, one row per epoch: ``epoch`` (0-based, as the PyTorch example and the diffusion
  trainer count), ``step`` (iterations completed), means of ``loss_D``, ``loss_G``, ``D_x`` (mean D(x) on
  real data), ``D_G_z`` (mean D(G(z)) before the D update) and ``D_G_z2`` (after it, what G's step saw),
  ``epoch_time_s`` (training wall time of the epoch), ``diversity``
  (:func:`repro.train.collapse.sample_diversity`), for the 2D mixtures ``modes_hit``,
  ``high_quality_fraction`` and ``kl_to_uniform`` on ``n_eval`` samples
  (:func:`repro.metrics.modes.mode_coverage`), ``eval_time_s``, and whatever ``evaluate(sample_fn)``
  returns;
- ``iterations.csv``: the same five values per iteration (kept on the device, read once per epoch);
- ``grids/epochNNNN.png`` (images: G of a fixed noise batch) or ``samples/epochNNNN.pt`` (mixtures: the
  ``n_eval`` evaluation samples, N x 2);
- ``checkpoints/last.pt`` every epoch and ``checkpoints/best.pt`` when ``best_metric`` improves.

Evaluation samples come from the same noise stream every epoch (seeded by ``seed``), with G in eval
mode, so that a metric's series over epochs compares generators, not noise draws; ``evaluate`` runs
with the global RNG states saved and restored, so turning it on or off leaves training unchanged.
Non-finite losses are looked for every ``finite_check_every`` iterations and at the end of each epoch,
before anything is written, so the error names the first bad step and ``last.pt`` stays the last good
model.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..data import DeviceBatches, ImageDataset, MixtureDataset
from ..io import atomic_torch_save, atomic_write
from ..metrics.modes import mode_coverage
from ..models.dcgan import DCGANDiscriminator, DCGANGenerator
from ..models.gan_mlp import MLPDiscriminator, MLPGenerator
from ..records import Record, RunRecord, load_record
from .accel import adam, compiled, prepare_cuda
from .checkpoint import (
    CheckpointError,
    check_finite,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .collapse import CollapseRule, detect_collapse, sample_diversity
from .gan_losses import (
    GeneratorLoss,
    discriminator_loss,
    generator_loss,
    parse_generator_loss,
)

__all__ = [
    "ITERATION_COLUMNS",
    "PRESETS",
    "GANTrainConfig",
    "best_or_last",
    "build_gan",
    "collapse_rule",
    "load_generator",
    "make_sampler",
    "preset",
    "setup_training",
    "train_gan",
]

KIND = "gan"
ITERATION_COLUMNS = ("loss_D", "loss_G", "D_x", "D_G_z", "D_G_z2")
Sampler = Callable[[int], torch.Tensor]


@dataclass(frozen=True)
class GANTrainConfig:
    """Every hyperparameter of a GAN run; recorded as the manifest's ``params``.

    ``arch`` is ``"dcgan"`` (images, ``image_size`` 32 or 64, ``channels`` taken from the data when
    ``None``) or ``"mlp"`` (2D mixtures). ``best_metric`` names a ``metrics.csv`` column (e.g.
    ``"fd_classifier"`` from ``evaluate``, or ``"modes_hit"``) and ``best_mode`` its direction; it selects
    ``best.pt`` and is the quality column of the collapse rule. ``bf16`` (autocast) and ``channels_last``
    act on CUDA only; ``compile`` wraps G and D in ``torch.compile`` for the training steps.
    """

    arch: Literal["dcgan", "mlp"] = "dcgan"
    image_size: int = 64
    channels: int | None = None
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    mlp_hidden: int = 128
    mlp_depth_G: int = 2
    mlp_depth_D: int = 2
    batch_size: int = 128
    epochs: int = 25
    lr_G: float = 2e-4
    lr_D: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    g_loss: str = GeneratorLoss.NON_SATURATING.value
    seed: int = 0
    n_grid: int = 64
    n_eval: int = 2500
    best_metric: str | None = None
    best_mode: Literal["min", "max"] = "min"
    finite_check_every: int = 50
    bf16: bool = False
    channels_last: bool = False  # CUDA memory format for the DCGAN's convolutions
    compile: bool = False        # torch.compile G and D for training


PRESETS: dict[str, GANTrainConfig] = {
    # The seed report: batch 128, nz 100, ngf = ndf = 64, lr_G 1e-4, lr_D 4e-4, Adam beta1 0.5, 64 x 64.
    # It does not fix the number of epochs; 60 goes past the collapse it saw after epoch 50.
    "seed-report": GANTrainConfig(image_size=64, batch_size=128, nz=100, ngf=64, ndf=64,
                                  lr_G=1e-4, lr_D=4e-4, beta1=0.5, epochs=60),
    # Radford et al. 2015, sec. 4: lr 2e-4, beta1 0.5, batch 128. The paper gives no CIFAR-10 epoch count;
    # 25 is the PyTorch example's default.
    "dcgan-paper": GANTrainConfig(image_size=64, batch_size=128, nz=100, ngf=64, ndf=64,
                                  lr_G=2e-4, lr_D=2e-4, beta1=0.5, epochs=25),
    # A CPU-sized DCGAN for Fashion-MNIST at 32 x 32 (padded), paper learning rates, narrow layers.
    "fashion-mnist-32-cpu": GANTrainConfig(image_size=32, channels=1, nz=100, ngf=32, ndf=32, batch_size=64,
                                           lr_G=2e-4, lr_D=2e-4, beta1=0.5, epochs=10),
    # 2D mixtures, after Metz et al. 2017 app. A: z 256-d, 128-unit ReLU layers, batch 512, Adam 1e-4, beta1 0.5.
    "mixture-mlp": GANTrainConfig(arch="mlp", nz=256, mlp_hidden=128, batch_size=512, lr_G=1e-4, lr_D=1e-4,
                                  beta1=0.5, epochs=20, best_metric="modes_hit", best_mode="max"),
}


def preset(name: str, **overrides: Any) -> GANTrainConfig:
    """A named preset from :data:`PRESETS`, with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown GAN preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


def _resolve(config: GANTrainConfig | Mapping[str, Any], dataset: ImageDataset | MixtureDataset) -> GANTrainConfig:
    """Check the config against the data and fill ``channels`` from it."""
    cfg = config if isinstance(config, GANTrainConfig) else GANTrainConfig(**dict(config))
    parse_generator_loss(cfg.g_loss)  # unknown names fail here, before a run folder is made
    if cfg.best_mode not in ("min", "max"):
        raise ValueError(f"best_mode must be 'min' or 'max', got {cfg.best_mode!r}")
    if isinstance(dataset, MixtureDataset):
        if cfg.arch != "mlp":
            raise ValueError(f"the 2D mixture {dataset.name!r} needs arch='mlp', got {cfg.arch!r}")
        return cfg
    if cfg.arch != "dcgan":
        raise ValueError(f"image data needs arch='dcgan', got {cfg.arch!r}")
    c, h, w = dataset.images.shape[1:]
    if h != cfg.image_size or w != cfg.image_size:
        raise ValueError(f"images are {h} x {w} but image_size is {cfg.image_size}; "
                         f"load the data with image_size={cfg.image_size}")
    if cfg.channels is not None and cfg.channels != c:
        raise ValueError(f"images have {c} channels but the config says channels={cfg.channels}")
    return dataclasses.replace(cfg, channels=c)


def collapse_rule(cfg: GANTrainConfig, dataset: ImageDataset | MixtureDataset | None = None) -> CollapseRule:
    """The collapse rule a run's summary applies: ``best_metric`` as quality and, on a 2D mixture scored by
    ``modes_hit``, the mixture's number of modes as target (:mod:`repro.train.collapse`)."""
    target = None
    if isinstance(dataset, MixtureDataset) and cfg.best_metric == "modes_hit":
        target = float(dataset.centers.shape[0])
    return CollapseRule(quality=cfg.best_metric, quality_mode=cfg.best_mode, quality_target=target)


def build_gan(cfg: GANTrainConfig) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator for ``cfg`` (initialised from the global torch RNG)."""
    if cfg.arch == "mlp":
        return (MLPGenerator(cfg.nz, cfg.mlp_hidden, cfg.mlp_depth_G),
                MLPDiscriminator(cfg.mlp_hidden, cfg.mlp_depth_D))
    if cfg.arch == "dcgan":
        if cfg.channels is None:
            raise ValueError("channels must be set to build a DCGAN")
        return (DCGANGenerator(cfg.nz, cfg.ngf, cfg.channels, cfg.image_size),
                DCGANDiscriminator(cfg.ndf, cfg.channels, cfg.image_size))
    raise ValueError(f"unknown arch {cfg.arch!r}; choose 'dcgan' or 'mlp'")


def make_sampler(G: nn.Module, nz: int, seed: int, device: torch.device | str = "cpu",
                 batch: int = 500) -> Sampler:
    """``sample_fn(n)``: n samples of ``G`` in eval mode, no grad, float32.

    The latent noise is one stream seeded by ``seed``: successive calls continue it (two calls of 500 give
    1,000 distinct samples), and a new sampler with the same seed starts it again.
    """
    device = torch.device(device)
    gen = torch.Generator(device).manual_seed(seed)

    @torch.no_grad()
    def sample_fn(n: int) -> torch.Tensor:
        was_training = G.training
        G.eval()
        try:
            out = [G(torch.randn(min(batch, n - i), nz, device=device, generator=gen)).float()
                   for i in range(0, n, batch)]
        finally:
            G.train(was_training)
        return torch.cat(out)

    return sample_fn


def best_or_last(run_dir: str | os.PathLike) -> Literal["best", "last"]:
    """``"best"`` when the run kept a best checkpoint (it tracked a quality metric), else ``"last"``."""
    return "best" if (Path(run_dir) / "checkpoints" / "best.pt").exists() else "last"


def load_generator(path: str | os.PathLike, which: Literal["last", "best"] = "last",
                   device: torch.device | str = "cpu") -> tuple[nn.Module, GANTrainConfig]:
    """The generator (eval mode) and config of a run folder's ``last.pt`` or ``best.pt``, or of a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoints" / f"{which}.pt"
    ckpt = load_checkpoint(path, KIND, map_location="cpu")
    cfg = GANTrainConfig(**ckpt["config"])
    G, _ = build_gan(cfg)
    G.load_state_dict(ckpt["G"])
    return G.to(device).eval(), cfg


def _write_iterations(path: Path, rows: list[list[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("epoch", "step") + ITERATION_COLUMNS)
    w.writerows(rows)
    atomic_write(path, buf.getvalue())


def _read_iterations(path: Path, up_to_epoch: int) -> list[list[Any]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [[int(r[0]), int(r[1])] + [float(v) for v in r[2:]] for r in rows if int(r[0]) <= up_to_epoch]


def _raise_if_nonfinite(stats: torch.Tensor, first_step: int, checkpoint: Path | None) -> None:
    """``stats`` rows are iterations ``first_step, first_step + 1, ...``; name the first with a non-finite loss."""
    bad = ~torch.isfinite(stats[:, :2]).all(dim=1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        check_finite(first_step + i, checkpoint if checkpoint and checkpoint.exists() else None,
                     loss_D=stats[i, 0], loss_G=stats[i, 1])


def _train_epoch(G: nn.Module, D: nn.Module, optG: torch.optim.Optimizer, optD: torch.optim.Optimizer,
                 batches: DeviceBatches, epoch: int, step: int, cfg: GANTrainConfig, z_gen: torch.Generator,
                 last_ckpt: Path) -> torch.Tensor:
    """One pass over the data (``epoch`` 0-based); returns the per-iteration stats (iterations x 5)."""
    device = batches.device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")
    stats = torch.zeros(len(batches), len(ITERATION_COLUMNS), device=device)
    checked = 0
    G.train()
    D.train()
    channels_last = _channels_last(cfg, device)
    for i, (x, _) in enumerate(batches.epoch(epoch)):
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        z = torch.randn(x.shape[0], cfg.nz, device=device, generator=z_gen)
        # D step: maximise log D(x) + log(1 - D(G(z)))
        with autocast:
            fake = G(z)
            real_logits, fake_logits = D(x), D(fake.detach())
        loss_D = discriminator_loss(real_logits, fake_logits)
        optD.zero_grad(set_to_none=True)
        loss_D.backward()
        optD.step()
        # G step through the updated D, on the same G(z)
        with autocast:
            fake_logits2 = D(fake)
        loss_G = generator_loss(fake_logits2, cfg.g_loss)
        optG.zero_grad(set_to_none=True)
        loss_G.backward()
        optG.step()
        with torch.no_grad():
            stats[i] = torch.stack([loss_D, loss_G, torch.sigmoid(real_logits.float()).mean(),
                                    torch.sigmoid(fake_logits.float()).mean(),
                                    torch.sigmoid(fake_logits2.float()).mean()])
        if (step + i + 1) % cfg.finite_check_every == 0:
            _raise_if_nonfinite(stats[checked:i + 1], step + checked + 1, last_ckpt)
            checked = i + 1
    _raise_if_nonfinite(stats[checked:], step + checked + 1, last_ckpt)
    return stats


def _channels_last(cfg: GANTrainConfig, device: torch.device) -> bool:
    return cfg.channels_last and cfg.arch == "dcgan" and device.type == "cuda"


def setup_training(cfg: GANTrainConfig, device: torch.device) -> tuple[nn.Module, nn.Module, nn.Module, nn.Module,
                                                                       torch.optim.Optimizer, torch.optim.Optimizer,
                                                                       torch.Generator]:
    """Seeded G and D (their memory format), their training forwards (compiled or not), both Adams and
    the noise generator: everything :func:`train_gan` builds before its first step."""
    torch.manual_seed(cfg.seed)
    G, D = (m.to(device) for m in build_gan(cfg))
    if _channels_last(cfg, device):
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    optG = adam(G.parameters(), device, cfg.lr_G, (cfg.beta1, cfg.beta2))
    optD = adam(D.parameters(), device, cfg.lr_D, (cfg.beta1, cfg.beta2))
    prepare_cuda(device)
    z_gen = torch.Generator(device).manual_seed(cfg.seed)
    return G, D, compiled(G, cfg.compile), compiled(D, cfg.compile), optG, optD, z_gen


def _is_better(value: float, best: float | None, mode: str) -> bool:
    if not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def train_gan(config: GANTrainConfig | Mapping[str, Any], dataset: ImageDataset | MixtureDataset,
              out_dir: str | os.PathLike, *, resume: bool = False,
              evaluate: Callable[[Sampler], Mapping[str, float]] | None = None,
              device: torch.device | str | None = None) -> Record:
    """Train (or, with ``resume``, continue from ``last.pt``) a GAN on ``dataset``; return the run record.

    ``evaluate(sample_fn)`` is called after every epoch with a fresh :func:`make_sampler` and its
    dict merged into the epoch's row. A resumed CPU run reproduces an uninterrupted one exactly. At the end
    the manifest's summary holds the best epoch and what :func:`repro.train.collapse.detect_collapse` said.
    """
    cfg = _resolve(config, dataset)
    device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
    params = dataclasses.asdict(cfg)
    out_dir = Path(out_dir)
    last_path, best_path = out_dir / "checkpoints" / "last.pt", out_dir / "checkpoints" / "best.pt"
    mixture = isinstance(dataset, MixtureDataset)

    G, D, G_fwd, D_fwd, optG, optD, z_gen = setup_training(cfg, device)
    data = dataset.points if mixture else dataset.images
    batches = DeviceBatches(data, None, cfg.batch_size, device, seed=cfg.seed)
    fixed_z = torch.randn(cfg.n_grid, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed + 2)).to(device)
    n_ref = min(cfg.n_eval if mixture else cfg.n_grid, len(data))
    ref_idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(cfg.seed + 3))[:n_ref]
    reference = batches.data[ref_idx.to(device)].float()
    if not mixture:
        reference = reference / 127.5 - 1.0  # the scale G's samples live on

    start_epoch, step, best, best_epoch = 0, 0, None, None
    iterations: list[list[Any]] = []
    if resume:
        # CPU first: RNG states must stay CPU tensors; load_state_dict moves weights and Adam moments
        ckpt = load_checkpoint(last_path, KIND, params, map_location="cpu")
        G.load_state_dict(ckpt["G"])
        D.load_state_dict(ckpt["D"])
        optG.load_state_dict(ckpt["optG"])
        optD.load_state_dict(ckpt["optD"])
        z_gen.set_state(ckpt["z_rng"])
        set_rng_state(ckpt["rng"])
        start_epoch, step, best, best_epoch = ckpt["epoch"] + 1, ckpt["step"], ckpt["best"], ckpt["best_epoch"]
        record = RunRecord.resume(out_dir)
        stored = record.manifest.get("data", {}).get("sha256")
        if stored is not None and stored != dataset.info().get("sha256"):
            raise CheckpointError(f"{out_dir} was trained on other data (sha256 {stored[:12]}...); "
                                  "resume with the same data set or start a new run")
        record.truncate(ckpt["epoch"])
        record.manifest["params"]["epochs"] = cfg.epochs
        iterations = _read_iterations(out_dir / "iterations.csv", ckpt["epoch"])
    else:
        record = RunRecord(out_dir, KIND, params, data=dataset.info(), device=device)

    try:
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            stats = _train_epoch(G_fwd, D_fwd, optG, optD, batches, epoch, step, cfg, z_gen, last_path)
            host = stats.cpu()  # the epoch's one read of the training values
            t_train = time.perf_counter() - t0
            means, host = host.mean(dim=0).tolist(), host.tolist()
            iterations += [[epoch, step + i + 1, *r] for i, r in enumerate(host)]
            step += len(host)
            row: dict[str, Any] = {"epoch": epoch, "step": step, **dict(zip(ITERATION_COLUMNS, means)),
                                   "epoch_time_s": round(t_train, 3)}

            t1, saved_rng = time.perf_counter(), rng_state()
            if mixture:
                samples = make_sampler(G, cfg.nz, cfg.seed + 1, device)(cfg.n_eval)
                cov = mode_coverage(samples, dataset.centers, dataset.std)
                row.update(diversity=sample_diversity(samples, reference), modes_hit=cov["modes_hit"],
                           high_quality_fraction=cov["high_quality_fraction"], kl_to_uniform=cov["kl_to_uniform"])
                atomic_torch_save(samples.cpu(), out_dir / "samples" / f"epoch{epoch:04d}.pt")
            else:
                with torch.no_grad():
                    G.eval()
                    grid = G(fixed_z).float()
                    G.train()
                row["diversity"] = sample_diversity(grid, reference)
                record.save_grid(grid, f"epoch{epoch:04d}")
            if evaluate is not None:
                result = evaluate(make_sampler(G, cfg.nz, cfg.seed + 1, device))
                row.update({k: float(v) for k, v in result.items()})
            set_rng_state(saved_rng)
            row["eval_time_s"] = round(time.perf_counter() - t1, 3)

            improved = False
            if cfg.best_metric is not None:
                if cfg.best_metric not in row:
                    raise ValueError(f"best_metric {cfg.best_metric!r} is not among this epoch's columns "
                                     f"({', '.join(row)}); pass an evaluate() that returns it or change best_metric")
                improved = _is_better(float(row[cfg.best_metric]), best, cfg.best_mode)
                if improved:
                    best, best_epoch = float(row[cfg.best_metric]), epoch

            # rows, then best.pt, then last.pt: a run killed in between resumes from the older last.pt,
            # truncate() drops the rows written after it, and the epoch is recomputed identically
            _write_iterations(out_dir / "iterations.csv", iterations)
            record.log(row)
            state = dict(G=G.state_dict(), D=D.state_dict(), optG=optG.state_dict(), optD=optD.state_dict(),
                         z_rng=z_gen.get_state(), epoch=epoch, step=step, best=best, best_epoch=best_epoch)
            if improved:
                save_checkpoint(best_path, KIND, params, **state, best_metric=cfg.best_metric)
            save_checkpoint(last_path, KIND, params, **state)
    except BaseException as err:
        record.fail(err)
        raise

    report = detect_collapse(record.rows, collapse_rule(cfg, dataset))
    record.finish(best_metric=cfg.best_metric, best_value=best, best_epoch=best_epoch,
                  collapse=report.as_dict(), collapse_verdict=str(report))
    return load_record(out_dir)
