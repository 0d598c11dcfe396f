"""The ``sample_ddim`` notebook's experiment: sample quality against sampling cost.

For a trained DDPM (its EMA weights; the ``images`` study's first seed (seed 0 unless it diverged) when ``runs_dir`` holds that study,
else the run of ``train_ddpm``) and each number of steps K, three samplers
draw ``n_samples`` images: iDDPM's *respaced ancestral* sampler (learned variances on K steps,
Nichol & Dhariwal 2021 sec. 4), DDIM with eta = 0 (deterministic) and DDIM with eta = 1 (Song et al.
2021). The trained DCGAN (the study's first seed, else ``train_gan``'s) is the one-step point. Each row of the sweep's
``metrics.csv`` holds the sampler, K (network evaluations per image), wall seconds per image and the
classifier-space quality of the samples; a grid of each setting is saved.

Parameters (``None`` takes the profile's value): ``runs_dir`` (folder holding the ``images`` study or the
``train_ddpm`` and ``train_gan`` runs, see :func:`model_runs`; ``None`` trains seconds-long stand-ins, for
the smoke profile only), ``steps``,
``samplers``, ``n_samples``, ``batch_size``, ``seed``, ``out_dir``, ``resume`` (continue the sweep in
``out_dir``, or show it when it finished: :func:`repro.report.sweep_record.open_sweep`), ``device``.
"""

from __future__ import annotations

import json
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..records import Record, load_record
from ..train import TrainedDiffusion, TrainedGAN, load_run
from .params import Rule, load_profiles, resolve, setup_for
from .runs import DEVICE, output_dir, pick_device, stopped_study_run
from .sweep_record import open_sweep

__all__ = ["NOTEBOOK", "RULES", "SAMPLERS", "SAMPLER_NAMES", "setup", "model_runs", "load_models", "sweep",
           "quality_rows", "time_rows", "montage"]

NOTEBOOK = "sample_ddim"
KIND = "sampling-sweep"
SWEEP_KEYS = ("steps", "samplers", "n_samples", "batch_size", "seed")  # what defines the sweep's points
SAMPLERS = {"ancestral": ("ancestral", 1.0), "ddim-eta0": ("ddim", 0.0), "ddim-eta1": ("ddim", 1.0)}
SAMPLER_NAMES = {"gan": "DCGAN", "ancestral": "ancestral", "ddim-eta0": "DDIM η = 0", "ddim-eta1": "DDIM η = 1"}
RULES = {
    "runs_dir": Rule(str, optional=True, help="the folder holding images/, or train_ddpm/ and train_gan/ runs"),
    "steps": Rule(list),
    "samplers": Rule(list),
    "n_samples": Rule(int, minimum=2),
    "batch_size": Rule(int, minimum=1),
    "seed": Rule(int, minimum=0),
    "out_dir": Rule(str, optional=True),
    "resume": Rule(bool, help="continue the sweep in out_dir (a finished one is shown as it is)"),
    "device": DEVICE,
}


def _check_lists(cfg: Mapping[str, Any]) -> str | None:
    bad = [s for s in cfg["samplers"] if s not in SAMPLERS]
    if bad:
        return f"parameter 'samplers' has {bad}; choose from {list(SAMPLERS)}"
    if not all(isinstance(k, int) and k >= 1 for k in cfg["steps"]):
        return f"parameter 'steps' = {cfg['steps']} must be a list of positive integers"
    return None


def model_runs(runs_dir: str | Path) -> dict[str, Path]:
    """The DDPM and DCGAN runs the sweep samples from ``runs_dir``: the ``images`` study's first seeds
    (:func:`repro.report.runs.stopped_study_run`; trained at matched compute until their quality flattened or
    their budget was spent) when it holds them, else ``train_ddpm/`` and ``train_gan/``."""
    return {model: stopped_study_run(runs_dir, model) or Path(runs_dir) / f"train_{model}" for model in ("ddpm", "gan")}


def _runs_exist(cfg: Mapping[str, Any]) -> str | None:
    if cfg["runs_dir"] is None:
        return None if cfg["profile"] == "smoke" else "parameter 'runs_dir' is required outside the smoke profile"
    missing = [p.relative_to(cfg["runs_dir"]).as_posix() for p in model_runs(cfg["runs_dir"]).values()
               if not (p / "checkpoints").exists()]
    return (f"parameter 'runs_dir' = {cfg['runs_dir']!r} lacks trained runs {missing}; run the images notebook "
            f"(or train_ddpm and train_gan) with out_dir={cfg['runs_dir']}/<name> first") if missing else None


def _steps_within_process(cfg: Mapping[str, Any]) -> str | None:
    """No sampler takes more steps than the trained process has (T): a larger K would run T steps
    while the sweep recorded K network evaluations."""
    if cfg["runs_dir"] is not None:
        manifest = model_runs(cfg["runs_dir"])["ddpm"] / "manifest.json"
        try:
            T, where = int(json.loads(manifest.read_text())["params"]["num_timesteps"]), str(manifest)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # _runs_exist names a missing run; a damaged manifest fails when loaded
    else:  # the smoke profile trains stand-ins with train_ddpm's smoke profile
        from .train_ddpm import from_preset

        T, where = int(from_preset(load_profiles()["train_ddpm"]["smoke"])["num_timesteps"]), "the smoke stand-in"
    over = [k for k in cfg["steps"] if isinstance(k, int) and k > T]
    return (f"parameter 'steps' has {over}, more than the DDPM's T = {T} ({where}); a sampler cannot take more "
            f"steps than the process has: use steps <= {T}") if over else None


