"""The ``toy_modes`` notebook's experiment: a GAN and a DDPM on the 2D mixtures, tuned alike, several seeds.

The protocol is PacGAN's (Lin et al. 2018, Table 1, from its public code): the ring of 8 modes of
radius 1 and std 0.01 (``ring8_r1``) and the 5 x 5 grid of std 0.05 (``grid25``), 100,000 training
points, the GAN of preset ``mixture-pacgan`` (2-d z, 4 x 400 BatchNorm generator, maxout
discriminator, Adam 1e-4 with beta1 0.8, batch 100, simultaneous updates). The DDPM is the
``mixture-mlp`` preset. Both models get the same tuning effort:

1. **Selection.** On seed 0, each learning rate of its grid (``gan_lrs``, ``ddpm_lrs``: the same x/÷3
   steps around each model's reference value) trains for ``select_fraction`` of the model's epochs;
   :func:`select_lr` keeps the one with the most modes hit (>= 20 of 2,500 samples) averaged over the
   last ``LAST_K`` evaluations, ties within half a mode going to the higher high-quality fraction. A
   rate chosen at an edge of its grid gets one more ×/÷3 step past that edge and the rule picks again,
   up to ``extend`` times (:func:`repro.report.selection.bracketed_selection`), for both models alike.
2. **Seeds.** The chosen learning rate trains ``seeds`` seeds for the full epochs, each a run of its own
   (a selection run is a finished record that needs no checkpoint to be read again).
3. **PacGAN's own setting.** With ``pacgan_epochs`` > 0, one more GAN run (seed 0) at PacGAN's learning
   rate for that many epochs (PacGAN: 400) into ``out_dir/<mixture>/pacgan/``: the row of PacGAN's table
   where our protocol is theirs, so that a gap between our GAN rows and theirs can be traced to the
   learning rate and length we chose, or not.

Every epoch one :class:`repro.metrics.ModeCoverageTracker` scores 2,500 samples of each model, and the
same collapse rule (:mod:`repro.metrics.collapse`) judges both. Each run trains into
``out_dir/<mixture>/<model>-lr<lr>-seed<k>``; finished runs are kept and a killed run continues from
its last checkpoint, so re-running the notebook only does the missing work (``workers`` runs at once on a
CPU, each in a process of its own with one thread); selection runs train into
``out_dir/<mixture>/select/<model>-lr<lr>``. With ``train=False`` nothing is trained: the notebook
reports the study as far as it has run (every selection run must be finished; seeds still missing are
left out, and the tables say how many each row holds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ..data import load_dataset
from ..data.mixtures import MIXTURES, mixture_centers
from ..metrics.collapse import CollapseRule, detect_collapse
from ..metrics.tracking import ModeCoverageTracker
from ..records import Record, load_record
from ..train import diffusion, gan, load_gan, load_run
from ..train.budget import trend, window_change
from ..train.compute import record_flops_per_example, run_training_flops, training_time_s
from .params import ParameterError, Rule, setup_for
from .runs import DEVICE, WORKERS, continue_run, finished_run, in_workers, pick_device, study_root
from .selection import bracketed_selection, grid_label, tail_mean as _tail_mean
from .tables import mean_pm, pm, rate, sig

__all__ = ["NOTEBOOK", "RULES", "PACGAN_TABLE1", "LAST_K", "ORACLE_DRAWS", "PACGAN_LR", "pacgan_dir", "setup", "run", "select_lr", "summary_rows",
           "study_rows", "oracle_row", "selection_rows", "Study", "trend_cell", "TREND_K", "TREND_TOL", "chosen_runs", "final_samples", "tail_mean", "collapse_report", "has_final_samples", "ddpm_config", "gan_config", "seeds_caption",
           "compute_rows"]

NOTEBOOK = "toy_modes"
MODELS = ("gan", "ddpm")
LAST_K = 10  # evaluations averaged: the GAN's coverage hops from epoch to epoch
TREND_K = 25  # epochs in each of the two windows :func:`trend_cell` compares
TREND_TOL = {"modes_hit": 0.5, "high_quality_fraction": 0.01}  # the smallest change that counts
RULES = {
    "mixtures": Rule(list, help="a list of mixture names"),
    "seeds": Rule(int, minimum=1),
    "n_points": Rule(int, minimum=512),
    "gan_epochs": Rule(int, minimum=1),
    "ddpm_epochs": Rule(int, minimum=1),
    "gan_lrs": Rule(list, help="the GAN's learning-rate grid (lr_G = lr_D)"),
    "ddpm_lrs": Rule(list, help="the DDPM's learning-rate grid"),
    "select_fraction": Rule(float, help="fraction of each model's epochs the selection runs train"),
    "extend": Rule(int, minimum=0, help="rounds of growing a grid past an edge that wins (0: the grid as given)"),
    "pacgan_epochs": Rule(int, minimum=0, help="epochs of a seed-0 GAN at PacGAN's learning rate (0: none)"),
    "eval_samples": Rule(int, minimum=100),
    "out_dir": Rule(str, optional=True),
    "train": Rule(bool, help="False: report the finished runs only, train nothing"),
    "workers": WORKERS,
    "device": DEVICE,
}

PACGAN_LR = gan.PRESETS["mixture-pacgan"].lr_G  # PacGAN's Adam learning rate, for G and D

# Lin et al. 2018 (PacGAN), Table 1, vanilla GAN: 10 trials, mean +- standard error; modes hit by >= 1
# high-quality sample of 2,500; high quality = within 3 std of a mode; reverse KL = KL(q || uniform).
PACGAN_TABLE1 = {
    "ring8_r1": {"modes": (6.3, 0.5), "high_quality_pct": (98.2, 0.2), "reverse_kl": (0.45, 0.09)},
    "grid25": {"modes": (17.3, 0.8), "high_quality_pct": (94.8, 0.7), "reverse_kl": (0.70, 0.07)},
}


def _check(cfg: Mapping[str, Any]) -> str | None:
    bad = [m for m in cfg["mixtures"] if m not in MIXTURES]
    if bad:
        return f"parameter 'mixtures' has {bad}; choose from {sorted(MIXTURES)}"
    for name in ("gan_lrs", "ddpm_lrs"):
        if not cfg[name] or not all(isinstance(v, (int, float)) and v > 0 for v in cfg[name]):
            return f"parameter {name!r} = {cfg[name]!r} must be a non-empty list of positive learning rates"
    if not 0 < cfg["select_fraction"] <= 1:
        return f"parameter 'select_fraction' = {cfg['select_fraction']} must be in (0, 1]"
    return None


CONSTRAINTS = (_check,)

setup = setup_for(NOTEBOOK, RULES, CONSTRAINTS)  # experiment.setup(globals()) in the notebook


def gan_config(epochs: int, seed: int, lr: float) -> gan.GANTrainConfig:
    """The 2D GAN: PacGAN's vanilla GAN (preset ``mixture-pacgan``) at learning rate ``lr`` for G and D."""
    return gan.preset("mixture-pacgan", epochs=epochs, seed=seed, lr_G=lr, lr_D=lr, best_metric="modes_hit",
                      best_mode="max")


