"""The ``collapse`` notebook's experiment: the seed report's DCGAN setting against the equal-rate control.

The seed report (Zena et al.) trains a DCGAN on CIFAR-10 with lr_D = 4 lr_G (lr_G 1e-4, lr_D 4e-4,
Adam beta1 0.5, batch 128: preset ``seed-report``) and sees its samples degrade after epoch 50. This
study trains that setting and a control that changes only the discriminator's rate (``ratios``:
lr_D / lr_G, e.g. 4 and 1), ``seeds`` seeds each, for ``epochs`` epochs, and records per epoch the
losses, D(x) and D(G(z)), the classifier-space Fréchet distance and the classes hit of
``track_samples`` samples (:class:`repro.metrics.ClassifierTracker`), and a sample grid. The collapse
rule of :mod:`repro.metrics.collapse` judges every run with the same settings.

Runs train into ``out_dir/ratio<r>-seed<k>``, ``workers`` at a time (one process and thread
each); finished runs are kept and a killed run continues from its last checkpoint, so re-running the
notebook only does the missing work.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import torch

from ..data import IMAGE_DATASETS, load_dataset
from ..metrics.collapse import CollapseReport
from ..records import Record, load_record
from ..train import gan
from ..train.budget import trend, window_change
from .params import Rule, setup_for
from .runs import (DEVICE, WORKERS, continue_run, finished_run, in_workers, pick_device, positive,
                   study_root)
from .tables import mean_pm, pm, sig
from .train_gan import IMAGE_PRESETS, collapse

TREND_EPOCHS = 10  # the window of :func:`repro.train.budget.trend`
TREND = f"FD, last {TREND_EPOCHS} epochs vs the {TREND_EPOCHS} before"

__all__ = ["NOTEBOOK", "RULES", "setup", "config", "run", "Study", "run_rows", "run_table", "summary_rows", "curves",
           "grid_epochs", "SEED_SCALE", "scale_difference", "runs_note",
           "TREND_EPOCHS", "TREND", "fd_trend"]

NOTEBOOK = "collapse"
RULES = {
    "dataset": Rule(str, choices=IMAGE_DATASETS),
    "image_size": Rule(int, choices=(32, 64)),
    "preset": Rule(str, choices=IMAGE_PRESETS, help="the GAN preset whose lr_G, betas and batch are kept"),
    "ngf": Rule(int, minimum=1, optional=True, help="None: the preset's width, for ndf too"),
    "subset": Rule(int, minimum=1, optional=True),
    "epochs": Rule(int, minimum=1),
    "seeds": Rule(int, minimum=1),
    "ratios": Rule(list, help="lr_D / lr_G of each setting, e.g. [4.0, 1.0]"),
    "track_samples": Rule(int, minimum=100),
    "workers": WORKERS,
    "out_dir": Rule(str, optional=True),
    "device": DEVICE,
}


def _ratios(cfg: Mapping[str, Any]) -> str | None:
    bad = [r for r in cfg["ratios"] if not isinstance(r, (int, float)) or isinstance(r, bool) or r <= 0]
    if bad or not cfg["ratios"]:
        return f"parameter 'ratios' = {cfg['ratios']!r} must be a non-empty list of numbers > 0, e.g. [4.0, 1.0]"
    return None


setup = setup_for(NOTEBOOK, RULES, (_ratios, positive("ngf")))  # experiment.setup(globals()) in the notebook

Study = dict  # (ratio, seed) -> Record


def config(cfg: Mapping[str, Any], ratio: float, seed: int) -> gan.GANTrainConfig:
    """The preset with lr_D = ``ratio`` x its lr_G, the study's epochs, size, width and seed; the
    tracked classifier FD picks the best checkpoint."""
    base = gan.PRESETS[cfg["preset"]]
    width = {"ngf": cfg["ngf"], "ndf": cfg["ngf"]} if cfg.get("ngf") else {}
    return gan.preset(cfg["preset"], image_size=cfg["image_size"], epochs=cfg["epochs"], seed=seed,
                      lr_D=ratio * base.lr_G, best_metric="fd_classifier", channels_last=True, **width)


# The seed report's collapse run: CIFAR-10 with its DCGAN (preset seed-report: 64 x 64, width 64).
SEED_SCALE = ("CIFAR-10", gan.PRESETS["seed-report"].image_size, gan.PRESETS["seed-report"].ngf)


def scale_difference(rec: Record) -> str:
    """Where a collapse run's data, image size or width differ from the seed's run, both named (a verdict
    there holds at that scale only); empty when they match or the record does not say."""
    label = rec.manifest.get("data", {}).get("label")
    size, width = rec.params.get("image_size"), rec.params.get("ngf")
    if None in (label, size, width):
        return ""
    if label.startswith(SEED_SCALE[0]) and (size, width) == SEED_SCALE[1:]:
        return ""
    seed_label, seed_size, seed_width = SEED_SCALE
    return (f"at {label} {size} × {size}, width {width}, not the seed's {seed_label} {seed_size} × {seed_size}, "
            f"width {seed_width}")


def runs_note(study: Study) -> str:
    """The runs a page shows, in one paragraph: data, size, width, epochs, seeds, the machine and training
    time per run, and where they differ from the seed's run (:func:`scale_difference`)."""
    from ..records import at_once, machines

    first = next(iter(study.values()))
    where = machines(study.values())
    shared = at_once(study.values()) if len(where) == 1 else 1  # runs on different machines share none
    data, p = first.manifest.get("data", {}), first.params
    seeds = len({seed for _, seed in study})
    wall = [rec.manifest.get("wall_time_s", 0) / 60 for rec in study.values()]
    differs = scale_difference(first)
    return (f"The runs on this page: {data.get('label', '?')}, {data.get('n', 0):,} training images at "
            f"{p.get('image_size')} × {p.get('image_size')}, generator and discriminator width {p.get('ngf')}, "
            f"{min(len(r.rows) for r in study.values())} epochs, {seeds} seed{'s' * (seeds != 1)} per setting, "
            f"trained on {' and '.join(where)}, for a mean of {sum(wall) / len(wall):.1f} min per "
            + (f"run, up to {shared} at a time on one machine (each time is a shared-machine time). " if shared > 1
               else "run. ") + "Where they differ from the seed's run: "
            + (f"{differs.removeprefix('at ')}." if differs else "nowhere in data, image size and width."))


