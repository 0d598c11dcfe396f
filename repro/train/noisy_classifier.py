"""Trainer of the noise-aware classifier p_phi(y | x_t, t) of classifier guidance (Dhariwal & Nichol 2021, sec. 4).

The classifier is trained "on noisy images x_t" of the diffusion model it will guide (Dhariwal &
Nichol, sec. 4): per batch, x0 and y from the data, t uniform over all T steps of the schedule, x_t ~
q(x_t | x0) (Ho et al. 2020, eq. 4), and the cross-entropy of its logits at (x_t, t). The optimiser
follows their classifier training (``scripts/classifier_train.py`` and the flags of their README for
the 128 x 128 ImageNet classifier): AdamW, lr 3e-4, weight decay 0.05, the learning rate annealed
linearly to 0 over the run, no EMA, no clipping. The schedule (``schedule``, ``num_timesteps``) must be
the one of the diffusion model the classifier will guide.

:func:`classifier_epoch` is one pass over the training split; :func:`train_noisy_classifier` hands it to
the shared run loop (:mod:`repro.train.loop`: records, checkpoints, exact resume). ``val_size`` images,
chosen by ``seed``, are held out of training; after each epoch the row gets their loss and accuracy
at a fixed draw of t and noise (``val_loss``, ``val_acc``) and on clean images (``val_acc_clean``).
:func:`accuracy_by_t` measures the accuracy on noisy test images at given t.
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import precision
from ..data import DeviceBatches, ImageDataset, to_float
from ..diffusion import GaussianDiffusion, get_beta_schedule
from ..models.noisy_classifier import NoisyClassifier, build_noisy_classifier
from ..models.unet import count_parameters
from ..records import Record, load_record
from .accel import adam, compiled, prepare_cuda
from .checkpoint import CheckpointError, load_checkpoint, set_rng_state
from .loop import FiniteWatch, as_config, config_dict, open_run, pick_device

__all__ = ["NoisyClassifierTrainConfig", "PRESETS", "preset", "NoisyClassifierState", "setup_training",
           "classifier_epoch", "train_noisy_classifier", "accuracy_by_t", "load_noisy_classifier", "build_process"]

KIND = "noisy-classifier"


@dataclass(frozen=True)
class NoisyClassifierTrainConfig:
    """Every hyperparameter of a noisy-classifier run, recorded as the manifest's ``params``.

    ``model`` names the U-Net preset whose encoder half is the trunk (:func:`build_noisy_classifier`),
    with ``model_kwargs`` replacing its fields; ``num_classes`` (``None``: the data set's classes) is
    filled from the data. The defaults are Dhariwal & Nichol's classifier training flags (see the module
    docstring) on our 32 x 32 U-Net trunk; their run is 300k steps at batch 256.
    """

    model: str = "ho-cifar10"               # U-Net preset of the trunk (repro.models.unet)
    model_kwargs: dict = field(default_factory=dict)
    num_classes: int | None = None
    schedule: str = "linear"                # the guided diffusion model's schedule: "linear" | "cosine"
    num_timesteps: int = 1000
    epochs: int = 10
    batch_size: int = 256
    lr: float = 3e-4
    weight_decay: float = 0.05              # AdamW
    betas: tuple = (0.9, 0.999)
    anneal_lr: bool = True                  # lr_k = lr (1 - (k - 1) / K) over the K steps of the run
    val_size: int = 1000                    # held-out training images (chosen by seed)
    seed: int = 0
    bf16: bool = False                      # bf16 autocast of the forward pass
    compile: bool = False                   # torch.compile the training forward pass
    check_every: int = 100                  # steps between reads of the non-finite-loss flag
    best_metric: str | None = "val_acc"
    best_mode: str = "max"


PRESETS: dict[str, NoisyClassifierTrainConfig] = {
    # Dhariwal & Nichol 2021 (their README's 128 x 128 classifier flags): AdamW 3e-4, weight decay 0.05,
    # annealed lr, batch 256, a width-128 trunk of depth 2 with scale-shift norm, resblock up/down and
    # attention at every resolution below 32 (here 16 and 8, as our trunks are 32 x 32), T = 1000 linear.
    "guided-diffusion": NoisyClassifierTrainConfig(
        model_kwargs=dict(attention_resolutions=(16, 8), num_head_channels=64, use_scale_shift_norm=True,
                          resblock_updown=True, dropout=0.0)),
    # The CPU study's Fashion-MNIST DDPM (configs/profiles.yaml, train_ddpm cpu): the encoder half of its
    # 'tiny' U-Net (0.33M parameters with 10 classes), its cosine schedule with T = 1000; their optimiser
    # at a CPU-sized batch. Sized for a subset of a few thousand images, as the DDPM's.
    "fashion-mnist-tiny": NoisyClassifierTrainConfig(model="tiny", schedule="cosine", num_timesteps=1000, epochs=10,
                                                     batch_size=64, val_size=512),
}


def preset(name: str, **overrides: Any) -> NoisyClassifierTrainConfig:
    """A named preset of :data:`PRESETS`, with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"unknown noisy-classifier preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