def ddpm_config(epochs: int, seed: int, lr: float) -> diffusion.DiffusionTrainConfig:
    """The 2D DDPM: preset ``mixture-mlp`` (learned variances with the hybrid loss, as on images; Ho et al.'s
    linear schedule) at learning rate ``lr``, tracked with 50 DDIM steps."""
    return diffusion.preset("mixture-mlp", epochs=epochs, seed=seed, lr=lr, best_metric="modes_hit", best_mode="max")


def _train_one(model: str, data, out: Path, epochs: int, seed: int, lr: float, eval_samples: int,
               device) -> Record:
    """A finished run of ``epochs`` epochs in ``out``: kept if there, continued if shorter or killed."""
    tracker = ModeCoverageTracker.for_dataset(data, n_samples=eval_samples, seed=seed + 1, device=device)
    if model == "gan":
        return continue_run(gan.train_gan, gan_config(epochs, seed, lr), data, out, evaluate=tracker, device=device)
    return continue_run(diffusion.train_diffusion, ddpm_config(epochs, seed, lr), data, out, evaluate=tracker,
                        device=device)


def tail_mean(rows: list[dict[str, Any]], key: str, k: int = LAST_K) -> float:
    """``key`` averaged over the last ``k`` (default ``LAST_K``) evaluations."""
    return _tail_mean(rows, key, k)