def _folder(ratio: float, seed: int) -> str:
    return f"ratio{ratio:g}-seed{seed}"


def _train_job(cfg: Mapping[str, Any], ratio: float, seed: int, out: Path, device: str) -> None:
    """One run, in this process or a worker's."""
    from ..metrics import ClassifierTracker

    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"], seed=seed)
    tracker = ClassifierTracker(cfg["dataset"], n_samples=cfg["track_samples"], device=device)
    continue_run(gan.train_gan, config(cfg, ratio, seed), data, out, evaluate=tracker, device=torch.device(device))


def run(cfg: Mapping[str, Any]) -> Study:
    """Every (ratio, seed) run, trained or continued as needed, ``workers`` at a time (on a CPU, or sharing a GPU)."""
    device = pick_device(cfg["device"])
    root = study_root(NOTEBOOK, cfg)
    runs = {(float(ratio), seed): root / _folder(ratio, seed) for ratio in cfg["ratios"] for seed in range(cfg["seeds"])}
    todo = [(dict(cfg), ratio, seed, out, str(device)) for (ratio, seed), out in runs.items()
            if finished_run(out, cfg["epochs"]) is None]
    todo.sort(key=lambda job: job[2])  # seed by seed: every setting's seed 0 is in before any seed 1
    in_workers(_train_job, todo, cfg["workers"], device)
    return {key: load_record(out) for key, out in runs.items()}


def _setting(rec: Record) -> str:
    p = rec.params
    r = p["lr_D"] / p["lr_G"]
    return f"lr_D = {r:g} lr_G" if r != 1 else "lr_D = lr_G"


def fd_trend(fd: list[float | None], k: int = TREND_EPOCHS) -> tuple[str, float, float]:
    """Whether a run's classifier FD was still falling when it stopped: the mean of its last ``k`` epochs
    against the mean of the ``k`` before (:func:`repro.train.budget.trend`: "improving" only when the fall
    exceeds two standard errors), with that change and its standard error. A window's mean, not the best
    single epoch: the minimum of a noisy curve keeps falling by chance after the curve has flattened."""
    delta, se = window_change(fd, k)
    return trend(fd, k, mode="min"), delta, se


