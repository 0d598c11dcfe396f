"""The ``guidance`` notebook's experiment: classifier guidance and classifier-free guidance, measured.

Dhariwal & Nichol (2021, sec. 4) guide an unconditional or conditional diffusion model with the
gradient of a noise-aware classifier at scale s and trade diversity for fidelity; Ho & Salimans
(2022) get the same trade from a class-conditional model trained with label dropout, at guidance
weight w. This study puts both on one fidelity-diversity plane with the DCGAN as a point:

1. **Models.** The unconditional DDPM (``ddpm_run``, a finished run; by default the first DDPM seed of the
   ``images`` study under ``runs_dir``; in the smoke profile, without either, one trained here with
   ``ddpm_preset`` for ``ddpm_epochs``), its class-conditional twin (the
   same settings plus ``num_classes`` and label dropout ``p_uncond``, trained here on the same data) and a
   noise-aware classifier on the DDPM's schedule (``classifier_preset``, ``classifier_epochs``).
2. **The classifier** is scored on noisy test images at each t of ``accuracy_ts`` (their sec. 4: it
   must be right on x_t, not only on clean images).
3. **The sweep.** For each s of ``scales``, classifier guidance of the unconditional model; for each w
   of ``weights``, classifier-free guidance of the twin; ``n_samples`` samples per point for the labels
   0, 1, ..., K - 1, 0, 1, ... (balanced), drawn with ``sampler`` on ``steps`` respaced steps, scored by
   :func:`repro.metrics.conditional.conditional_scores` against ``n_samples`` real test images, each score
   with its 95% interval (``bootstrap`` resamples for the Fréchet distance's). Real
   training images at the same N give the floor; the DCGAN of ``gan_run`` (by default the ``images``
   study's first DCGAN seed) is an unconditional point.

Runs train into ``out_dir/ddpm`` (when trained here), ``out_dir/ddpm-cond`` and ``out_dir/classifier``;
the sweep writes ``out_dir/sweep`` (one row per point, a grid per point whose columns are the classes,
and the table ``accuracy_by_t.csv``). Finished runs are kept; a killed sweep continues after its last
finished point, and a folder holding a sweep of other settings or models is refused
(:func:`repro.report.sweep_record.open_sweep`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch

from ..data import IMAGE_DATASETS, load_dataset, to_float
from ..records import Record, load_record
from ..train import diffusion, load_run
from ..train import noisy_classifier as nc
from ..train.loop import as_config
from .params import Rule, setup_for
from .runs import DEVICE, continue_run, pick_device, stopped_study_run, study_root, study_run
from .sweep_record import open_sweep
from .tables import with_interval

__all__ = ["NOTEBOOK", "RULES", "setup", "run", "Study", "sweep_rows", "table_rows", "accuracy_rows", "twin_config"]

NOTEBOOK = "guidance"
SWEEP_KIND = "guidance-sweep"
# what defines the sweep's points and its accuracy table (the models are identified by their runs)
SWEEP_KEYS = ("dataset", "image_size", "accuracy_ts", "scales", "weights", "sampler", "steps", "n_samples",
              "batch_size", "bootstrap", "seed")
ACCURACY = "accuracy_by_t.csv"
GRID_ROWS = 8
RULES = {
    "dataset": Rule(str, choices=IMAGE_DATASETS),
    "image_size": Rule(int, choices=(32,)),
    "subset": Rule(int, minimum=1, optional=True, help="training images of the models trained here"),
    "runs_dir": Rule(str, optional=True, exists=True, help="the folder holding the images study (images/)"),
    "ddpm_run": Rule(str, optional=True, exists=True, help="the folder of a finished unconditional DDPM run"),
    "ddpm_preset": Rule(str, choices=[n for n, p in diffusion.PRESETS.items() if p.model != "mlp"]),
    "ddpm_epochs": Rule(int, minimum=1, help="epochs of the DDPM trained here when ddpm_run is None"),
    "p_uncond": Rule(float, minimum=0.0, help="label dropout of the conditional twin (Ho & Salimans: 0.1, 0.2)"),
    "classifier_preset": Rule(str, choices=list(nc.PRESETS)),
    "classifier_epochs": Rule(int, minimum=1),
    "accuracy_ts": Rule(list, help="timesteps at which the classifier is scored on noisy test images"),
    "scales": Rule(list, help="classifier-guidance scales s"),
    "weights": Rule(list, help="classifier-free guidance weights w"),
    "sampler": Rule(str, choices=("ddim", "ancestral"), help="ddim: Algorithm 2; ancestral: Algorithm 1"),
    "steps": Rule(int, minimum=1),
    "n_samples": Rule(int, minimum=20),
    "batch_size": Rule(int, minimum=1),
    "bootstrap": Rule(int, minimum=0, help="resamples behind each Fréchet distance's 95% interval (0: none)"),
    "gan_run": Rule(str, optional=True, exists=True, help="the folder of a finished DCGAN run (its point)"),
    "seed": Rule(int, minimum=0),
    "out_dir": Rule(str, optional=True),
    "device": DEVICE,
}


def _lists(cfg: Mapping[str, Any]) -> str | None:
    for name in ("scales", "weights"):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in cfg[name]):
            return f"parameter {name!r} = {cfg[name]!r} must be a list of numbers >= 0, e.g. [0, 1, 2, 4]"
    if not 0.0 < cfg["p_uncond"] < 1.0 and cfg["weights"]:
        return (f"parameter 'p_uncond' = {cfg['p_uncond']} must be in (0, 1) for classifier-free guidance: the twin "
                "must also learn the unconditional eps")
    if not all(isinstance(t, int) and t >= 0 for t in cfg["accuracy_ts"]):
        return f"parameter 'accuracy_ts' = {cfg['accuracy_ts']!r} must be a list of timesteps >= 0"
    return None


def _models_given(cfg: Mapping[str, Any]) -> str | None:
    if cfg["profile"] == "smoke" or cfg.get("ddpm_run") or study_run(cfg.get("runs_dir"), "ddpm"):
        return None
    return ("the study guides the CPU study's DDPM: pass ddpm_run (a finished unconditional DDPM run) or runs_dir "
            "(a folder whose images/ddpm holds the images study's seeds); run the images notebook first")


setup = setup_for(NOTEBOOK, RULES, (_lists, _models_given))  # experiment.setup(globals()) in the notebook


@dataclass
class Study:
    ddpm: Record
    twin: Record
    classifier: Record
    sweep: Record
    gan: Record | None = None


def twin_config(ddpm: Record, num_classes: int, p_uncond: float) -> diffusion.DiffusionTrainConfig:
    """The unconditional run's settings with class conditioning and label dropout added (nothing else)."""
    params = {k: v for k, v in ddpm.params.items() if k in {f.name for f in dataclasses.fields(
        diffusion.DiffusionTrainConfig)}}
    base = as_config(diffusion.DiffusionTrainConfig, params)
    if base.num_classes is not None:
        raise ValueError(f"{ddpm.path} is class-conditional already; ddpm_run must be an unconditional DDPM")
    return dataclasses.replace(base, num_classes=num_classes, p_uncond=p_uncond, best_metric=None)


