"""The claims table's first row: do diffusion models cover the modes better than GANs?

Read from the 2D study's records (``results/runs/toy_modes``: modes hit at the last epoch, as in PacGAN's
table) and, once it has stopped seeds, the ``images`` study's Inception recall and coverage; until then the
verdict is provisional and the CPU previews' image numbers are quoted for what they are.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..records import Record
from ..train.compute import record_flops_per_example, run_training_flops
from .evaluation import read_evaluation
from .evidence import evidence
from .runs import finished_run
from .tables import mean_se, rate, sig
from .toy_modes import PACGAN_LR, PACGAN_TABLE1, chosen_runs, pacgan_dir, trend_cell
from .verdicts import CONFIDENCE, Finding, Stat, compare_means, fmt_stat, lean, verdict

__all__ = ["MIN_SEEDS", "MIN_IMAGE_SEEDS", "mode_coverage", "final_2d_runs", "images_study", "image_seeds", "compute_2d",
           "modes_2d"]

MIN_SEEDS = 5    # seeds per model the 2D protocol asks for
MIN_IMAGE_SEEDS = 2  # seeds per model before an image comparison has a spread


def _papers(stat: Stat) -> str:
    """The count by the papers' rule in brackets, where the records have it."""
    return f" [{fmt_stat(stat, n=False)}]" if math.isfinite(stat[0]) else ""


def final_2d_runs(results: Path, mixture: str, model: str) -> list[Record]:
    """The finished full-length 2D seeds at the rate the selection records choose (seeds at any other
    rate, left from an earlier selection, are not read)."""
    return chosen_runs(results / "runs" / "toy_modes" / mixture, model)[1]


def images_study(results: Path):
    """The ``images`` study as its records stand, when both models have a seed that stopped; else ``None``."""
    from .images import load_study

    study = load_study(results / "runs" / "images")
    return study if study is not None and {m for m, _ in study.runs} == {"gan", "ddpm"} else None


def image_seeds(study) -> dict[str, int]:
    """The seeds each model's image results are read from (those that did not diverge)."""
    return {model: len(study.kept(model)) for model in ("gan", "ddpm")}


def compute_2d(results: Path) -> dict[str, tuple[float, int]]:
    """``{model: (PFLOP, epochs)}``: the training compute of one full-length 2D run of each model (the
    models train equal epochs, not equal FLOPs); empty until both have a finished seed."""
    spent = {}
    for model in ("gan", "ddpm"):
        runs = next((r for mixture in PACGAN_TABLE1 if (r := final_2d_runs(results, mixture, model))), [])
        if not runs:
            return {}
        spent[model] = (run_training_flops(runs[0], record_flops_per_example(runs[0])) / 1e15, len(runs[0].rows))
    return spent


def modes_2d(results: Path) -> dict[str, tuple[Stat, Stat]]:
    """``{mixture: (DDPM, GAN)}``: modes hit (>= 20 of 2,500) at the last epoch, mean, standard error and
    count over the finished seeds, for each mixture where both models have them."""
    out = {}
    for mixture in PACGAN_TABLE1:
        runs = {m: final_2d_runs(results, mixture, m) for m in ("ddpm", "gan")}
        if runs["gan"] and runs["ddpm"]:
            out[mixture] = tuple(mean_se([_last(r, "modes_hit") for r in runs[m]]) for m in ("ddpm", "gan"))
    return out


def _compute_2d(results: Path) -> str:
    """:func:`compute_2d` as a clause for the coverage evidence."""
    spent = compute_2d(results)
    if not spent:
        return ""
    return (f". Training compute of one full-length run (counted FLOPs): GAN {spent['gan'][0]:.3g} PFLOP in "
            f"{spent['gan'][1]} epochs, DDPM {spent['ddpm'][0]:.3g} PFLOP in {spent['ddpm'][1]} epochs")


def _last(rec: Record, key: str) -> float:
    value = rec.rows[-1].get(key)
    return float(value) if value is not None else math.nan


def _at_pacgan_rate(results: Path) -> str:
    """What our GAN reaches at PacGAN's own learning rate and length (seed 0), by the papers' rule, as a
    clause for the coverage evidence: the row that sets our GAN beside the published one; empty until
    one of those runs has finished."""
    parts, epochs = [], set()
    for mixture in PACGAN_TABLE1:
        rec = finished_run(pacgan_dir(results / "runs" / "toy_modes", mixture), 0)
        if rec is None:
            continue
        epochs.add(len(rec.rows))
        parts.append(f"{mixture} {_last(rec, 'modes_hit_any'):.0f} modes and "
                     f"{100 * _last(rec, 'high_quality_fraction'):.1f}% high-quality samples")
    if not parts:
        return ""
    return (f". At PacGAN's own learning rate and length (lr {rate(PACGAN_LR)}, "
            f"{'/'.join(map(str, sorted(epochs)))} epochs, seed 0) our GAN reaches, by the papers' rule, "
            + "; ".join(parts))


def _beyond_modes(mixture: str, runs: dict[str, list[Record]]) -> str:
    """How the two models compare on the 2D measures beside modes hit, at the last epoch: the share of
    high-quality samples (higher is better) and reverse KL to the uniform mode weights (lower is better)."""
    parts = []
    for key, name, sign in (("high_quality_fraction", "high-quality share", 1), ("kl_to_uniform", "reverse KL", -1)):
        d, g = (mean_se([sign * _last(r, key) for r in runs[m]]) for m in ("ddpm", "gan"))
        if math.isfinite(d[0]) and math.isfinite(g[0]):
            parts.append(f"{lean(d, g)} on {name}")
    return f"{mixture}: {', '.join(parts)}" if parts else ""