def _resolve(config: NoisyClassifierTrainConfig | Mapping[str, Any], dataset: ImageDataset) -> NoisyClassifierTrainConfig:
    """The config with ``num_classes`` filled from the data, checked against its labels and size."""
    config = as_config(NoisyClassifierTrainConfig, config)
    if not isinstance(dataset, ImageDataset):
        raise TypeError(f"the noisy classifier trains on labelled images (ImageDataset), got {type(dataset).__name__}")
    k = config.num_classes if config.num_classes is not None else len(dataset.classes)
    labels = dataset.labels
    if int(labels.min()) < 0 or int(labels.max()) >= k:
        raise ValueError(f"labels span {int(labels.min())}..{int(labels.max())}; num_classes = {k} needs 0..{k - 1}")
    if not 0 < config.val_size < len(dataset) - config.batch_size + 1:
        raise ValueError(f"val_size {config.val_size} must leave at least one batch ({config.batch_size}) of the "
                         f"{len(dataset)} images for training")
    return dataclasses.replace(config, num_classes=k)


def build_process(cfg: NoisyClassifierTrainConfig) -> GaussianDiffusion:
    """The forward process q(x_t | x0) the classifier is trained on (only its schedule is used)."""
    return GaussianDiffusion(get_beta_schedule(cfg.schedule, cfg.num_timesteps), variance="fixed_large",
                             loss_type="simple")


def _split(n: int, cfg: NoisyClassifierTrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, held-out) indices of a data set of n items, chosen by ``seed`` (sorted)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    return perm[cfg.val_size:].sort().values, perm[:cfg.val_size].sort().values


@dataclass
class NoisyClassifierState:
    """What :func:`classifier_epoch` updates: the process, the classifier (and its training forward), AdamW."""

    cfg: NoisyClassifierTrainConfig
    process: GaussianDiffusion
    model: NoisyClassifier
    forward: nn.Module
    opt: torch.optim.Optimizer
    device: torch.device

    def state_dict(self) -> dict[str, Any]:
        return dict(model=self.model.state_dict(), optimizer=self.opt.state_dict())

    def load_state_dict(self, ckpt: Mapping[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])


def setup_training(cfg: NoisyClassifierTrainConfig, data_shape: tuple[int, ...],
                   device: torch.device) -> NoisyClassifierState:
    """Seeded process, classifier, training forward and AdamW: everything built before the first step."""
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = build_noisy_classifier(cfg.model, cfg.num_classes, in_channels=data_shape[0], image_size=data_shape[-1],
                                   **cfg.model_kwargs).to(device)
    opt = adam(model.parameters(), device, cfg.lr, cfg.betas, cfg.weight_decay)
    prepare_cuda(device)
    return NoisyClassifierState(cfg, build_process(cfg), model, compiled(model, cfg.compile), opt, device)