def _train_models(cfg: Mapping[str, Any], root: Path, device: torch.device) -> tuple[Record, Record, Record]:
    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"], seed=cfg["seed"])
    given = cfg.get("ddpm_run") or stopped_study_run(cfg.get("runs_dir"), "ddpm")
    if given:
        ddpm = load_record(given)
        if ddpm.manifest.get("kind") != diffusion.KIND or ddpm.manifest.get("status") != "finished":
            raise ValueError(f"{given} is not a finished diffusion run; train it first")
        if ddpm.manifest["data"].get("sha256") != data.info().get("sha256"):
            raise ValueError(f"ddpm_run was trained on other images than dataset={cfg['dataset']!r}, "
                             f"subset={cfg['subset']!r}, seed={cfg['seed']!r}: set those to the run's so that the "
                             "conditional twin sees the same data")
    else:
        # its per-epoch snapshots use the sweep's sampler and steps
        config = diffusion.preset(cfg["ddpm_preset"], epochs=cfg["ddpm_epochs"], seed=cfg["seed"],
                                  track_sampler=cfg["sampler"], track_steps=cfg["steps"])
        ddpm = continue_run(diffusion.train_diffusion, config, data, root / "ddpm", device=device)
    twin = continue_run(diffusion.train_diffusion, twin_config(ddpm, len(data.classes), cfg["p_uncond"]), data,
                        root / "ddpm-cond", device=device)
    process = ddpm.params
    clf_cfg = nc.preset(cfg["classifier_preset"], epochs=cfg["classifier_epochs"], seed=cfg["seed"],
                        schedule=process["schedule"], num_timesteps=process["num_timesteps"],
                        val_size=min(nc.PRESETS[cfg["classifier_preset"]].val_size, len(data) // 4))
    classifier = continue_run(nc.train_noisy_classifier, clf_cfg, data, root / "classifier", device=device)
    return ddpm, twin, classifier


def _points(cfg: Mapping[str, Any], gan: bool) -> list[tuple[str, float | None]]:
    points = [("real", None)] + ([("dcgan", None)] if gan else [])
    return points + [("classifier", float(s)) for s in cfg["scales"]] + [("free", float(w)) for w in cfg["weights"]]


def run(cfg: Mapping[str, Any]) -> Study:
    """Train what is missing, score the classifier by t, and run the sweep's missing points."""
    from ..metrics.classifier import load_classifier
    from ..metrics.conditional import conditional_scores, real_features

    device = pick_device(cfg["device"])
    root = study_root(NOTEBOOK, cfg)
    gan_path = cfg.get("gan_run") or stopped_study_run(cfg.get("runs_dir"), "gan")  # checked before training
    ddpm_rec, twin_rec, clf_rec = _train_models(cfg, root, device)
    gan_rec = load_record(gan_path) if gan_path else None
    sweep_dir = root / "sweep"
    data = {"ddpm_run": str(ddpm_rec.path), "twin_run": str(twin_rec.path), "classifier_run": str(clf_rec.path),
            "gan_run": str(gan_rec.path) if gan_rec else None, **ddpm_rec.manifest["data"]}
    models = {"ddpm": ddpm_rec, "twin": twin_rec, "classifier": clf_rec, "gan": gan_rec}
    record = open_sweep(sweep_dir, SWEEP_KIND, cfg, SWEEP_KEYS, data, models, device)
    if record.manifest.get("status") == "finished":
        return Study(ddpm_rec, twin_rec, clf_rec, record, gan_rec)

    ddpm, twin = load_run(ddpm_rec, device=device), load_run(twin_rec, device=device)
    classifier, process = nc.load_noisy_classifier(clf_rec, device=device)
    test = load_dataset(cfg["dataset"], "test", image_size=cfg["image_size"])
    n = cfg["n_samples"]
    if not (sweep_dir / ACCURACY).exists():
        acc = nc.accuracy_by_t(classifier, process, test, cfg["accuracy_ts"], min(n, len(test)),
                               torch.Generator().manual_seed(cfg["seed"]))
        record.write_table(ACCURACY, ("t", "accuracy"), [[t, a] for t, a in acc.items()])
    evaluator = load_classifier(cfg["dataset"], device=device)
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(cfg["seed"]))[:n]
    reference = real_features(evaluator, to_float(test.images[pick]))
    k = len(test.classes)
    y = torch.arange(n) % k
    done = {(r["guidance"], r["scale"]) for r in record.rows}  # an empty scale reads back as None
    for guidance, scale in _points(cfg, gan_rec is not None):
        if (guidance, scale) in done:
            continue
        t0 = time.perf_counter()
        stream = torch.Generator(device).manual_seed(cfg["seed"] + 1)
        labels = y
        if guidance == "real":
            train = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=n, seed=cfg["seed"])
            x, labels = to_float(train.images), train.labels.long()
        elif guidance == "dcgan":
            gan = load_run(gan_rec, device=device, checkpoint="last")  # after its last epoch, as the images study shows it
            x, labels = gan.sample(n, batch_size=cfg["batch_size"], generator=stream), None
        elif guidance == "classifier":
            x = ddpm.sample(n, sampler=cfg["sampler"], steps=cfg["steps"], batch_size=cfg["batch_size"],
                            generator=stream, y=y, classifier=classifier, scale=scale)
        else:
            x = twin.sample(n, sampler=cfg["sampler"], steps=cfg["steps"], batch_size=cfg["batch_size"],
                            generator=stream, y=y, guidance_weight=scale)
        seconds = (time.perf_counter() - t0) / n
        scores = conditional_scores(x, evaluator, reference, labels, bootstrap=cfg["bootstrap"], seed=cfg["seed"])
        name = guidance if scale is None else f"{guidance}-{scale:g}"
        record.save_grid(x[:GRID_ROWS * k], name, nrow=k)  # columns: the requested classes 0..K-1; saved before the row
        record.log({"guidance": guidance, "scale": scale, "seconds_per_image": seconds, **scores})
    record.finish()
    return Study(ddpm_rec, twin_rec, clf_rec, load_record(sweep_dir), gan_rec)