def _still_improving(mixture: str, runs: dict[str, list[Record]]) -> str:
    """The seeds whose coverage was still rising when their fixed length stopped them (:func:`trend_cell`)."""
    parts = []
    for model in ("gan", "ddpm"):
        rising = sum("improving" in trend_cell(r.rows) for r in runs[model])
        if rising:
            parts.append(f"{rising} of {len(runs[model])} {mixture} {model.upper()} seeds")
    return ", ".join(parts)


def _image_previews(results: Path) -> str:
    """Recall and coverage of the two CPU-preview models (unequal budgets, one seed each), while the
    matched-compute study has not reported: the image evidence there is, named for what it is."""
    g, d = (read_evaluation(results / "runs" / name) for name in ("train_gan", "train_ddpm"))
    if g is None or d is None:
        return ""
    sampler = (f"; the DDPM's samples by DDIM, {d['params']['steps']} steps, η = {d['params']['eta']:g}"
               if {"steps", "eta"} <= set(d.get("params", {})) else "")
    g, d = g["result"], d["result"]
    return (f". Images: the matched-compute study has not reported; the two CPU previews (unequal budgets, one seed "
            f"each, Inception features, N = {g['n']:,} and {d['n']:,}{sampler}) give recall DCGAN {sig(g['recall'], 2)}, DDPM "
            f"{sig(d['recall'], 2)} and coverage DCGAN {sig(g['coverage'], 2)}, DDPM {sig(d['coverage'], 2)}")


def _seed_counts(seeds: list[int]) -> str:
    low, high = min(seeds, default=0), max(seeds, default=0)
    return f"{low} seeds" if low == high else f"{low}–{high} seeds"


def mode_coverage(results: Path) -> Finding:
    """Modes hit (>= 20 of 2,500 samples) at the last epoch of the 2D study's seeds, as in PacGAN's table
    and the toy_modes page, and, once the ``images`` study has stopped seeds, their final Inception recall
    and coverage; until then the verdict is provisional and the CPU previews' image numbers are quoted."""
    from .images_results import final_results

    parts, comparisons, seeds, beside, rising = [], [], [], [], []
    for mixture in PACGAN_TABLE1:
        runs = {m: final_2d_runs(results, mixture, m) for m in ("gan", "ddpm")}
        if not runs["gan"] or not runs["ddpm"]:
            parts.append(f"{mixture}: GAN {len(runs['gan'])}, DDPM {len(runs['ddpm'])} seeds finished")
            continue
        g, d = (mean_se([_last(r, "modes_hit") for r in runs[m]]) for m in ("gan", "ddpm"))
        g_any, d_any = (mean_se([_last(r, "modes_hit_any") for r in runs[m]]) for m in ("gan", "ddpm"))
        seeds += [g[2], d[2]]
        comparisons.append((mixture, d, g))
        parts.append(f"{mixture}: GAN {fmt_stat(g)}{_papers(g_any)}, DDPM {fmt_stat(d)}{_papers(d_any)}")
        beside.append(_beyond_modes(mixture, runs))
        rising.append(_still_improving(mixture, runs))
    ours = ("2D mixtures with PacGAN's data, networks and scoring, each model at the learning rate our selection "
            "chose (not PacGAN's) for the same epochs; modes hit by our rule (>= 20 of 2,500 samples; the verdict's) and, "
            "in brackets, by the papers' (>= 1), at the last epoch, mean ± standard error over seeds: "
            + "; ".join(parts) + _compute_2d(results) + _at_pacgan_rate(results))
    where = evidence("toy_modes", "pacgan", *(f"curves-{mixture}" for mixture, _, _ in comparisons))
    short = bool(seeds) and min(seeds) < MIN_SEEDS or len(comparisons) < len(PACGAN_TABLE1)
    sure = f"{_seed_counts(seeds)} per model of the {MIN_SEEDS} planned"
    study = images_study(results)
    finals = {m: final_results(study, m) for m in ("gan", "ddpm")} if study is not None else {}
    if finals.get("gan") and finals.get("ddpm"):
        label = study.seed_runs("gan")[0].manifest.get("data", {}).get("label", "images")
        image_parts = []
        for key in ("recall", "coverage"):
            g, d = (mean_se([r[key] for r in finals[m]]) for m in ("gan", "ddpm"))
            comparisons.append((f"image {key}", d, g))
            image_parts.append(f"{key} GAN {fmt_stat(g)}, DDPM {fmt_stat(d)}")
        n = finals["gan"][0].get("n")
        ours += (f". {label}, the matched-compute study's final models, Inception features, N = {n:,} per seed: "
                 + "; ".join(image_parts))
        short = short or min(len(v) for v in finals.values()) < MIN_IMAGE_SEEDS
        sure += f"; {len(finals['gan'])} and {len(finals['ddpm'])} image seeds (DCGAN, DDPM)"
        where += "; " + evidence("images", "summary", "runs")
    elif comparisons:
        ours += _image_previews(results)
        short = True
        sure += "; 2D only: the image half of the rule (matched-compute recall and coverage) has not run"
    if not comparisons:
        return Finding(ours, "not yet tested", "—", where)
    separated = sum(compare_means(d, g) in "ab" for _, d, g in comparisons)
    sure += (f"; separated at {CONFIDENCE:.0%} (Welch's t on the seed means) on {separated} of {len(comparisons)} "
             "comparisons")
    if any(beside):
        sure += "; beside modes hit: " + "; ".join(filter(None, beside))
    if any(rising):
        sure += "; still improving when their fixed length stopped them (a lower bound): " + ", ".join(filter(None, rising))
    return Finding(ours, verdict(comparisons, short), sure, where)