def select_lr(runs: Mapping[float, Record], k: int = LAST_K) -> float:
    """The learning rate whose run hit the most modes (>= 20 rule) on average over its last ``k``
    evaluations; runs within half a mode of the best are ranked by their mean high-quality fraction."""
    if not runs:
        raise ValueError("select_lr needs at least one run")
    modes = {lr: tail_mean(rec.rows, "modes_hit", k) for lr, rec in runs.items()}
    top = max(modes.values())
    close = [lr for lr, m in modes.items() if m >= top - 0.5]
    return max(close, key=lambda lr: (tail_mean(runs[lr].rows, "high_quality_fraction", k), -lr))


@dataclass
class Study:
    """The runs of the study: ``selection[mixture, model, lr]`` (seed 0, ``select_fraction`` of the epochs),
    the learning rate ``chosen[mixture, model]``, ``runs[mixture, model, seed]`` at that rate, and
    ``pacgan[mixture]``, the GAN at PacGAN's own learning rate and length (seed 0)."""

    selection: dict[tuple[str, str, float], Record] = field(default_factory=dict)
    chosen: dict[tuple[str, str], float] = field(default_factory=dict)
    runs: dict[tuple[str, str, int], Record] = field(default_factory=dict)
    pacgan: dict[str, Record] = field(default_factory=dict)


@dataclass(frozen=True)
class _Job:
    mixture: str
    model: str
    out: Path
    epochs: int
    seed: int
    lr: float


def _train_job(job: _Job, n_points: int, eval_samples: int, device: str) -> None:
    """One run, in this process or a worker's (the data are generated again there, from seed 0)."""
    data = load_dataset(job.mixture, "train", subset=n_points, seed=0)
    _train_one(job.model, data, job.out, job.epochs, job.seed, job.lr, eval_samples, torch.device(device))


def _execute(jobs: list[_Job], cfg: Mapping[str, Any], device: torch.device) -> dict[_Job, Record | None]:
    """Finish ``jobs`` (with ``train``), ``workers`` at a time (:func:`in_workers`), the GAN's long
    runs first. Returns each job's finished record (``None``: not finished and ``train`` is off)."""
    if cfg["train"]:
        todo = sorted((j for j in jobs if finished_run(j.out, j.epochs) is None),
                      key=lambda j: (j.model != "gan", -j.epochs))
        in_workers(_train_job, [(j, cfg["n_points"], cfg["eval_samples"], str(device)) for j in todo],
                   cfg["workers"], device)
    return {j: finished_run(j.out, j.epochs) for j in jobs}


def run(cfg: Mapping[str, Any]) -> Study:
    """The selection runs of every (mixture, model), then the seeds at each chosen rate."""
    device = pick_device(cfg["device"])
    root = study_root(NOTEBOOK, cfg)
    study = Study()
    grids = {(mixture, model): cfg[f"{model}_lrs"] for mixture in cfg["mixtures"] for model in MODELS}

    def train(jobs: list[tuple[tuple[str, str], float]]) -> dict[tuple[tuple[str, str], float], Record]:
        todo = [_Job(mixture, model, root / mixture / "select" / f"{model}-lr{lr:g}", _selection_epochs(cfg, model),
                     0, lr) for (mixture, model), lr in jobs]
        done = {}
        for job, rec in _execute(todo, cfg, device).items():
            if rec is None:
                raise ParameterError(f"train=False, but the selection run {job.out} has not finished; run the "
                                     "notebook with train=True first")
            done[(job.mixture, job.model), job.lr] = rec
        return done

    study.chosen, records = bracketed_selection(grids, train, select_lr, cfg["extend"])
    study.selection = {(mixture, model, lr): rec for ((mixture, model), lr), rec in records.items()}
    seeds = [_Job(mixture, model, root / mixture / f"{model}-lr{lr:g}-seed{seed}", cfg[f"{model}_epochs"], seed, lr)
             for (mixture, model), lr in study.chosen.items() for seed in range(cfg["seeds"])]
    for job, rec in _execute(seeds, cfg, device).items():
        if rec is not None:
            study.runs[job.mixture, job.model, job.seed] = rec
    if cfg["pacgan_epochs"] > 0:  # after the seeds: the verdicts rest on those
        own = [_Job(mixture, "gan", pacgan_dir(root, mixture), cfg["pacgan_epochs"], 0, PACGAN_LR)
               for mixture in cfg["mixtures"]]
        study.pacgan = {job.mixture: rec for job, rec in _execute(own, cfg, device).items() if rec is not None}
    return study


def _finished(folder: Path, pattern: str) -> list[Record]:
    recs = [load_record(path) for path in sorted(folder.glob(pattern)) if (path / "manifest.json").exists()]
    return [rec for rec in recs if rec.manifest.get("status") == "finished"]


