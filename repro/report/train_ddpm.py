"""The ``train_ddpm`` notebook's experiment: a DDPM with the Improved-DDPM hybrid loss, tracked per
epoch with a few-step DDIM sampler, then a final evaluation of the EMA model.

Parameters (``None`` takes the profile's value, see ``configs/profiles.yaml``): ``dataset``,
``image_size``, ``preset`` (a :data:`repro.train.diffusion.PRESETS` name) and what the run changes of it:
``model`` (a U-Net preset of :data:`repro.models.unet.UNET_PRESETS`), ``schedule``, ``num_timesteps``,
``loss_type`` (``hybrid``, ``simple`` or ``vlb``; sigma is learned for ``hybrid`` and ``vlb``, fixed to
beta_t for ``simple``), ``batch_size``, ``lr``, ``warmup_steps``, ``ema_decay`` (``None`` in the profile
too: the preset's value, filled in before the banner is printed); then ``epochs``, ``subset``,
``track_steps`` (DDIM steps of the per-epoch samples and grids), ``track_samples``, ``track_every``,
``eval_samples`` and ``eval_steps`` (final evaluation; 0 samples skips it), ``seed``, ``out_dir``,
``resume``, ``device``, ``bf16``, ``torch_compile`` (``torch.compile`` of the training forward pass;
measured in ``make bench``), ``gpus`` (processes under torchrun, one per GPU; see
:mod:`repro.report.launch`), ``overrides`` (settings a resume may change, e.g. ``[lr]``; the manifest
records them).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Mapping

from ..data import IMAGE_DATASETS, load_dataset
from ..diffusion.gaussian_diffusion import LOSS_TYPES
from ..models.unet import UNET_PRESETS
from ..records import Record
from ..train import load_diffusion
from ..train.diffusion import PRESETS, DiffusionTrainConfig, preset, train_diffusion
from .params import Rule, fill_from_preset, setup_for
from .launch import torchrun
from .runs import DEVICE, GPUS, OVERRIDES, finished_run, output_dir, pick_device, positive

__all__ = ["NOTEBOOK", "RULES", "FROM_PRESET", "setup", "from_preset", "run", "evaluate_ema", "train_config"]

NOTEBOOK = "train_ddpm"
IMAGE_PRESETS = [name for name, p in PRESETS.items() if p.model in UNET_PRESETS]
FROM_PRESET = ("model", "schedule", "num_timesteps", "loss_type", "batch_size", "lr", "warmup_steps", "ema_decay")
RULES = {
    "dataset": Rule(str, choices=IMAGE_DATASETS),
    "image_size": Rule(int, choices=(32,), help="the U-Net presets are built for 32 x 32"),
    "preset": Rule(str, choices=IMAGE_PRESETS),
    "model": Rule(str, choices=tuple(UNET_PRESETS), optional=True),
    "schedule": Rule(str, choices=("linear", "cosine"), optional=True),
    "num_timesteps": Rule(int, minimum=21, optional=True),
    "loss_type": Rule(str, choices=LOSS_TYPES, optional=True),
    "batch_size": Rule(int, minimum=1, optional=True),
    "lr": Rule(float, minimum=0.0, optional=True),
    "warmup_steps": Rule(int, minimum=0, optional=True),
    "ema_decay": Rule(float, minimum=0.0, optional=True),
    "epochs": Rule(int, minimum=1),
    "subset": Rule(int, minimum=1, optional=True),
    "track_steps": Rule(int, minimum=1),
    "track_samples": Rule(int, minimum=0),
    "track_every": Rule(int, minimum=1),
    "eval_samples": Rule(int, minimum=0),
    "eval_steps": Rule(int, minimum=1),
    "seed": Rule(int, minimum=0),
    "out_dir": Rule(str, optional=True),
    "resume": Rule(bool),
    "device": DEVICE,
    "bf16": Rule(bool),
    "torch_compile": Rule(bool, help="torch.compile the U-Net for training"),
    "gpus": GPUS,
    "overrides": OVERRIDES,
}


def _ema_below_one(cfg: Mapping[str, Any]) -> str | None:
    return None if cfg["ema_decay"] is None or cfg["ema_decay"] < 1 else f"parameter 'ema_decay' = {cfg['ema_decay']} must be < 1"


CONSTRAINTS = (_ema_below_one, positive("lr"))


from_preset = fill_from_preset({name: PRESETS[name] for name in IMAGE_PRESETS}, FROM_PRESET)


setup = setup_for(NOTEBOOK, RULES, CONSTRAINTS, complete=from_preset)  # experiment.setup(globals()) in the notebook


def train_config(cfg: Mapping[str, Any]) -> DiffusionTrainConfig:
    """The trainer's configuration for the notebook's ``cfg`` (completed by :func:`from_preset`): the
    preset with the run's changes."""
    cfg = from_preset(cfg)
    changes = {k: cfg[k] for k in FROM_PRESET}
    if cfg["loss_type"] != PRESETS[cfg["preset"]].loss_type:
        changes["variance"] = "fixed_large" if cfg["loss_type"] == "simple" else "learned_range"
    return preset(cfg["preset"], **changes, epochs=cfg["epochs"], seed=cfg["seed"], bf16=cfg["bf16"],
                  channels_last=True, compile=cfg["torch_compile"], track_sampler="ddim",
                  track_steps=cfg["track_steps"], grid_samples=64, grid_every=cfg["track_every"],
                  track_every=cfg["track_every"])


def run(cfg: Mapping[str, Any]) -> Record:
    """Train (or resume) the DDPM of ``cfg``; every ``track_every`` epochs the classifier tracker scores
    ``track_samples`` DDIM samples of the EMA model."""
    from ..metrics import ClassifierTracker

    device = pick_device(cfg["device"])
    out = output_dir(NOTEBOOK, cfg)
    if cfg["resume"] and (done := finished_run(out, train_config(cfg).epochs)) is not None:
        return done
    if cfg["gpus"] > 1:
        return torchrun("ddpm", train_config(cfg), cfg, out, device)
    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"],
                        seed=cfg["seed"])
    tracker = None
    if cfg["track_samples"] > 0:
        tracker = ClassifierTracker(cfg["dataset"], n_samples=cfg["track_samples"], device=device)
    return train_diffusion(train_config(cfg), data, out, resume=bool(cfg["resume"]), evaluate=tracker, device=device,
                           overrides=tuple(cfg["overrides"]))


def evaluate_ema(record: Record, cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """Inception and classifier metrics of ``eval_samples`` DDIM (``eval_steps``, eta 0) samples of the EMA
    model against the training split."""
    if cfg["eval_samples"] <= 0:
        return None
    from .evaluation import evaluate_run

    device = pick_device(cfg["device"])
    trained = cache(lambda: load_diffusion(record, device=device))  # not loaded if the evaluation is reused
    params = {"weights": "ema", "sampler": "ddim", "steps": cfg["eval_steps"], "eta": 0.0}
    return evaluate_run(lambda n: trained().sample(n, sampler="ddim", steps=cfg["eval_steps"], eta=0.0),
                        cfg["dataset"], record.path, params, device=device,
                        split="train", n=cfg["eval_samples"],
                        reference_n=None if cfg["profile"] == "gpu" else cfg["eval_samples"], progress=False)