def classifier_epoch(s: NoisyClassifierState, batches: DeviceBatches, epoch: int,
                     step: int) -> tuple[dict[str, Any], int]:
    """One pass over the training split: t ~ U{0..T-1}, x_t ~ q(x_t | x0), cross-entropy of p_phi(y | x_t, t)."""
    cfg, device, T = s.cfg, s.device, s.process.num_timesteps
    s.model.train()
    total = cfg.epochs * len(batches)
    sums = torch.zeros(3, dtype=torch.float64, device=device)     # loss, accuracy, grad norm
    watch = FiniteWatch(("loss",), device, cfg.check_every)
    n, lr, t0, cpu0 = 0, cfg.lr, time.perf_counter(), time.process_time()
    for x0, y in batches.epoch(epoch):
        step += 1
        lr = cfg.lr * max(0.0, 1.0 - (step - 1) / total) if cfg.anneal_lr else cfg.lr
        for group in s.opt.param_groups:
            group["lr"] = lr
        t = torch.randint(0, T, (x0.shape[0],), device=device)
        x_t = s.process.q_sample(x0, t)
        with precision.autocast(device, cfg.bf16):
            logits = s.forward(x_t, t)
        loss = F.cross_entropy(logits.float(), y)
        s.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(s.model.parameters(), math.inf)  # measured, not clipped
        s.opt.step()
        acc = (logits.detach().argmax(dim=1) == y).double().mean()
        sums += torch.stack([loss.detach().double(), acc, grad_norm.detach().double()])
        n += 1
        watch.observe(step, loss.detach().view(1))
    watch.check()
    if n == 0:
        raise ValueError(f"epoch {epoch} had no batches: batch_size {cfg.batch_size} exceeds the training split")
    loss, acc, grad_norm = (sums / n).tolist()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"epoch": epoch, "step": step, "loss": loss, "acc": acc, "lr": lr, "grad_norm": grad_norm,
            "epoch_time_s": round(wall, 3), "epoch_cpu_s": round(cpu, 3),
            "examples_per_s": round(n * cfg.batch_size / wall, 1)}, step