def _lr(rec: Record) -> float:
    """A run's learning rate: the DDPM's ``lr``, the GAN's ``lr_G`` (equal to ``lr_D`` in this study)."""
    return float(rec.params["lr"] if "lr" in rec.params else rec.params["lr_G"])


def chosen_runs(mixture_dir: str | Path, model: str) -> tuple[float | None, list[Record]]:
    """The learning rate the selection rule (:func:`select_lr`) picks among the finished selection runs of
    ``model`` in ``mixture_dir/select`` (the grid as it was trained, rates added past an edge included),
    and the finished full-length seeds at that rate, read from the records alone: no study config is
    needed. ``(None, [])`` when no selection run has finished."""
    mixture_dir = Path(mixture_dir)
    selection = {_lr(rec): rec for rec in _finished(mixture_dir / "select", f"{model}-lr*")}
    if not selection:
        return None, []
    lr = select_lr(selection)
    return lr, [rec for rec in _finished(mixture_dir, f"{model}-lr*-seed*") if _lr(rec) == lr]


def collapse_report(rec: Record, mixture: str):
    """What the collapse rule, set for the mixture's number of modes, says of a 2D run."""
    rule = CollapseRule.for_mixture(num_modes=len(mixture_centers(mixture)), diversity=None, win=None)
    return detect_collapse(rec.rows, rule)


def _verdict(rec: Record, mixture: str) -> str:
    """The collapse rule's verdict in a few words, with the criterion that dated a collapse."""
    report = collapse_report(rec, mixture)
    short = str(report).split(":")[0]
    return f"{short} ({report.cause})" if report.cause else short


def trend_cell(rows: list[dict[str, Any]], k: int = TREND_K) -> str:
    """Whether a run's coverage had flattened by its end: the modes hit (>= 20 rule) and the high-quality
    fraction, mean of the last ``k`` epochs against the ``k`` before (:func:`repro.train.budget.trend`,
    with the changes that count in ``TREND_TOL``). "flat" when neither moved, else each that moved with
    its change ± standard error, e.g. "improving: high-quality fraction +0.038 ± 0.011"."""
    names = {"modes_hit": "modes", "high_quality_fraction": "high-quality fraction"}
    moves: dict[str, list[str]] = {}
    for key, name in names.items():
        values = [r.get(key) for r in rows]
        verdict = trend(values, k, tol=TREND_TOL[key])
        if verdict == "too short":
            return f"too short (< {2 * k} epochs)"
        if verdict != "flat":
            delta, se = window_change(values, k)
            moves.setdefault(verdict, []).append(f"{name} {'+' if delta > 0 else ''}{pm(delta, se)}")
    return "; ".join(f"{verdict}: {', '.join(parts)}" for verdict, parts in moves.items()) or "flat"


def summary_rows(study: Study) -> list[dict[str, Any]]:
    """One row per full-length run: its learning rate, coverage at the last epoch and over the last
    evaluations, whether its curves had flattened (:func:`trend_cell`), and what the collapse rule says."""
    rows = []
    for (mixture, model, seed), rec in study.runs.items():
        last = rec.rows[-1]
        rows.append({"mixture": mixture, "model": model.upper(), "lr": study.chosen[mixture, model], "seed": seed,
                     "epochs": len(rec.rows), "modes hit (>= 20), last epoch": last["modes_hit"],
                     "modes hit (>= 1), last epoch": last.get("modes_hit_any"),
                     f"modes hit (>= 20), mean of last {LAST_K}": round(tail_mean(rec.rows, "modes_hit"), 2),
                     f"modes hit (>= 1), mean of last {LAST_K}": round(tail_mean(rec.rows, "modes_hit_any"), 2),
                     "high-quality fraction, last epoch": round(last["high_quality_fraction"], 3),
                     f"last {TREND_K} epochs against the {TREND_K} before": trend_cell(rec.rows),
                     "collapse rule": _verdict(rec, mixture), "wall_time_s": rec.manifest["wall_time_s"]})
    return rows


def _spent(recs: list[Record]) -> tuple[float, list[float], list[float]]:
    """FLOPs per example, and training PFLOP and training minutes of each of ``recs`` (FLOPs counted once,
    from the first's config: the runs of one (mixture, model) share their architecture and batch)."""
    per_example = record_flops_per_example(recs[0])
    return (per_example, [run_training_flops(rec, per_example) / 1e15 for rec in recs],
            [training_time_s(rec.rows) / 60 for rec in recs])


