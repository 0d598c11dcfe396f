"""The ``images`` notebook's experiment: a DCGAN and a DDPM on the same images at matched training compute.

Both models get the same budget of training FLOPs per run (``budget_pflop``), counted per example of
each trainer's own step (:func:`repro.train.compute.training_flops_per_example`), and the same tuning
effort and stopping rule:

1. **Selection.** On seed 0, each learning rate of the model's grid (``gan_lrs``: lr_G = lr_D;
   ``ddpm_lrs``) trains for ``select_fraction`` of the budget; :func:`select_lr` keeps the one with the
   lowest classifier-space Fréchet distance (``fd_classifier``, every epoch on ``track_samples``
   samples) averaged over the last ``LAST_K`` evaluations, or as many of them as lie in the last
   ``TAIL_SHARE`` of the run (at least one: a two-epoch run is judged on its last epoch, not on the
   mean of its first and last); a rate whose run diverged (a non-finite
   loss) is ranked last and its failed record kept as the evidence, not trained again. A rate chosen at an edge of its grid gets
   one more ×/÷3 step past that edge and the rule picks again, up to ``extend`` times
   (:func:`repro.report.selection.bracketed_selection`), for both models alike.
2. **Seeds.** The chosen rate trains ``gan_seeds`` / ``ddpm_seeds`` seeds, in chunks of
   ``chunk_fraction`` of the budget, until the budget is spent or the FD curve has flattened
   (:func:`repro.train.budget.flattened`: the mean FD over the last chunk's epochs beat the mean over
   the chunk before by less than ``min_improvement``, a share of it; each window is the same share of
   the budget for both models, ``chunk_fraction`` or more so that the model with the fewest epochs
   gets ``MIN_WINDOW`` evaluations a window: one noisy evaluation cannot stop a run, and neither model
   can stop at a smaller share of its budget than the other, :func:`flat_windows`). A seed that diverges stops there with its failed record, and the
   others go on; results are read from the seeds that did not (:meth:`Study.kept`), and the tables
   count the ones that did. After chunks 1, 2, 4, 8, ... (log-spaced in compute, as the curves
   are drawn) and at the stop, ``fid_samples`` samples get Inception FID (with a bootstrap interval of
   ``bootstrap`` resamples), KID, precision/recall and density/coverage (``fid-epochNNNN.json`` beside
   the run); ``fid_samples`` real test images, scored the same way against the same reference, give the
   floor at that N (``real-baseline.json``).
3. **bf16.** With ``bf16`` the models train under bf16 autocast (matmuls and convolutions in bf16, on
   the CPU too); ``bf16_check`` > 0 trains seed 0 of each model again in float32 for that share of the
   budget (``lr<lr>-seed0-fp32``), so that :func:`bf16_rows` can set its quality beside the bf16 seeds'
   at the same epoch.

Every run records ``step``, ``epoch_time_s`` and ``epoch_cpu_s`` per epoch, so its compute so far is
``step x batch_size x flops_per_example`` and its training time the sum of its epoch times (wall, and
the CPU time of its process, which leaves out the waits for a core on a shared machine); the study
writes ``stop.json`` beside each run (FLOPs per example, epochs allowed by the budget, why it stopped, and
the flatness rule's window and the last window's gain, so that a run the budget stopped while still
improving says so).
Runs train into ``out_dir/<model>/select/lr<lr>`` and ``out_dir/<model>/lr<lr>-seed<k>``, ``workers`` at
a time on a CPU (one process and thread each): first every selection run of both models, then every
seed and twin. Finished runs are kept and killed ones continue from their last checkpoint.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import torch

from ..data import IMAGE_DATASETS, load_dataset
from ..io import atomic_write_json
from ..records import Record, load_record
from ..train import diffusion, gan, load_diffusion, load_gan
from ..train.budget import epochs_for_budget, flattened, window_gain
from ..train.checkpoint import NonFiniteLossError
from ..train.compute import training_flops_per_example
from .params import ParameterError, Rule, setup_for
from .runs import DEVICE, STOP_NOTE, WORKERS, continue_run, finished_run, in_workers, pick_device, positive, study_root
from .selection import bracketed_selection, diverged, tail_mean

__all__ = ["NOTEBOOK", "RULES", "LAST_K", "PAGE", "setup", "run", "load_study", "select_lr", "tail_k", "flat_windows",
           "Study", "real_baseline",
           "fid_due"]  # and, loaded on use, the names in PAGE

NOTEBOOK = "images"
MODELS = ("gan", "ddpm")
BASELINE = "real-baseline.json"  # real test images scored like the models, in the study's folder
LAST_K = 3          # evaluations averaged by the selection rule, at most
TAIL_SHARE = 0.25   # ... and only those in this last share of the selection run (at least one)
MIN_WINDOW = 3      # fewest evaluations in each window of the stopping rule
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
    "min_improvement": Rule(float, minimum=0.0, help="the relative gain of a chunk's mean FD over the chunk "
                                                      "before below which a run has flattened"),
    "track_samples": Rule(int, minimum=100),
    "ddpm_track_steps": Rule(int, minimum=1, help="DDIM steps of the DDPM's tracking samples"),
    "fid_samples": Rule(int, minimum=0, help="Inception-evaluated samples after chunks 1, 2, 4, 8 and at the stop (0: none)"),
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


def tail_k(n: int, k: int = LAST_K) -> int:
    """How many of a run's ``n`` last evaluations the selection rule averages: ``k``, or those in the
    run's last ``TAIL_SHARE`` when fewer, and at least one."""
    return max(1, min(k, math.floor(n * TAIL_SHARE)))