LABELS = {"real": "real training images", "dcgan": "DCGAN (unconditional)",
          "classifier": "classifier guidance, unconditional DDPM", "free": "classifier-free guidance, conditional DDPM"}


def sweep_rows(study: Study) -> list[dict[str, Any]]:
    """One row per point of the sweep: what was sampled, s or w, and the scores."""
    rows = []
    for r in study.sweep.rows:
        rows.append({"samples": LABELS[r["guidance"]], "s or w": r["scale"], "N": r["n"],
                     "label accuracy": r.get("label_accuracy"), "FD (classifier)": r["fd_classifier"],
                     "precision": r["precision"], "recall": r["recall"], "density": r["density"],
                     "coverage": r["coverage"], "classes hit": r["classes_hit"],
                     "ms per image": 1e3 * r["seconds_per_image"]})
    return rows


SCORES = ("label accuracy", "label_accuracy"), ("FD (classifier)", "fd_classifier"), ("precision", "precision"), \
    ("recall", "recall"), ("density", "density"), ("coverage", "coverage")


def table_rows(study: Study) -> list[dict[str, Any]]:
    """:func:`sweep_rows` for people: each score with its 95% interval (the Fréchet distance's from
    ``bootstrap`` resamples; the others' for the sampling of the N samples, the real images held fixed:
    see :mod:`repro.metrics.conditional`), "—" for s or w where the point has neither."""
    return [{"samples": LABELS[r["guidance"]], "s or w": "—" if r["scale"] is None else f"{r['scale']:g}", "N": r["n"],
             **{label: with_interval(r, key) for label, key in SCORES}, "classes hit": r["classes_hit"]}
            for r in study.sweep.rows]


def accuracy_rows(study: Study) -> list[dict[str, Any]]:
    """The noise-aware classifier's accuracy on noisy test images by t."""
    return [{"t": int(r["t"]), "accuracy": r["accuracy"]} for r in study.sweep.table(ACCURACY)]