def compute_rows(study: Study) -> list[dict[str, Any]]:
    """What each model's runs cost, per (mixture, model): FLOPs per training example (counted from the
    run's config, :mod:`repro.train.compute`), training PFLOP and minutes per full-length run (mean ± standard
    deviation over seeds; minutes are the sum of the epochs' training times, evaluation left out), and the
    same totals for the selection runs that chose its learning rate: the study matches the two models in
    epochs and tuning rule, and this table says what that means in compute."""
    rows = []
    for mixture in dict.fromkeys(m for m, _, _ in study.runs):
        for model in MODELS:
            recs = [rec for (mix, mod, _), rec in sorted(study.runs.items()) if (mix, mod) == (mixture, model)]
            if not recs:
                continue
            select = [rec for (mix, mod, _), rec in study.selection.items() if (mix, mod) == (mixture, model)]
            per_example, pflop, minutes = _spent(recs)
            _, sel_pflop, sel_minutes = _spent(select) if select else (None, [], [])
            rows.append({"mixture": mixture, "model": model.upper(), "seeds": len(recs), "epochs": len(recs[0].rows),
                         "steps × batch": f"{int(recs[0].rows[-1]['step']):,} × {recs[0].params['batch_size']}",
                         "MFLOP per example": sig(per_example / 1e6),
                         "PFLOP per run": mean_pm(pflop, "sd"), "time per run": f"{mean_pm(minutes, 'sd')} min",
                         "selection runs": (f"{len(select)}: {sig(sum(sel_pflop))} PFLOP, {sig(sum(sel_minutes))} min"
                                            if select else "0")})
    return rows


def seeds_caption(study: Study, mixtures: list[str]) -> str | None:
    """The full-length seeds behind a table of the study, per mixture and model, as a caption's words,
    e.g. ``"ring8_r1: GAN seeds 0-3, DDPM seeds 0-4; grid25: GAN seeds 0, 1, DDPM seeds 0-4"``."""
    from .tables import seed_list

    parts = []
    for mixture in mixtures:
        by_model = [f"{m.upper()} seeds {seed_list(seeds)}" for m in MODELS
                    if (seeds := sorted(s for mix, mod, s in study.runs if (mix, mod) == (mixture, m)))]
        if by_model:
            parts.append(f"{mixture}: {', '.join(by_model)}")
    return "; ".join(parts) or None


def _selection_epochs(cfg: Mapping[str, Any], model: str) -> int:
    return max(1, round(cfg["select_fraction"] * cfg[f"{model}_epochs"]))