def tail_fd(rows: list[dict[str, Any]], k: int = LAST_K) -> float:
    """``fd_classifier`` averaged over the last :func:`tail_k` evaluations (inf when none is finite: ranked
    last)."""
    mean = tail_mean(rows, KEY, tail_k(len(rows), k))
    return math.inf if math.isnan(mean) else mean


def select_lr(runs: Mapping[float, Record], k: int = LAST_K) -> float:
    """The learning rate whose run ended with the lowest ``fd_classifier`` averaged over its last ``k``
    evaluations, or those in its last ``TAIL_SHARE`` when fewer (:func:`tail_k`; ties: the lower rate);
    a run that diverged ranks last, whatever it scored before."""
    if not runs:
        raise ValueError("select_lr needs at least one run")
    return min(runs, key=lambda lr: (math.inf if diverged(runs[lr]) else tail_fd(runs[lr].rows, k), lr))


@dataclass
class Study:
    """``flops[model]`` per example, ``selection[model, lr]``, ``chosen[model]``, ``runs[model, seed]``
    ``stops[model, seed]`` (the content of each run's ``stop.json``), the real-vs-real ``baseline`` (its
    record: ``root / BASELINE``) and the float32 twin ``fp32[model]`` of seed 0 (with ``bf16_check``)."""

    flops: dict[str, float] = field(default_factory=dict)
    fp32: dict[str, Record] = field(default_factory=dict)
    selection: dict[tuple[str, float], Record] = field(default_factory=dict)
    chosen: dict[str, float] = field(default_factory=dict)
    runs: dict[tuple[str, int], Record] = field(default_factory=dict)
    stops: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    root: Path | None = None  # the study's folder

    def seed_runs(self, model: str) -> list[Record]:
        """``model``'s seed runs, in seed order."""
        return [self.runs[model, s] for s in sorted(s for m, s in self.runs if m == model)]

    def kept_stops(self, model: str) -> list[dict[str, Any]]:
        """The stop notes of ``model``'s seeds that did not diverge (:meth:`kept`), in seed order."""
        return [self.stops[model, s] for s in sorted(s for m, s in self.runs if m == model)
                if not diverged(self.runs[model, s])]

    def kept(self, model: str) -> list[Record]:
        """``model``'s seed runs that did not diverge, in seed order: the ones its results are read from
        (a run that diverged shows in the curves and the run table, and is counted where seeds are)."""
        return [rec for rec in self.seed_runs(model) if not diverged(rec)]


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
    ``root / BASELINE``): the floor every model's FID and FD are read against."""
    from .evaluation import evaluate_run

    if cfg["fid_samples"] <= 0:
        return None
    path = root / BASELINE
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


