"""The ``train_gan`` notebook's experiment: a DCGAN run with per-epoch tracking, then a final evaluation.

Parameters (``None`` takes the profile's value, see ``configs/profiles.yaml``): ``dataset``,
``image_size`` (32 or 64), ``preset`` (a :data:`repro.train.gan.PRESETS` name), ``epochs``,
``subset`` (training images; ``None`` = all), ``batch_size``, ``lr_G``, ``lr_D`` (``None``: the
preset's), ``seed``, ``track_samples`` (samples
per epoch for the classifier tracker), ``eval_samples`` (Inception evaluation of the best checkpoint
at the end; 0 skips it), ``out_dir``, ``resume``, ``device``, ``bf16`` (autocast on CUDA; the
discriminator's losses stay float32), ``gpus`` (processes under torchrun, one per GPU; see
:mod:`repro.report.launch`), ``overrides`` (settings a resume may change, e.g. ``[lr_G, lr_D]``; the
manifest records them).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Mapping

import torch

from ..data import IMAGE_DATASETS, load_dataset
from ..records import Record
from ..metrics.collapse import CollapseRule, detect_collapse
from ..train import load_gan
from ..train.gan import PRESETS, preset, train_gan
from .params import Rule, fill_from_preset, setup_for
from .launch import torchrun
from .runs import DEVICE, GPUS, OVERRIDES, finished_run, output_dir, pick_device, positive

__all__ = ["NOTEBOOK", "RULES", "FROM_PRESET", "setup", "from_preset", "run", "collapse", "evaluate_best"]

NOTEBOOK = "train_gan"
EVAL_SEED = 1234  # the final evaluation's noise stream: apart from training (seed) and tracking (seed + 1)
IMAGE_PRESETS = [name for name, p in PRESETS.items() if p.arch == "dcgan"]
RULES = {
    "dataset": Rule(str, choices=IMAGE_DATASETS),
    "image_size": Rule(int, choices=(32, 64), help="the DCGAN is built for 32 x 32 or 64 x 64"),
    "preset": Rule(str, choices=IMAGE_PRESETS),
    "epochs": Rule(int, minimum=1),
    "subset": Rule(int, minimum=1, optional=True),
    "batch_size": Rule(int, minimum=1, optional=True, help="None: the preset's"),
    "lr_G": Rule(float, minimum=0.0, optional=True, help="None: the preset's"),
    "lr_D": Rule(float, minimum=0.0, optional=True, help="None: the preset's"),
    "seed": Rule(int, minimum=0),
    "track_samples": Rule(int, minimum=0),
    "eval_samples": Rule(int, minimum=0),
    "out_dir": Rule(str, optional=True),
    "resume": Rule(bool),
    "device": DEVICE,
    "bf16": Rule(bool, help="bf16 autocast for training, CUDA only"),
    "gpus": GPUS,
    "overrides": OVERRIDES,
}
FROM_PRESET = ("batch_size", "lr_G", "lr_D")
CONSTRAINTS = (positive("lr_G", "lr_D"),)


from_preset = fill_from_preset({name: PRESETS[name] for name in IMAGE_PRESETS}, FROM_PRESET)


setup = setup_for(NOTEBOOK, RULES, CONSTRAINTS, complete=from_preset)  # experiment.setup(globals()) in the notebook


def run(cfg: Mapping[str, Any]) -> Record:
    """Train (or resume) the DCGAN of ``cfg``; the per-epoch tracker supplies ``fd_classifier``."""
    from ..metrics import ClassifierTracker

    device = pick_device(cfg["device"])
    out = output_dir(NOTEBOOK, cfg)
    cfg = from_preset(cfg)
    changes = {"epochs": cfg["epochs"], "image_size": cfg["image_size"], "seed": cfg["seed"], "bf16": cfg["bf16"],
               "channels_last": True, **{k: cfg[k] for k in FROM_PRESET}}
    if cfg["track_samples"] > 0:
        changes["best_metric"] = "fd_classifier"
    config = preset(cfg["preset"], **changes)
    if cfg["resume"] and (done := finished_run(out, config.epochs)) is not None:
        return done
    if cfg["gpus"] > 1:
        return torchrun("gan", config, cfg, out, device)
    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"],
                        seed=cfg["seed"])
    tracker = None
    if cfg["track_samples"] > 0:
        tracker = ClassifierTracker(cfg["dataset"], n_samples=cfg["track_samples"], device=device)
    return train_gan(config, data, out, resume=bool(cfg["resume"]), evaluate=tracker, device=device,
                     overrides=tuple(cfg["overrides"]))


def collapse(record: Record):
    """What the collapse rule (:mod:`repro.metrics.collapse`) says of a run's rows, with its best-checkpoint
    metric as the quality series."""
    p = record.params
    return detect_collapse(record.rows, CollapseRule(quality=p.get("best_metric"), quality_mode=p.get("best_mode", "min")))


def evaluate_best(record: Record, cfg: Mapping[str, Any]) -> dict[str, Any] | None:
    """Inception FID/KID, precision/recall, density/coverage and the classifier metrics of the best
    checkpoint (the last one when no quality was tracked), against the training split."""
    if cfg["eval_samples"] <= 0:
        return None
    from .evaluation import evaluate_run

    device = pick_device(cfg["device"])
    which = "best" if record.params.get("best_metric") else "last"  # the trainer keeps best.pt when tracking
    stream = torch.Generator(device).manual_seed(EVAL_SEED)
    generator = cache(lambda: load_gan(record, device=device, checkpoint=which))  # not loaded if reused
    params = {"checkpoint": which, "epoch": record.manifest.get("summary", {}).get("best_epoch")}
    return evaluate_run(lambda n: generator().sample(n, generator=stream), cfg["dataset"], record.path,
                        params, device=device, split="train", n=cfg["eval_samples"],
                        reference_n=None if cfg["profile"] == "gpu" else cfg["eval_samples"],
                        progress=False)