def selection_rows(study: Study, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The learning-rate grid of each (mixture, model) on seed 0: what the selection rule compared, the
    modes hit by the papers' rule (>= 1 high-quality sample), which PacGAN's table counts, and whether the
    rate was in the given grid (``cfg``'s) or added past an edge that won."""
    return [{"mixture": mixture, "model": model.upper(), "lr": lr, "epochs": len(rec.rows),
             f"modes hit (>= 20), mean of last {LAST_K}": round(tail_mean(rec.rows, "modes_hit"), 2),
             f"modes hit (>= 1), mean of last {LAST_K}": round(tail_mean(rec.rows, "modes_hit_any"), 2),
             f"high-quality fraction, mean of last {LAST_K}": round(tail_mean(rec.rows, "high_quality_fraction"), 3),
             "in the grid": grid_label(lr, cfg[f"{model}_lrs"]),
             "chosen": "yes" if study.chosen.get((mixture, model)) == lr else ""}
            for (mixture, model, lr), rec in sorted(study.selection.items(), key=lambda kv: (
                cfg["mixtures"].index(kv[0][0]) if kv[0][0] in cfg["mixtures"] else len(cfg["mixtures"]),
                MODELS.index(kv[0][1]), kv[0][2]))]


ORACLE_DRAWS = 5  # independent draws of the true mixture behind its row


def oracle_row(mixture: str, n: int, draws: int = ORACLE_DRAWS) -> dict[str, Any]:
    """The true mixture scored like the models: ``draws`` samples of ``n`` points from its test stream,
    mean ± standard error. It is the ceiling each column is read against (an isotropic 2D Gaussian puts
    1 - exp(-9/2) = 98.9% of its points within 3 std of its centre: the best high-quality % there is)."""
    from ..data.mixtures import load_mixture
    from ..metrics.modes import mode_coverage

    covs = [mode_coverage((d := load_mixture(mixture, "test", n=n, seed=s)).points, d.centers, d.std)
            for s in range(draws)]
    return {"mixture": mixture, "source": f"the true mixture, {n:,} points", "seeds": f"{draws} draws",
            "modes (>= 1)": mean_pm([float(c["modes_hit_any"]) for c in covs]),
            "modes (>= 20 of 2,500)": mean_pm([float(c["modes_hit"]) for c in covs]),
            "high quality %": mean_pm([100 * c["high_quality_fraction"] for c in covs]),
            "reverse KL": mean_pm([float(c["kl_to_uniform"]) for c in covs])}


def _table_columns(last: list[dict[str, Any]]) -> dict[str, str]:
    """PacGAN's columns over runs' last rows, mean ± standard error."""
    return {"modes (>= 1)": mean_pm([float(r["modes_hit_any"]) for r in last]),
            "modes (>= 20 of 2,500)": mean_pm([float(r["modes_hit"]) for r in last]),
            "high quality %": mean_pm([100 * float(r["high_quality_fraction"]) for r in last]),
            "reverse KL": mean_pm([float(r["kl_to_uniform"]) for r in last if r["kl_to_uniform"] is not None])}


def pacgan_dir(root: Path, mixture: str) -> Path:
    """The folder of the seed-0 GAN at PacGAN's own learning rate on ``mixture``, under the study's root."""
    return root / mixture / "pacgan" / f"gan-lr{PACGAN_LR:g}-seed0"


def study_rows(study: Study, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """PacGAN's table with our rows: per (mixture, model), the seeds' last epoch as mean ± standard error,
    and our GAN at PacGAN's own setting (where it has run), beside PacGAN's vanilla GAN (Table 1) and the
    true mixture scored the same way (:func:`oracle_row`)."""
    rows = []
    for mixture in cfg["mixtures"]:
        for model in MODELS:
            runs = [rec for (mix, mod, _), rec in study.runs.items() if (mix, mod) == (mixture, model)]
            if not runs:
                continue
            rows.append({"mixture": mixture, "source": f"ours, {model.upper()}",
                         "seeds": f"{len(runs)} of {cfg['seeds']}" if len(runs) < cfg["seeds"] else len(runs),
                         **_table_columns([rec.rows[-1] for rec in runs])})
        if mixture in study.pacgan:
            rec = study.pacgan[mixture]
            rows.append({"mixture": mixture, "source": f"ours, GAN at PacGAN's lr {rate(PACGAN_LR)}, {len(rec.rows)} epochs",
                         "seeds": "1 (seed 0)", **_table_columns([rec.rows[-1]])})
        if mixture in PACGAN_TABLE1:
            p = PACGAN_TABLE1[mixture]
            rows.append({"mixture": mixture, "source": "PacGAN Table 1, GAN", "seeds": 10,
                         "modes (>= 1)": pm(*p["modes"]), "modes (>= 20 of 2,500)": "—",
                         "high quality %": pm(*p["high_quality_pct"]), "reverse KL": pm(*p["reverse_kl"])})
        rows.append(oracle_row(mixture, cfg["eval_samples"]))
    return rows


def _snapshot(record: Record) -> Path:
    return record.path / "samples" / f"epoch{int(record.rows[-1]['epoch']):04d}.pt"


def has_final_samples(record: Record) -> bool:
    """Whether :func:`final_samples` can draw on the run: its last snapshot or last checkpoint is there
    (records kept in the book carry the snapshot; checkpoints stay with the machine that trained)."""
    return _snapshot(record).exists() or (record.path / "checkpoints" / "last.pt").exists()


def final_samples(record: Record, n: int = 2500) -> torch.Tensor:
    """Samples of a run's final model: the last epoch's snapshot (its ``grid_samples`` points from the
    run's fixed noise, stored with the record), else ``n`` fresh samples from its last checkpoint (the
    GAN's generator, the DDPM's EMA weights)."""
    snapshot = _snapshot(record)
    if snapshot.exists():
        return torch.load(snapshot, map_location="cpu", weights_only=True)
    trained = load_gan(record, checkpoint="last") if record.manifest["kind"] == gan.KIND else load_run(record)
    return trained.sample(n, generator=torch.Generator().manual_seed(0))
