"""The ``toy_modes`` notebook's experiment: a GAN and a DDPM on the 2D mixtures, several seeds each.

Each (mixture, model, seed) trains into ``out_dir/<mixture>/<model>-seed<k>``; finished runs are
kept and a run killed midway continues from its last checkpoint, so re-running the notebook after an
interruption only does the missing work. Mode coverage (:func:`repro.metrics.mode_coverage`) is
recorded every epoch for both models by one :class:`repro.metrics.ModeCoverageTracker` on
``eval_samples`` samples, and both are judged by the same collapse rule.

Parameters (``None`` takes the profile's value): ``mixtures``, ``seeds`` (how many), ``n_points``
(training points), ``gan_epochs``, ``ddpm_epochs``, ``eval_samples``, ``out_dir``, ``device``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from ..data import load_dataset
from ..data.mixtures import MIXTURES, mixture_centers
from ..records import Record, load_record
from ..metrics.collapse import CollapseRule, detect_collapse
from ..metrics.tracking import ModeCoverageTracker
from ..train import diffusion, gan, load_gan, load_run
from .params import ParameterError, Rule, setup_for
from .runs import DEVICE, pick_device

__all__ = ["NOTEBOOK", "RULES", "setup", "run", "summary_rows", "final_samples", "ddpm_config", "gan_config"]

NOTEBOOK = "toy_modes"
MODELS = ("gan", "ddpm")
RULES = {
    "mixtures": Rule(list, help="a list of mixture names"),
    "seeds": Rule(int, minimum=1),
    "n_points": Rule(int, minimum=512),
    "gan_epochs": Rule(int, minimum=1),
    "ddpm_epochs": Rule(int, minimum=1),
    "eval_samples": Rule(int, minimum=100),
    "out_dir": Rule(str, optional=True),
    "device": DEVICE,
}


def _known_mixtures(cfg: Mapping[str, Any]) -> str | None:
    bad = [m for m in cfg["mixtures"] if m not in MIXTURES]
    return f"parameter 'mixtures' has {bad}; choose from {sorted(MIXTURES)}" if bad else None


CONSTRAINTS = (_known_mixtures,)


setup = setup_for(NOTEBOOK, RULES, CONSTRAINTS)  # experiment.setup(globals()) in the notebook


def ddpm_config(epochs: int, seed: int) -> diffusion.DiffusionTrainConfig:
    """The 2D DDPM: the ``mixture-mlp`` preset (learned variances with the hybrid loss, as on images; Ho et
    al.'s linear schedule, under which samples sharpened onto modes of width 0.01 far faster than under the
    cosine one: 82% against 10% high-quality samples after 6 epochs) with 50 DDIM steps for tracking."""
    return diffusion.preset("mixture-mlp", epochs=epochs, seed=seed, best_metric="modes_hit", best_mode="max")


def gan_config(epochs: int, seed: int) -> gan.GANTrainConfig:
    """The 2D GAN: the ``mixture-mlp`` preset, best checkpoint by modes hit."""
    return gan.preset("mixture-mlp", epochs=epochs, seed=seed, best_metric="modes_hit", best_mode="max")


def _train_one(model: str, data, out: Path, epochs: int, seed: int, eval_samples: int, device) -> Record:
    manifest = out / "manifest.json"
    if manifest.exists():
        record = load_record(out)
        if record.manifest.get("status") == "finished":
            return record
    resume = (out / "checkpoints" / "last.pt").exists()
    if manifest.exists() and not resume:
        raise ParameterError(f"{out} holds an unfinished run without a checkpoint; delete it and run again")
    tracker = ModeCoverageTracker.for_dataset(data, n_samples=eval_samples, seed=seed + 1, device=device)
    if model == "gan":
        return gan.train_gan(gan_config(epochs, seed), data, out, resume=resume, evaluate=tracker, device=device)
    return diffusion.train_diffusion(ddpm_config(epochs, seed), data, out, resume=resume, evaluate=tracker,
                                     device=device)


def run(cfg: Mapping[str, Any]) -> dict[tuple[str, str, int], Record]:
    """Train every (mixture, model, seed) of ``cfg``; returns their records by that key."""
    import tempfile

    device = pick_device(cfg["device"])
    root = Path(cfg["out_dir"]) if cfg.get("out_dir") else (
        Path(tempfile.mkdtemp(prefix="toy_modes-smoke-")) if cfg["profile"] == "smoke"
        else Path("runs") / cfg["profile"] / NOTEBOOK)
    records = {}
    for mixture in cfg["mixtures"]:
        data = load_dataset(mixture, "train", subset=cfg["n_points"], seed=0)
        for seed in range(cfg["seeds"]):
            for model in MODELS:
                epochs = cfg["gan_epochs"] if model == "gan" else cfg["ddpm_epochs"]
                records[mixture, model, seed] = _train_one(model, data, root / mixture / f"{model}-seed{seed}",
                                                           epochs, seed, cfg["eval_samples"], device)
    return records


def summary_rows(records: Mapping[tuple[str, str, int], Record]) -> list[dict[str, Any]]:
    """One row per run: last-epoch coverage, the best epoch's, and what the collapse rule says."""
    rows = []
    for (mixture, model, seed), rec in records.items():
        last = rec.rows[-1]
        k = len(mixture_centers(mixture))
        verdict = detect_collapse(rec.rows, CollapseRule.for_mixture(num_modes=k, diversity=None, win=None))
        rows.append({"mixture": mixture, "model": model, "seed": seed, "modes": k, "epochs": len(rec.rows),
                     "modes_hit_last": last["modes_hit"], "modes_hit_best": max(r["modes_hit"] for r in rec.rows),
                     "high_quality_last": round(last["high_quality_fraction"], 3),
                     "kl_to_uniform_last": round(last["kl_to_uniform"], 3) if last["kl_to_uniform"] is not None
                     else None,
                     "collapse_rule": str(verdict).split(":")[0],
                     "wall_time_s": rec.manifest["wall_time_s"]})
    return rows


def final_samples(record: Record, n: int = 2500) -> torch.Tensor:
    """``n`` fresh samples of a run's final model (the GAN's last generator, the DDPM's EMA weights)."""
    trained = load_gan(record, checkpoint="last") if record.manifest["kind"] == gan.KIND else load_run(record)
    return trained.sample(n, generator=torch.Generator().manual_seed(0))