def flat_windows(max_epochs: Mapping[str, int], chunk_fraction: float) -> dict[str, int]:
    """Epochs in each window of the flatness rule, per model: the same share of each model's budget
    (``max_epochs``), ``chunk_fraction`` or, when that leaves the model with the fewest epochs fewer
    than ``MIN_WINDOW``, the share that gives it ``MIN_WINDOW``."""
    share = max(chunk_fraction, MIN_WINDOW / min(max_epochs.values()))
    return {model: max(1, math.ceil(share * epochs - 1e-9)) for model, epochs in max_epochs.items()}


def _until_flat(model: str, cfg: Mapping[str, Any], lr: float, seed: int, data, out: Path, flops: float,
                tracker, device, window: int | None = None) -> tuple[Record, dict[str, Any]]:
    """Train in chunks until the budget is spent or the FD curve has flattened, or the run diverges (a
    non-finite loss: its failed record is kept, and the other seeds go on); returns the record and the
    stop note (written to ``out/stop.json``; for a run that diverged, ``training_flops`` counts its
    finished epochs)."""
    stop_file = out / STOP_NOTE
    n = len(data)
    budget = cfg["budget_pflop"] * 1e15
    max_epochs = epochs_for_budget(budget, flops, n)
    chunk = epochs_for_budget(budget * cfg["chunk_fraction"], flops, n)
    if window is None:  # epochs (one evaluation each) in each window of the flatness rule
        window = flat_windows({model: max_epochs}, cfg["chunk_fraction"])[model]
    if stop_file.exists():
        return load_record(out), json.loads(stop_file.read_text())
    # a killed run continues at the first chunk boundary at or after the epochs it holds (a trainer
    # cannot be asked for fewer epochs than its checkpoint has); the earlier boundaries were decided
    done = len(load_record(out).rows) if (out / "manifest.json").exists() else 0
    chunks = max(1, -(-done // chunk))
    epochs = min(chunks * chunk, max_epochs)
    while True:
        try:
            record = _train(model, config(model, cfg, lr, seed, epochs), data, out, tracker, device)
        except NonFiniteLossError:
            if not _failed_on_nan(str(out)):  # the record could not say so: not a verdict on the seed
                raise
            record = load_record(out)
            where = re.search(r"non-finite loss at step \d+", record.manifest["error"])
            reason = f"diverged: {where.group(0) if where else 'a non-finite loss'}"
            break  # no Inception evaluation of a model that diverged
        reason = None
        if epochs >= max_epochs:
            reason = "budget spent"
        elif flattened(record.rows, KEY, window, cfg["min_improvement"]):
            reason = (f"flattened: the mean FD of the last {window} epochs improved on the mean of the {window} "
                      f"before by less than {cfg['min_improvement']:.0%}")
        if reason or fid_due(chunks):
            _fid(model, record, cfg, device)
        if reason:
            break
        epochs, chunks = min(max_epochs, epochs + chunk), chunks + 1
    step = record.rows[-1]["step"] if record.rows else 0
    gain = window_gain(record.rows, KEY, window)  # a run stopped by its budget may still have been improving
    note = {"flops_per_example": flops, "budget_flops": budget, "max_epochs": max_epochs, "epochs": len(record.rows),
            "reason": reason, "training_flops": step * record.params["batch_size"] * flops, "window": window,
            "last_window_gain": None if math.isnan(gain) else gain, "min_improvement": cfg["min_improvement"]}
    atomic_write_json(stop_file, note)
    return record, note


def _inputs(cfg: Mapping[str, Any], device: torch.device):
    """The training images and the per-epoch tracker, as every run of the study uses them."""
    from ..metrics import ClassifierTracker

    data = load_dataset(cfg["dataset"], "train", image_size=cfg["image_size"], subset=cfg["subset"], seed=0)
    return data, ClassifierTracker(cfg["dataset"], n_samples=cfg["track_samples"], device=device)


def _select_job(model: str, cfg: Mapping[str, Any], lr: float, epochs: int, out: str, device: str) -> None:
    """One selection run, in this process or a worker's; one that diverges leaves its failed record (the
    step and the loss) for :func:`select_lr` to rank last, and the other runs go on."""
    data, tracker = _inputs(cfg, torch.device(device))
    try:
        _train(model, config(model, cfg, lr, 0, epochs), data, Path(out), tracker, torch.device(device))
    except NonFiniteLossError:
        if not _failed_on_nan(out):  # the record could not say so (e.g. a full disk): not a verdict on the rate
            raise


def _seed_job(model: str, cfg: Mapping[str, Any], lr: float, seed: int, out: str, flops: float, window: int,
              device: str) -> None:
    """One seed at the chosen rate, trained until flat (writes ``stop.json``), in this process or a worker's."""
    data, tracker = _inputs(cfg, torch.device(device))
    _until_flat(model, cfg, lr, seed, data, Path(out), flops, tracker, torch.device(device), window)


def _twin_job(model: str, cfg: Mapping[str, Any], lr: float, epochs: int, out: str, device: str) -> None:
    """The float32 twin of seed 0, in this process or a worker's; one that diverges keeps its failed record
    (not trained again, and no bf16 row is made of it) and the other runs go on."""
    data, tracker = _inputs(cfg, torch.device(device))
    try:
        _train(model, config(model, cfg, lr, 0, epochs, bf16=False), data, Path(out), tracker, torch.device(device))
    except NonFiniteLossError:
        if not _failed_on_nan(out):
            raise


def _flops(model: str, cfg: Mapping[str, Any], shape: tuple[int, ...]) -> float:
    base = config(model, cfg, 1e-4, 0, 1)
    if model == "gan":
        base = replace(base, channels=shape[0])
    return training_flops_per_example("gan" if model == "gan" else "diffusion", base, shape)


def run(cfg: Mapping[str, Any]) -> Study:
    """Selection and seeds of both models (see the module docstring): first every selection run, then
    every seed and float32 twin, ``workers`` runs at a time (:func:`repro.report.runs.in_workers`)."""
    device = pick_device(cfg["device"])
    root = study_root(NOTEBOOK, cfg)
    n, shape = _training_size(cfg)
    study = Study(root=root)
    study.baseline = real_baseline(cfg, root, device)
    budget = cfg["budget_pflop"] * 1e15
    epochs = {}
    for model in MODELS:
        study.flops[model] = _flops(model, cfg, shape)
        epochs[model] = epochs_for_budget(budget * cfg["select_fraction"], study.flops[model], n)

    def train(lrs: list[tuple[str, float]]) -> dict[tuple[str, float], Record]:
        jobs = [(model, dict(cfg), lr, epochs[model], str(root / model / "select" / f"lr{lr:g}"), str(device))
                for model, lr in lrs]
        in_workers(_select_job, [j for j in jobs if _selection_record(Path(j[4]), j[3]) is None], cfg["workers"], device)
        return {(model, lr): load_record(Path(out)) for model, _, lr, _, out, _ in jobs}

    study.chosen, study.selection = bracketed_selection({m: cfg[f"{m}_lrs"] for m in MODELS}, train, select_lr,
                                                        cfg["extend"])
    for model, lr in study.chosen.items():
        if diverged(study.selection[model, lr]):
            raise ParameterError(f"every learning rate of the {model.upper()}'s grid diverged (a non-finite loss; "
                                 f"see {root / model / 'select'}): give {model}_lrs lower rates")
    window = flat_windows({m: epochs_for_budget(budget, study.flops[m], n) for m in MODELS}, cfg["chunk_fraction"])
    seeds, twins = [], []
    for model in MODELS:
        lr = study.chosen[model]
        seeds += [(model, dict(cfg), lr, seed, str(root / model / f"lr{lr:g}-seed{seed}"), study.flops[model],
                   window[model], str(device)) for seed in range(cfg[f"{model}_seeds"])]
        if cfg["bf16"] and cfg["bf16_check"] > 0:
            twin_epochs = epochs_for_budget(budget * cfg["bf16_check"], study.flops[model], n)
            twins.append((model, dict(cfg), lr, twin_epochs, str(root / model / f"lr{lr:g}-seed0-fp32"), str(device)))
    # seed by seed across the models, so that each model's first seeds are in before either's last one
    todo = [(_seed_job, j) for j in sorted(seeds, key=lambda j: j[3]) if not (Path(j[4]) / STOP_NOTE).exists()]
    todo += [(_twin_job, j) for j in twins if finished_run(Path(j[4]), j[3]) is None and not _failed_on_nan(j[4])]
    in_workers(_call, todo, cfg["workers"], device)
    for model, _, lr, seed, out, *_ in seeds:
        study.runs[model, seed] = load_record(Path(out))
        study.stops[model, seed] = json.loads((Path(out) / STOP_NOTE).read_text())
    study.fp32 = {model: rec for model, _, _, _, out, _ in twins if not diverged(rec := load_record(Path(out)))}
    return study


def _failed_on_nan(out: str) -> bool:
    """Whether the run in ``out`` diverged (:func:`repro.report.selection.diverged`): it is not trained again."""
    return (Path(out) / "manifest.json").exists() and diverged(load_record(Path(out)))


def _selection_record(out: Path, epochs: int) -> Record | None:
    """The selection run in ``out`` when it is done with: finished ``epochs`` epochs, or diverged."""
    if (rec := finished_run(out, epochs)) is not None or not (out / "manifest.json").exists():
        return rec
    rec = load_record(out)
    return rec if diverged(rec) else None


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
    selection runs and those that diverged, the seeds that stopped (``stop.json``; their rate is the chosen one) and the
    float32 twins; ``None`` when no seed has stopped yet."""
    root = Path(root)
    study = Study(root=root)
    for model in MODELS:
        for path in sorted((root / model / "select").glob("lr*")):
            if (rec := _selection_record(path, 1)) is not None:
                study.selection[model, _lr(rec)] = rec
        for path in sorted((root / model).glob("lr*-seed*")):
            if path.name.endswith("-fp32"):
                if (rec := finished_run(path, 1)) is not None:
                    study.fp32[model] = rec
            elif (path / STOP_NOTE).exists():
                rec, seed = load_record(path), int(path.name.rsplit("-seed", 1)[1])
                if model in study.chosen and _lr(rec) != study.chosen[model]:
                    raise ValueError(f"{root / model} holds seeds of two learning rates ({study.chosen[model]:g} and "
                                     f"{_lr(rec):g}), one study's seeds train one: move the stale seed folders out")
                study.runs[model, seed], study.stops[model, seed] = rec, json.loads((path / STOP_NOTE).read_text())
                study.chosen[model] = _lr(rec)
                study.flops[model] = study.stops[model, seed]["flops_per_example"]
    if (root / BASELINE).exists():
        study.baseline = json.loads((root / BASELINE).read_text())["result"]
    return study if study.runs else None


PAGE = frozenset(("baseline_rows", "bf16_rows", "curves", "final_results", "final_samples", "machines",
                  "memorization_rows", "runs_rows", "seed_series", "selection_rows", "still_improving", "stop_words",
                  "summary_rows", "time_axis"))


def __getattr__(name: str) -> Any:
    """The page's tables and views (:mod:`repro.report.images_results`, which reads this module's records),
    for the notebook's ``experiment`` module; loaded on first use, so either module may be imported first."""
    if name in PAGE:
        from . import images_results

        return getattr(images_results, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