CONSTRAINTS = (_check_lists, _runs_exist, _steps_within_process)


setup = setup_for(NOTEBOOK, RULES, CONSTRAINTS)  # experiment.setup(globals()) in the notebook


def _train_stand_ins() -> Path:
    """Seconds-long DDPM and GAN runs of the smoke profiles (the smoke profile has no trained runs)."""
    from . import train_ddpm, train_gan

    root = Path(tempfile.mkdtemp(prefix="sample_ddim-smoke-"))
    for module in (train_ddpm, train_gan):
        cfg = resolve(module.NOTEBOOK, {"profile": "smoke", "out_dir": str(root / module.NOTEBOOK),
                                        "track_samples": 0}, module.RULES, complete=module.from_preset)
        module.run(cfg)
    return root


def load_models(cfg: Mapping[str, Any]) -> tuple[TrainedDiffusion, TrainedGAN, Record, Record]:
    """The DDPM (EMA weights) and the GAN generator, each after its last epoch (as the ``images`` study shows
    them; a GAN's best-epoch checkpoint is picked on the metric being reported), with their records."""
    device = pick_device(cfg["device"])
    runs = model_runs(cfg["runs_dir"] or _train_stand_ins())
    ddpm_rec, gan_rec = load_record(runs["ddpm"]), load_record(runs["gan"])
    return (load_run(ddpm_rec, device=device, checkpoint="last"), load_run(gan_rec, device=device, checkpoint="last"),
            ddpm_rec, gan_rec)


def _timed(fn: Callable[[int], torch.Tensor], clock: list[float]) -> Callable[[int], torch.Tensor]:
    def wrapped(n: int) -> torch.Tensor:
        t0 = time.perf_counter()
        x = fn(n)
        if x.is_cuda:
            torch.cuda.synchronize(x.device)
        clock[0] += time.perf_counter() - t0
        return x
    return wrapped


def sweep(cfg: Mapping[str, Any], ddpm: TrainedDiffusion, gan: TrainedGAN, ddpm_rec: Record,
          gan_rec: Record) -> Record:
    """Quality and time per image for every (sampler, steps) and for the GAN; returns the sweep's record."""
    from ..metrics import ClassifierTracker

    device = pick_device(cfg["device"])
    out = output_dir(NOTEBOOK, cfg, checkpoint="manifest.json")  # a sweep killed before its first row continues too
    dataset = ddpm_rec.manifest["data"]["name"]
    data = {"ddpm_run": str(ddpm_rec.path), "gan_run": str(gan_rec.path), **ddpm_rec.manifest["data"]}
    record = open_sweep(out, KIND, cfg, SWEEP_KEYS, data, {"ddpm": ddpm_rec, "gan": gan_rec}, device)
    if record.manifest.get("status") == "finished":
        return record
    done = {(r["sampler"], int(r["steps"])) for r in record.rows}
    tracker = ClassifierTracker(dataset, n_samples=cfg["n_samples"], batch_size=cfg["batch_size"],
                                seed=cfg["seed"], device=device)
    # the GAN draws from its own noise stream (seeded once); the DDPM from the global one the tracker seeds
    settings = [("gan", gan, 1, dict(sampler="gan", generator=torch.Generator(device).manual_seed(cfg["seed"])))]
    settings += [(name, ddpm, k, dict(sampler=SAMPLERS[name][0], eta=SAMPLERS[name][1]))
                 for name in cfg["samplers"] for k in cfg["steps"]]
    for sampler, model, k, options in settings:
        if (sampler, k) in done:  # a resumed sweep: this point is logged (its grid was saved before its row)
            continue
        clock = [0.0]
        fn = partial(model.sample, steps=k, batch_size=cfg["batch_size"], **options)
        result = tracker(_timed(fn, clock))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg["seed"])
            record.save_grid(fn(64), f"{sampler}-{k:04d}")
        record.log({"sampler": sampler, "steps": k, "nfe": k, "seconds_per_image": clock[0] / cfg["n_samples"],
                    **{key: result[key] for key in ("fd_classifier", "classifier_score", "classes_hit", "class_kl")}})
    record.finish()
    return load_record(out)


def quality_rows(record: Record) -> list[dict[str, Any]]:
    """The sweep's quality for people: each sampler by name, K network evaluations per image, and the
    classifier-space Fréchet distance, classes hit and class-frequency KL of its samples."""
    return [{"sampler": SAMPLER_NAMES.get(r["sampler"], r["sampler"]), "K": int(r["nfe"]),
             "FD (classifier)": float(r["fd_classifier"]), "classes hit": int(r["classes_hit"]),
             "class KL": float(r["class_kl"])} for r in record.rows]


def time_rows(record: Record) -> list[dict[str, Any]]:
    """Wall milliseconds per image of each sampler at K network evaluations (batch ``batch_size``)."""
    return [{"sampler": SAMPLER_NAMES.get(r["sampler"], r["sampler"]), "K": int(r["nfe"]),
             "ms per image": 1e3 * float(r["seconds_per_image"])} for r in record.rows]


def montage(record: Record, samplers: list[str], steps: list[int]) -> tuple[list[Path], list[str]]:
    """The saved 8 x 8 grids of each sampler at the fewest and the most steps, one sampler per row of a
    two-column montage (the same noise in every grid), with their titles."""
    k_min, k_max = min(steps), max(steps)
    grids = [(s, k) for s in samplers for k in (k_min, k_max)]
    return ([record.path / "grids" / f"{s}-{k:04d}.png" for s, k in grids],
            [f"{SAMPLER_NAMES.get(s, s)}, K = {k}" for s, k in grids])
