"""The ``images`` notebook's experiment: a DCGAN and a DDPM on the same images at matched training compute.

Both models get the same budget of training FLOPs per run (``budget_pflop``), counted per example of
each trainer's own step (:func:`repro.train.compute.training_flops_per_example`), and the same tuning
effort and stopping rule:

1. **Selection.** On seed 0, each learning rate of the model's grid (``gan_lrs``: lr_G = lr_D;
   ``ddpm_lrs``) trains for ``select_fraction`` of the budget; :func:`select_lr` keeps the one with the
   lowest classifier-space Fréchet distance (``fd_classifier``, every epoch on ``track_samples``
   samples) averaged over the last ``LAST_K`` evaluations. A rate chosen at an edge of its grid gets
   one more ×/÷3 step past that edge and the rule picks again, up to ``extend`` times
   (:func:`repro.report.selection.bracketed_selection`), for both models alike.
2. **Seeds.** The chosen rate trains ``gan_seeds`` / ``ddpm_seeds`` seeds, in chunks of
   ``chunk_fraction`` of the budget, until the budget is spent or the FD curve has flattened
   (:func:`repro.train.budget.flattened`: the last ``patience`` evaluations beat the earlier best by
   less than ``min_improvement``). After chunks 1, 2, 4, 8, ... (log-spaced in compute, as the curves
   are drawn) and at the stop, ``fid_samples`` samples get Inception FID (with a bootstrap interval of
   ``bootstrap`` resamples), KID, precision/recall and density/coverage (``fid-epochNNNN.json`` beside
   the run); ``fid_samples`` real test images, scored the same way against the same reference, give the
   floor at that N (``real-baseline.json``).
3. **bf16.** With ``bf16`` the models train under bf16 autocast (matmuls and convolutions in bf16, on
   the CPU too); ``bf16_check`` > 0 trains seed 0 of each model again in float32 for that share of the
   budget (``lr<lr>-seed0-fp32``), so that :func:`bf16_rows` can set its quality beside the bf16 seeds'
   at the same epoch.

Every run records ``step`` and ``epoch_time_s`` per epoch, so its compute so far is
``step x batch_size x flops_per_example`` and its training time the sum of its epoch times; the study
writes ``stop.json`` beside each run (FLOPs per example, epochs allowed by the budget, why it stopped).
Runs train into ``out_dir/<model>/select/lr<lr>`` and ``out_dir/<model>/lr<lr>-seed<k>``, ``workers`` at
a time on a CPU (one process and thread each): first every selection run of both models, then every
seed and twin. Finished runs are kept and killed ones continue from their last checkpoint.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import torch

from ..data import IMAGE_DATASETS, load_dataset
from ..io import atomic_write_json
from .. import records
from ..records import Record, load_record
from ..train import diffusion, gan, load_diffusion, load_gan
from ..train.budget import epochs_for_budget, flattened
from ..train.compute import training_flops_per_example, training_time_s
from .params import Rule, setup_for
from .runs import DEVICE, WORKERS, continue_run, finished_run, in_workers, pick_device, positive, study_root
from .selection import bracketed_selection, grid_label, tail_mean
from .tables import mean_pm, mean_se, pm, sig

__all__ = ["NOTEBOOK", "RULES", "LAST_K", "setup", "run", "load_study", "select_lr", "Study", "curves", "summary_rows",
           "runs_rows", "baseline_rows", "selection_rows", "final_results", "seed_series", "machines", "real_baseline", "bf16_rows", "fid_due", "final_samples",
           "memorization_rows"]

NOTEBOOK = "images"
MODELS = ("gan", "ddpm")
LAST_K = 3          # evaluations averaged by the selection rule
KEY = "fd_classifier"
RULES = {
    "dataset": Rule(str, choices=IMAGE_DATASETS),
    "image_size": Rule(int, choices=(32,), help="both models are built for 32 x 32 here"),
    "subset": Rule(int, minimum=1, optional=True),
    "gan_preset": Rule(str, choices=[n for n, p in gan.PRESETS.items() if p.arch == "dcgan"]),
    "ddpm_preset": Rule(str, choices=[n for n, p in diffusion.PRESETS.items() if p.model != "mlp"]),
    "budget_pflop": Rule(float, minimum=0.0, help="training PFLOP per run, the same for both models"),
    "gan_seeds": Rule(int, minimum=1),
    "ddpm_seeds": Rule(int, minimum=1),
    "gan_lrs": Rule(list, help="the DCGAN's learning-rate grid (lr_G = lr_D)"),
    "ddpm_lrs": Rule(list, help="the DDPM's learning-rate grid"),
    "select_fraction": Rule(float, help="share of the budget the selection runs train"),
    "extend": Rule(int, minimum=0, help="rounds of growing a grid past an edge that wins (0: the grid as given)"),
    "chunk_fraction": Rule(float, help="share of the budget between two flatness checks and FID points"),
    "patience": Rule(int, minimum=1),
    "min_improvement": Rule(float, minimum=0.0),
    "track_samples": Rule(int, minimum=100),
    "ddpm_track_steps": Rule(int, minimum=1, help="DDIM steps of the DDPM's tracking samples"),
    "fid_samples": Rule(int, minimum=0, help="Inception-evaluated samples after each chunk (0: none)"),
    "bootstrap": Rule(int, minimum=0, help="resamples behind each FID's 95% interval (0: none)"),
    "view_samples": Rule(int, minimum=10, help="samples of each final model for the per-class view and the "
                                               "nearest-neighbour check"),
    "bf16": Rule(bool, help="bf16 autocast for both models' training"),
    "bf16_check": Rule(float, minimum=0.0, help="share of the budget of a float32 twin of seed 0 (0: none)"),
    "workers": WORKERS,
    "out_dir": Rule(str, optional=True),
    "device": DEVICE,
}


def _fractions(cfg: Mapping[str, Any]) -> str | None:
    bad = [k for k in ("select_fraction", "chunk_fraction") if not 0 < cfg[k] <= 1]
    if bad:
        return "; ".join(f"parameter {k!r} = {cfg[k]} must be in (0, 1]" for k in bad)
    if not 0 <= cfg["bf16_check"] <= cfg["chunk_fraction"]:
        return (f"parameter 'bf16_check' = {cfg['bf16_check']} must be in [0, chunk_fraction = {cfg['chunk_fraction']}]: "
                "the float32 twin is compared with seed 0 within the first chunk, which every seed trains")
    for name in ("gan_lrs", "ddpm_lrs"):
        if not cfg[name] or not all(isinstance(v, (int, float)) and v > 0 for v in cfg[name]):
            return f"parameter {name!r} = {cfg[name]!r} must be a non-empty list of positive learning rates"
    return None


CONSTRAINTS = (_fractions, positive("budget_pflop"))
setup = setup_for(NOTEBOOK, RULES, CONSTRAINTS)  # experiment.setup(globals()) in the notebook


def config(model: str, cfg: Mapping[str, Any], lr: float, seed: int, epochs: int, bf16: bool | None = None):
    """The trainer config of ``model`` at learning rate ``lr``: the preset, tracked every epoch, in bf16
    autocast when ``bf16`` (default: the study's ``bf16``)."""
    common = dict(epochs=epochs, seed=seed, bf16=cfg["bf16"] if bf16 is None else bf16, best_metric=KEY,
                  best_mode="min")
    if model == "gan":
        return gan.preset(cfg["gan_preset"], image_size=cfg["image_size"], lr_G=lr, lr_D=lr, **common)
    return diffusion.preset(cfg["ddpm_preset"], lr=lr, track_steps=cfg["ddpm_track_steps"], **common)


def _tail_mean(rows: list[dict[str, Any]], k: int = LAST_K) -> float:
    """``fd_classifier`` averaged over the last ``k`` evaluations (inf when none is finite: ranked last)."""
    mean = tail_mean(rows, KEY, k)
    return math.inf if math.isnan(mean) else mean


def select_lr(runs: Mapping[float, Record], k: int = LAST_K) -> float:
    """The learning rate whose run ended with the lowest ``fd_classifier`` averaged over its last ``k``
    evaluations (ties: the lower rate)."""
    if not runs:
        raise ValueError("select_lr needs at least one run")
    return min(runs, key=lambda lr: (_tail_mean(runs[lr].rows, k), lr))


@dataclass
class Study:
    """``flops[model]`` per example, ``selection[model, lr]``, ``chosen[model]``, ``runs[model, seed]``
    ``stops[model, seed]`` (the content of each run's ``stop.json``), the real-vs-real ``baseline`` and
    the float32 twin ``fp32[model]`` of seed 0 (with ``bf16_check``)."""

    flops: dict[str, float] = field(default_factory=dict)
    fp32: dict[str, Record] = field(default_factory=dict)
    selection: dict[tuple[str, float], Record] = field(default_factory=dict)
    chosen: dict[str, float] = field(default_factory=dict)
    runs: dict[tuple[str, int], Record] = field(default_factory=dict)
    stops: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None

    def seed_runs(self, model: str) -> list[Record]:
        """``model``'s seed runs, in seed order."""
        return [self.runs[model, s] for s in sorted(s for m, s in self.runs if m == model)]


def _train(model: str, train_cfg, data, out: Path, tracker, device) -> Record:
    train = gan.train_gan if model == "gan" else diffusion.train_diffusion
    return continue_run(train, train_cfg, data, out, evaluate=tracker, device=device)


def _fid(model: str, record: Record, cfg: Mapping[str, Any], device) -> None:
    """Inception metrics of ``fid_samples`` samples of the run's current model, once per epoch reached."""
    from .evaluation import evaluate_run

    epoch = len(record.rows) - 1
    name = f"fid-epoch{epoch:04d}.json"
    if cfg["fid_samples"] <= 0 or (record.path / name).exists():
        return
    trained = (load_gan(record, device=device, checkpoint="last") if model == "gan"
               else load_diffusion(record, device=device, checkpoint="last"))
    steps = {} if model == "gan" else {"sampler": "ddim", "steps": record.params["track_steps"], "eta": 0.0}
    evaluate_run(lambda n: trained.sample(n, **steps), cfg["dataset"], record.path,
                 {"epoch": epoch, "checkpoint": "last", **steps}, name=name, device=device, split="train",
                 n=cfg["fid_samples"], reference_n=cfg["fid_samples"], bootstrap=cfg["bootstrap"], progress=False)


def real_baseline(cfg: Mapping[str, Any], root: Path, device) -> dict[str, Any] | None:
    """What real test images score against the training split at the models' N and size (written once to
    ``root/real-baseline.json``): the floor every model's FID and FD are read against."""
    from .evaluation import evaluate_run

    if cfg["fid_samples"] <= 0:
        return None
    path = root / "real-baseline.json"
    if not path.exists():
        images = load_dataset(cfg["dataset"], "test", image_size=cfg["image_size"], subset=cfg["fid_samples"]).images
        evaluate_run(images, cfg["dataset"], root, {"real_split": "test", "n": cfg["fid_samples"]},
                     name=path.name, device=device, split="train", n=cfg["fid_samples"],
                     reference_n=cfg["fid_samples"], bootstrap=cfg["bootstrap"], progress=False)
    return json.loads(path.read_text())["result"]


def fid_due(chunks: int) -> bool:
    """Inception FID after chunks 1, 2, 4, 8, ...: a few points, evenly spaced on the log-compute axis
    (the stop adds the last one)."""
    return chunks >= 1 and chunks & (chunks - 1) == 0


def _until_flat(model: str, cfg: Mapping[str, Any], lr: float, seed: int, data, out: Path, flops: float,
                tracker, device) -> tuple[Record, dict[str, Any]]:
    """Train in chunks until the budget is spent or the FD curve has flattened; returns the record and
    the stop note (written to ``out/stop.json``)."""
    stop_file = out / "stop.json"
    n = len(data)
    budget = cfg["budget_pflop"] * 1e15
    max_epochs = epochs_for_budget(budget, flops, n)
    chunk = epochs_for_budget(budget * cfg["chunk_fraction"], flops, n)
    if stop_file.exists():
        return load_record(out), json.loads(stop_file.read_text())
    # a killed run continues at the first chunk boundary at or after the epochs it holds (a trainer
    # cannot be asked for fewer epochs than its checkpoint has); the earlier boundaries were decided
    done = len(load_record(out).rows) if (out / "manifest.json").exists() else 0
    chunks = max(1, -(-done // chunk))
    epochs = min(chunks * chunk, max_epochs)
    while True:
        record = _train(model, config(model, cfg, lr, seed, epochs), data, out, tracker, device)
        reason = None
        if epochs >= max_epochs:
            reason = "budget spent"
        elif flattened(record.rows, KEY, cfg["patience"], cfg["min_improvement"]):
            reason = (f"flattened: the last {cfg['patience']} evaluations improved on the earlier best "
                      f"by less than {cfg['min_improvement']:.0%}")
        if reason or fid_due(chunks):
            _fid(model, record, cfg, device)
        if reason:
            break
        epochs, chunks = min(max_epochs, epochs + chunk), chunks + 1
    note = {"flops_per_example": flops, "budget_flops": budget, "max_epochs": max_epochs, "epochs": epochs,
            "reason": reason, "training_flops": record.rows[-1]["step"] * record.params["batch_size"] * flops}
    atomic_write_json(stop_file, note)
    return record, note


def _inputs(cfg: Mapping[str, Any], device: torch.device):
    """The training images and the per-epoch tracker, as every run of the study uses them."""
    from ..metrics import ClassifierTracker

    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"], seed=0)
    return data, ClassifierTracker(cfg["dataset"], n_samples=cfg["track_samples"], device=device)


def _select_job(model: str, cfg: Mapping[str, Any], lr: float, epochs: int, out: str, device: str) -> None:
    """One selection run, in this process or a worker's."""
    data, tracker = _inputs(cfg, torch.device(device))
    _train(model, config(model, cfg, lr, 0, epochs), data, Path(out), tracker, torch.device(device))


def _seed_job(model: str, cfg: Mapping[str, Any], lr: float, seed: int, out: str, flops: float, device: str) -> None:
    """One seed at the chosen rate, trained until flat (writes ``stop.json``), in this process or a worker's."""
    data, tracker = _inputs(cfg, torch.device(device))
    _until_flat(model, cfg, lr, seed, data, Path(out), flops, tracker, torch.device(device))


def _twin_job(model: str, cfg: Mapping[str, Any], lr: float, epochs: int, out: str, device: str) -> None:
    """The float32 twin of seed 0, in this process or a worker's."""
    data, tracker = _inputs(cfg, torch.device(device))
    _train(model, config(model, cfg, lr, 0, epochs, bf16=False), data, Path(out), tracker, torch.device(device))


def _flops(model: str, cfg: Mapping[str, Any], shape: tuple[int, ...]) -> float:
    base = config(model, cfg, 1e-4, 0, 1)
    if model == "gan":
        base = replace(base, channels=shape[0])
    return training_flops_per_example("gan" if model == "gan" else "diffusion", base, shape)


def run(cfg: Mapping[str, Any]) -> Study:
    """Selection and seeds of both models (see the module docstring): first every selection run, then
    every seed and float32 twin, ``workers`` runs at a time on a CPU (:func:`repro.report.runs.in_workers`)."""
    device = pick_device(cfg["device"])
    root = study_root(NOTEBOOK, cfg)
    n, shape = _training_size(cfg)
    study = Study()
    study.baseline = real_baseline(cfg, root, device)
    budget = cfg["budget_pflop"] * 1e15
    epochs = {}
    for model in MODELS:
        study.flops[model] = _flops(model, cfg, shape)
        epochs[model] = epochs_for_budget(budget * cfg["select_fraction"], study.flops[model], n)

    def train(lrs: list[tuple[str, float]]) -> dict[tuple[str, float], Record]:
        jobs = [(model, dict(cfg), lr, epochs[model], str(root / model / "select" / f"lr{lr:g}"), str(device))
                for model, lr in lrs]
        in_workers(_select_job, [j for j in jobs if finished_run(Path(j[4]), j[3]) is None], cfg["workers"], device)
        return {(model, lr): load_record(Path(out)) for model, _, lr, _, out, _ in jobs}

    study.chosen, study.selection = bracketed_selection({m: cfg[f"{m}_lrs"] for m in MODELS}, train, select_lr,
                                                        cfg["extend"])
    seeds, twins = [], []
    for model in MODELS:
        lr = study.chosen[model]
        seeds += [(model, dict(cfg), lr, seed, str(root / model / f"lr{lr:g}-seed{seed}"), study.flops[model], str(device))
                  for seed in range(cfg[f"{model}_seeds"])]
        if cfg["bf16"] and cfg["bf16_check"] > 0:
            twin_epochs = epochs_for_budget(budget * cfg["bf16_check"], study.flops[model], n)
            twins.append((model, dict(cfg), lr, twin_epochs, str(root / model / f"lr{lr:g}-seed0-fp32"), str(device)))
    # seed by seed across the models, so that each model's first seeds are in before either's last one
    todo = [(_seed_job, j) for j in sorted(seeds, key=lambda j: j[3]) if not (Path(j[4]) / "stop.json").exists()]
    todo += [(_twin_job, j) for j in twins if finished_run(Path(j[4]), j[3]) is None]
    in_workers(_call, todo, cfg["workers"], device)
    for model, _, lr, seed, out, _, _ in seeds:
        study.runs[model, seed] = load_record(Path(out))
        study.stops[model, seed] = json.loads((Path(out) / "stop.json").read_text())
    study.fp32 = {model: load_record(Path(out)) for model, _, _, _, out, _ in twins}
    return study


def _call(fn, args: tuple) -> None:
    """``fn(*args)``: lets one pool of workers run jobs of several kinds."""
    fn(*args)


def _training_size(cfg: Mapping[str, Any]) -> tuple[int, tuple[int, ...]]:
    """The number of training images and the shape of one (each run loads the images itself, in its own
    process when ``workers`` > 1)."""
    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"], seed=0)
    return len(data), tuple(data.images.shape[1:])


def _lr(rec: Record) -> float:
    return float(rec.params["lr_G"] if rec.manifest.get("kind") == "gan" else rec.params["lr"])


def load_study(root: str | Path) -> Study | None:
    """The study as its records left it under ``root`` (no model is built or trained): the finished
    selection runs, the seeds that stopped (``stop.json``; their rate is the chosen one) and the
    float32 twins; ``None`` when no seed has stopped yet."""
    root, study = Path(root), Study()
    for model in MODELS:
        for path in sorted((root / model / "select").glob("lr*")):
            if (rec := finished_run(path, 1)) is not None:
                study.selection[model, _lr(rec)] = rec
        for path in sorted((root / model).glob("lr*-seed*")):
            if path.name.endswith("-fp32"):
                if (rec := finished_run(path, 1)) is not None:
                    study.fp32[model] = rec
            elif (path / "stop.json").exists():
                rec, seed = load_record(path), int(path.name.rsplit("-seed", 1)[1])
                study.runs[model, seed], study.stops[model, seed] = rec, json.loads((path / "stop.json").read_text())
                study.chosen[model] = _lr(rec)
                study.flops[model] = study.stops[model, seed]["flops_per_example"]
    if (root / "real-baseline.json").exists():
        study.baseline = json.loads((root / "real-baseline.json").read_text())["result"]
    return study if study.runs else None


def _last_fid(rec: Record) -> dict[str, Any] | None:
    """The result of a run's last Inception evaluation (``fid-epochNNNN.json``), if any."""
    files = sorted(rec.path.glob("fid-epoch*.json"))
    return json.loads(files[-1].read_text())["result"] if files else None


def final_results(study: Study, model: str) -> list[dict[str, Any]]:
    """The last Inception evaluation of each of ``model``'s seeds that has one, in seed order."""
    found = (_last_fid(rec) for rec in study.seed_runs(model))
    return [r for r in found if r is not None]


def bf16_rows(study: Study) -> list[dict[str, Any]]:
    """Per model: the float32 twin of seed 0 beside the bf16 seeds at the twin's last epoch (classifier
    FD), and whether the twin lies within the bf16 seeds' range widened by their spread."""
    rows = []
    for model, twin in study.fp32.items():
        epoch = len(twin.rows) - 1
        bf16 = [float(rec.rows[epoch][KEY]) for (m, _), rec in study.runs.items() if m == model and len(rec.rows) > epoch]
        fp32 = float(twin.rows[-1][KEY])
        mean, se, n = mean_se(bf16)
        sd = se * math.sqrt(n) if n > 1 else math.nan
        spread = max(bf16) - min(bf16) if n > 1 else math.nan  # speed is measured by make bench, not here
        within = "—" if n < 2 else ("yes" if abs(fp32 - mean) <= max(2 * sd, spread) else "no")
        rows.append({"model": model.upper(), "epoch": epoch, "FD fp32 (seed 0)": sig(fp32),
                     "FD bf16 (seeds)": mean_pm(bf16, "sd"), "bf16 seeds": n,
                     "fp32 within the bf16 seeds' spread": within})
    return rows


def curves(study: Study) -> list[dict[str, Any]]:
    """One row per (model, seed, epoch): training PFLOP and hours so far, and the tracked quality."""
    rows = []
    for (model, seed), rec in study.runs.items():
        flops, batch, hours = study.flops[model], rec.params["batch_size"], 0.0
        for r in rec.rows:
            hours += float(r.get("epoch_time_s") or 0.0) / 3600
            rows.append({"model": model, "seed": seed, "epoch": r["epoch"], "pflop": r["step"] * batch * flops / 1e15,
                         "train_hours": hours, KEY: r.get(KEY), "classes_hit": r.get("classes_hit")})
    return rows


def machines(study: Study) -> list[str]:
    """The machines the seed runs trained on (GPU name or CPU model, from each manifest and each resume):
    the training-time axis compares wall times only when this is one machine."""
    return records.machines(study.runs.values())


def seed_series(rows: list[dict[str, Any]], model: str, x: str) -> dict[int, tuple[list[float], list[Any]]]:
    """``model``'s rows of :func:`curves` as ``{seed: (x values, fd_classifier values)}`` for
    :func:`repro.plotting.plot_seed_band`, with each epoch's x the seeds' mean there: the seeds share
    their compute per epoch, but their wall times differ a little, and the band matches points by x."""
    mine = [r for r in rows if r["model"] == model]
    at: dict[int, list[float]] = {}
    for r in mine:
        at.setdefault(r["epoch"], []).append(float(r[x]))
    series: dict[int, tuple[list[float], list[Any]]] = {}
    for r in mine:
        xs, ys = series.setdefault(r["seed"], ([], []))
        xs.append(sum(at[r["epoch"]]) / len(at[r["epoch"]]))
        ys.append(r[KEY])
    return series


def summary_rows(study: Study) -> list[dict[str, Any]]:
    """Per model: the chosen rate, seeds, compute used, why the runs stopped, and the final quality as
    mean ± standard deviation over seeds (Inception FID with its N); ``training_s`` is the seeds' mean
    training wall time in seconds (a number, for the notebook to print apart from the table)."""
    rows = []
    for model in MODELS:
        keys = sorted(s for m, s in study.runs if m == model)
        if not keys:
            continue
        recs = [study.runs[model, s] for s in keys]
        stops = [study.stops[model, s] for s in keys]
        fids = final_results(study, model)
        rows.append({
            "model": model.upper(), "lr": study.chosen[model], "seeds": len(recs),
            "GFLOP per example": sig(study.flops[model] / 1e9),
            "training PFLOP": mean_pm([s["training_flops"] / 1e15 for s in stops], "sd"),
            "training_s": sum(training_time_s(rec.rows) for rec in recs) / len(recs),
            "epochs": ", ".join(str(len(rec.rows)) for rec in recs),
            "stopped": "; ".join(sorted({s["reason"].split(":")[0] for s in stops})),
            "FD (classifier)": mean_pm([float(rec.rows[-1][KEY]) for rec in recs], "sd"),
            "FID": mean_pm([f.get("fid") for f in fids], "sd") + (f" (N = {fids[0].get('n', '?')})" if fids else ""),
        })
    return rows


def baseline_rows(study: Study) -> list[dict[str, Any]]:
    """Real test images scored like the models, against the same reference at the same N: the floor."""
    b = study.baseline
    if b is None:
        return []
    return [{"samples": "real images, test split", "N": b["n"],
             "reference": b["reference"], "FD (classifier)": sig(b['fd_classifier']),
             "FID": f"{sig(b['fid'])}{_interval(b, 'fid')}", "KID x 1000": _kid(b),
             "precision": sig(b['precision']), "recall": sig(b['recall'])}]


def _kid(result: Mapping[str, Any] | None) -> str:
    """KID x 1000 with the spread over its subsets and their size: "2.1 ± 0.3 (subsets of 500)"."""
    if result is None or result.get("kid_mean") is None:
        return "—"
    return f"{pm(result['kid_mean'] * 1e3, result['kid_std'] * 1e3)} (subsets of {result['kid_subset_size']:,})"


def _interval(result: Mapping[str, Any], key: str) -> str:
    lo_hi = result.get(f"{key}_interval")
    return f" [{sig(lo_hi[0])}, {sig(lo_hi[1])}]" if lo_hi else ""


def runs_rows(study: Study) -> list[dict[str, Any]]:
    """Every seed's run: epochs, compute, why it stopped, and its last FID and classifier FD with their
    bootstrap intervals and N (the per-epoch track's FD, with its N, when no evaluation was made), and
    its KID with the spread over subsets smaller than N."""
    rows = []
    for (model, seed), rec in study.runs.items():
        fid = _last_fid(rec)
        stop = study.stops[model, seed]
        rows.append({"model": model.upper(), "seed": seed, "epochs": len(rec.rows),
                     "training PFLOP": sig(stop['training_flops'] / 1e15), "stopped": stop["reason"].split(":")[0],
                     "FD (classifier)": (f"{sig(float(rec.rows[-1][KEY]))} (N = {int(rec.rows[-1]['n_eval']):,})"
                                         if fid is None or fid.get(KEY) is None else
                                         f"{sig(fid[KEY])}{_interval(fid, KEY)} (N = {fid['n']})"),
                     "FID": "—" if fid is None else f"{sig(fid['fid'])}{_interval(fid, 'fid')} (N = {fid['n']})",
                     "KID x 1000": _kid(fid)})
    return rows


def selection_rows(study: Study, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The learning-rate grid of each model on seed 0: what the selection rule compared, and whether the
    rate was in the given grid (``cfg``'s) or added past an edge that won."""
    return [{"model": model.upper(), "lr": lr, "epochs": len(rec.rows),
             f"FD mean of last {LAST_K}": round(_tail_mean(rec.rows), 3),
             "in the grid": grid_label(lr, cfg[f"{model}_lrs"]),
             "chosen": "yes" if study.chosen.get(model) == lr else ""}
            for (model, lr), rec in sorted(study.selection.items(), key=lambda kv: (MODELS.index(kv[0][0]), kv[0][1]))]


def final_samples(study: Study, model: str, n: int, cfg: Mapping[str, Any], seed: int = 0):
    """``n`` samples (images in [-1, 1], CPU) of seed ``seed``'s final model: the DCGAN's last generator, the
    DDPM's EMA weights with the tracking sampler (DDIM, ``ddpm_track_steps`` steps); a fixed noise stream."""
    device = pick_device(cfg["device"])
    rec = study.runs[model, seed]
    stream = torch.Generator(device).manual_seed(12345)
    if model == "gan":
        return load_gan(rec, device=device, checkpoint="last").sample(n, generator=stream).cpu()
    trained = load_diffusion(rec, device=device, checkpoint="last")
    return trained.sample(n, sampler="ddim", steps=rec.params["track_steps"], eta=0.0, generator=stream).cpu()


def memorization_rows(samples: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per model: the median distance of its samples to their nearest training image, beside that of as
    many real test images, in pixels and in the classifier's features (:mod:`repro.metrics.memorization`)."""
    from ..data import to_float
    from ..metrics.classifier import load_classifier
    from ..metrics.memorization import memorization_scores

    evaluator = load_classifier(cfg["dataset"])
    features = lambda x: evaluator.probs_and_features(x)[1]  # noqa: E731
    train = to_float(load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"],
                                  seed=0).images)
    rows = []
    for model, x in samples.items():
        test = to_float(load_dataset(cfg["dataset"], "test", image_size=cfg["image_size"], subset=len(x)).images)
        m = memorization_scores(x, test, train, features=features)
        rows.append({"model": model.upper(), "N": len(x), "training images": len(train),
                     "pixels: samples": m["pixel_nn_samples"], "pixels: test images": m["pixel_nn_test"],
                     "pixels: ratio": m["pixel_ratio"], "features: samples": m["feature_nn_samples"],
                     "features: test images": m["feature_nn_test"], "features: ratio": m["feature_ratio"]})
    return rows