@torch.no_grad()
def _noisy_scores(classifier: nn.Module, process: GaussianDiffusion, x0: torch.Tensor, y: torch.Tensor,
                  t: torch.Tensor, noise: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the classifier on x_t = q_sample(x0, t, noise), in eval mode.

    ``t`` indexes ``process``; the classifier sees the original timestep (``timestep_map``), as in sampling.
    """
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    timestep_map = process.buffer("timestep_map", device)
    loss, correct = 0.0, 0
    try:
        for i in range(0, x0.shape[0], batch_size):
            xb, yb = x0[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            tb, nb = t[i:i + batch_size].to(device), noise[i:i + batch_size].to(device)
            logits = classifier(process.q_sample(xb, tb, nb), timestep_map[tb]).float()
            loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(dim=1) == yb).sum())
    finally:
        classifier.train(was_training)
    return loss / x0.shape[0], correct / x0.shape[0]


def accuracy_by_t(classifier: nn.Module, process: GaussianDiffusion, dataset: ImageDataset, ts: Iterable[int],
                  n: int, generator: torch.Generator, batch_size: int = 256) -> dict[int, float]:
    """Accuracy of p_phi(y | x_t, t) on x_t ~ q(x_t | x0) at each t of ``ts`` (Dhariwal & Nichol 2021, sec. 4).

    The same ``n`` images of ``dataset`` (chosen with ``generator``) at every t, fresh noise from
    ``generator`` per t. ``t`` indexes ``process`` (0 .. its T - 1); a respaced process hands the
    classifier the original timestep. At t = 0 this is nearly the clean accuracy; at t = T - 1, where
    x_t is almost pure noise, it falls to about the frequency of the most common predicted class.
    """
    if not 0 < n <= len(dataset):
        raise ValueError(f"n must be in 1..{len(dataset)}, got {n}")
    T = process.num_timesteps
    ts = [int(t) for t in ts]
    if any(not 0 <= t < T for t in ts):
        raise ValueError(f"every t must be in 0..{T - 1}, got {ts}")
    gen_device = generator.device
    idx = torch.randperm(len(dataset), generator=generator, device=gen_device)[:n].cpu()
    x0, y = to_float(dataset.images[idx]), dataset.labels[idx].long()
    out = {}
    for t in ts:
        noise = torch.randn(x0.shape, generator=generator, device=gen_device)
        out[t] = _noisy_scores(classifier, process, x0, y, torch.full((n,), t, dtype=torch.long), noise,
                               batch_size)[1]
    return out


def train_noisy_classifier(config: NoisyClassifierTrainConfig | Mapping[str, Any], dataset: ImageDataset,
                           out_dir: Any, *, resume: bool = False, device: torch.device | str | None = None,
                           overrides: tuple[str, ...] = ()) -> Record:
    """Train (or, with ``resume``, continue) a noisy classifier; returns the finished run's record.

    ``overrides`` names settings a resume may change (recorded in the manifest); see
    :func:`repro.train.loop.open_run`. With ``anneal_lr`` a resume must keep ``epochs``: the learning
    rate falls to 0 over them.
    """
    device = pick_device(device)
    cfg = _resolve(config, dataset)
    train_idx, val_idx = _split(len(dataset), cfg)
    data_shape = tuple(dataset.images.shape[1:])
    s = setup_training(cfg, data_shape, device)
    with open_run(out_dir, KIND, config_dict(cfg), dataset.info(), resume=resume, device=device,
                  overrides=overrides, best_metric=cfg.best_metric, best_mode=cfg.best_mode) as run:
        if run.checkpoint is not None:
            trained_for = run.checkpoint["config"].get("epochs")
            if cfg.anneal_lr and trained_for != cfg.epochs and not run.done:
                raise CheckpointError(f"{run.path} anneals its learning rate to 0 over {trained_for} epochs; resume "
                                      f"with epochs={trained_for} or start a new run")
            s.load_state_dict(run.checkpoint)
            set_rng_state(run.checkpoint["rng"])
        batches = DeviceBatches(dataset.images[train_idx], dataset.labels[train_idx].long(), cfg.batch_size, device,
                                cfg.seed)
        # the held-out set at one fixed draw of t and noise, so that the epochs' columns compare classifiers
        g = torch.Generator().manual_seed(cfg.seed + 1)
        val_x0, val_y = to_float(dataset.images[val_idx]), dataset.labels[val_idx].long()
        val_t = torch.randint(0, cfg.num_timesteps, (len(val_idx),), generator=g)
        val_noise = torch.randn(val_x0.shape, generator=g)

        def measure(epoch: int, last: bool) -> dict[str, Any]:
            t0 = time.perf_counter()
            loss, acc = _noisy_scores(s.model, s.process, val_x0, val_y, val_t, val_noise, cfg.batch_size)
            zeros = torch.zeros_like(val_t)
            _, clean = _noisy_scores(s.model, s.process, val_x0, val_y, zeros, torch.zeros_like(val_x0), cfg.batch_size)
            return {"val_loss": loss, "val_acc": acc, "val_acc_clean": clean,
                    "eval_time_s": round(time.perf_counter() - t0, 3)}

        return run.epochs(cfg.epochs, lambda epoch, step: classifier_epoch(s, batches, epoch, step), measure,
                          s.state_dict, model_parameters=count_parameters(s.model), data_shape=list(data_shape),
                          num_classes=cfg.num_classes, train_size=len(train_idx), val_size=len(val_idx),
                          precision=precision.describe(device, cfg.bf16))


def load_noisy_classifier(run: Record | str | Path, device: torch.device | str = "cpu",
                          checkpoint: str = "best") -> tuple[NoisyClassifier, GaussianDiffusion]:
    """The classifier of a finished run (eval mode, parameters frozen; ``checkpoint``: "best" or "last")
    and the process it was trained on."""
    rec = run if isinstance(run, Record) else load_record(Path(run))
    path = rec.path / "checkpoints" / f"{checkpoint}.pt"
    if checkpoint == "best" and not path.exists():
        path = rec.path / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path, KIND, rec.params)
    cfg = NoisyClassifierTrainConfig(**{**ckpt["config"], "betas": tuple(ckpt["config"]["betas"])})
    shape = rec.manifest["data_shape"]
    model = build_noisy_classifier(cfg.model, cfg.num_classes, in_channels=shape[0], image_size=shape[-1],
                                   **cfg.model_kwargs)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval().requires_grad_(False), build_process(cfg)