def run_rows(study: Study) -> list[dict[str, Any]]:
    """One row per run: the collapse rule's verdict and epoch, the best and last classifier FD, whether
    the FD was still falling at the end (:func:`fd_trend`), the classes hit and the players' outputs at
    the last epoch."""
    rows = []
    for (ratio, seed), rec in study.items():
        report: CollapseReport = collapse(rec)
        last, fd = rec.rows[-1], [r.get("fd_classifier") for r in rec.rows]
        scored = [(v, r["epoch"]) for v, r in zip(fd, rec.rows) if v is not None and v == v]
        best, best_epoch = min(scored) if scored else (math.nan, None)
        rows.append({"setting": _setting(rec), "lr_G": rec.params["lr_G"], "lr_D": rec.params["lr_D"], "seed": seed,
                     "epochs": len(rec.rows), "steps": last["step"], "collapse rule": report.verdict,
                     "at epoch": report.epoch if report.verdict == "collapse" else None,
                     "best FD": best, "best epoch": best_epoch, "last FD": last.get("fd_classifier"),
                     TREND: fd_trend(fd),
                     "classes hit (last)": last.get("classes_hit"), "D(x) (last)": last["D_x"],
                     "D(G(z)) (last)": last["D_G_z"]})
    return rows


def _trend_cell(t: tuple[str, float, float]) -> str:
    verdict, delta, se = t
    return verdict if not math.isfinite(delta) else f"{verdict}: {'+' if delta >= 0 else ''}{pm(delta, se)}"


def run_table(study: Study) -> list[dict[str, Any]]:
    """:func:`run_rows` for readers, narrow enough for the page: the rule's verdict with its epoch, the
    best FD with its epoch, the FD trend with the change of the window means ± its standard error, and the
    players' outputs at the last epoch as one pair."""
    return [{"setting": r["setting"], "seed": r["seed"], "epochs": r["epochs"],
             "collapse rule": r["collapse rule"] + (f" at epoch {r['at epoch']}" if r["at epoch"] is not None else ""),
             "best FD (epoch)": f"{sig(r['best FD'])} ({r['best epoch']})", "last FD": sig(r["last FD"]),
             TREND: _trend_cell(r[TREND]),
             "classes hit (last)": r["classes hit (last)"],
             "D(x) / D(G(z)) (last)": f"{float(r['D(x) (last)']):.2f} / {float(r['D(G(z)) (last)']):.2f}"}
            for r in run_rows(study)]


def summary_rows(study: Study, floor: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per setting: how many seeds collapsed and when, the seeds' best and last FD
    (mean ± standard error), and how many seeds' FD was still falling at the end (:func:`fd_trend`);
    with ``floor`` (:func:`repro.report.evaluation.tracked_floor`), a last row of real training images
    scored the same way."""
    rows = run_rows(study)
    out = []
    for setting in dict.fromkeys(r["setting"] for r in rows):
        mine = [r for r in rows if r["setting"] == setting]
        fired = [r for r in mine if r["collapse rule"] == "collapse"]
        out.append({"setting": setting, "seeds": len(mine), "epochs": max(r["epochs"] for r in mine),
                    "collapsed": f"{len(fired)} of {len(mine)}"
                                 + (" (epochs " + ", ".join(str(r["at epoch"]) for r in fired) + ")" if fired else ""),
                    "best FD": mean_pm([r["best FD"] for r in mine]),
                    "last FD": mean_pm([r["last FD"] for r in mine]),
                    "still improving": f"{sum(r[TREND][0] == 'improving' for r in mine)} of {len(mine)}",
                    "classes hit (last)": mean_pm([r["classes hit (last)"] for r in mine])})
    if floor is not None:
        fd = sig(floor["fd_classifier"])
        out.append({"setting": "real training images (the floor)", "seeds": "—", "epochs": "—", "collapsed": "—",
                    "best FD": fd, "last FD": fd, "still improving": "—", "classes hit (last)": sig(floor["classes_hit"])})
    return out


def curves(study: Study, key: str) -> dict[str, dict[int, tuple[list[float], list[float]]]]:
    """``{setting: {seed: (epochs, values of key)}}``, the input of :func:`repro.plotting.plot_seed_band`."""
    out: dict[str, dict[int, tuple[list[float], list[float]]]] = {}
    for (ratio, seed), rec in study.items():
        out.setdefault(_setting(rec), {})[seed] = (rec.column("epoch"), rec.column(key))
    return out


def grid_epochs(rec: Record) -> list[int]:
    """The epochs whose sample grids matter: the first, the best, where the collapse rule fired (if it
    did), and the last."""
    report = collapse(rec)
    best = rec.manifest.get("summary", {}).get("best_epoch")
    picks = [rec.rows[0]["epoch"], best, report.epoch if report.verdict == "collapse" else None,
             rec.rows[-1]["epoch"]]
    return sorted({int(e) for e in picks if e is not None})
