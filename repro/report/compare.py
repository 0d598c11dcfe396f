"""The ``compare`` notebook: our measurements beside the seed report's Table 1 and published anchors.

Every row says where its numbers come from: a run of this repository (the path of its record, whose
manifest gives commit, parameters, data, hardware and wall time) or a paper (with its table), and
the protocol behind them (data, number of samples, reference split, feature extractor).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..records import load_record
from .evaluation import EVALUATION, read_evaluation
from .params import Rule, setup_for
from .sample_ddim import SAMPLER_NAMES
from .tables import MISSING, Table, mean_pm, mean_se, pm, printed, rate, sig, with_n

__all__ = ["NOTEBOOK", "RULES", "ANCHORS", "DDIM_STEPS", "SAMPLER_NAMES", "setup", "our_rows", "study_rows", "summary_rows", "summary_table",
           "ddim_steps_table", "sampling_rows", "sweep_table", "toy_rows"]

NOTEBOOK = "compare"
RULES = {"runs_dir": Rule(str, optional=True, exists=True,
                         help="run the other notebooks first (python -m repro.report run --profile cpu --out DIR) "
                              "and pass DIR/runs")}

_SEED = "seed report, Table 1"
# "source": where in the paper ("cite": its key in references.bib); "n": the samples behind the FID, where stated
ANCHORS: list[dict[str, Any]] = [
    {"model": "DCGAN", "data": "CIFAR-10 (as reported)", "FID": 20.0, "IS": 2.50, "precision": 0.64, "recall": 0.60,
     "protocol": "protocol not stated", "source": _SEED, "cite": "zena_superiority"},
    {"model": "diffusion", "data": "CIFAR-10 (as reported)", "FID": 30.0, "IS": 1.75, "precision": 0.78,
     "recall": 0.56, "protocol": "protocol not stated", "source": _SEED, "cite": "zena_superiority"},
    {"model": "DDPM (L_simple, 1000 steps)", "data": "CIFAR-10", "FID": 3.17, "IS": 9.46, "n": 50_000,
     "protocol": "50k samples vs training set, TF Inception", "source": "Table 1",
     "cite": "ho2020ddpm"},
    {"model": "DCGAN", "data": "CIFAR-10", "FID": 37.0,
     "protocol": "TF Inception; the paper trains its DCGANs with the original rule and with TTUR (lr_D ≠ lr_G); "
                 "figure rounded to the nearest integer", "source": "TTUR",
     "cite": "heusel2017fid"},
]
# Song et al. 2021, Table 1, CIFAR-10 FID of a DDPM-trained model sampled with S steps
DDIM_STEPS: dict[str, dict[int, float]] = {
    "DDIM η = 0": {10: 13.36, 20: 6.84, 50: 4.67, 100: 4.16, 1000: 4.04},
    "DDIM η = 1": {10: 41.07, 20: 18.36, 50: 8.01, 100: 5.78, 1000: 4.73},
}


setup = setup_for(NOTEBOOK, RULES)  # experiment.setup(globals()) in the notebook; runs_dir must exist


def _training_data(data: dict[str, Any]) -> str:
    return f"{data['label']}, {data['n']:,} training images" if data.get("n") else data["label"]


def _short_extractor(extractor: str) -> str:
    return re.sub(r" \(offline [^)]*\)", "", extractor)


def our_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """One row per evaluated model of ``runs_dir`` (``train_gan``, ``train_ddpm``), with its protocol."""
    rows: list[dict[str, Any]] = []
    if runs_dir is None:
        return rows
    for name, model in (("train_gan", "DCGAN (ours)"), ("train_ddpm", "DDPM, hybrid loss (ours)")):
        run = Path(runs_dir) / name
        ev = read_evaluation(run)
        if ev is None:
            continue
        r, p = ev["result"], ev["params"]
        rec = load_record(run)
        sampler = f", DDIM {p['steps']} steps" if "steps" in p else ""
        if "steps" in p and "eta" in p:
            sampler += f", η = {p['eta']:g}"
        device = rec.manifest.get("hardware", {}).get("gpu") or "CPU"
        rows.append({
            "model": model + sampler, "data": _training_data(rec.manifest["data"]), "FID": r.get("fid"), "n": r["n"],
            "classifier score": r.get("classifier_score"), "precision": r.get("precision"), "recall": r.get("recall"),
            "density": r.get("density"), "coverage": r.get("coverage"), "classes hit": r.get("classes_hit"),
            "protocol": f"{r['n']:,} samples vs {r['n_reference']:,} real images ({r['reference']}); "
                        f"features: {_short_extractor(str(r.get('extractor')))}",
            "source": f"our run: {run.name}/{EVALUATION} ({device}"
                      + (f", profile {p['profile']})" if "profile" in p else ")"),
            "record": str(run / EVALUATION), "record_label": f"{run.name} ({device})",
        })
    return rows


def study_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """The ``images`` study of ``runs_dir``: per model, its seeds' last Inception evaluations as the mean
    over seeds (``FID_over_seeds``: mean, standard error and count), and real test images scored
    the same way at the same N, the floor."""
    from .images import load_study
    from .images_results import final_results

    study = load_study(Path(runs_dir) / "images") if runs_dir is not None else None
    if study is None:
        return []
    rows = []
    for model, label in (("gan", "DCGAN"), ("ddpm", "DDPM, hybrid loss")):
        finals = final_results(study, model)
        if not finals:
            continue
        first = study.seed_runs(model)[0]
        sampler = f", DDIM {first.params['track_steps']} steps, η = 0" if model == "ddpm" else ""
        mean = {k: mean_se([r.get(k) for r in finals])[0] for k in ("fid", "precision", "recall", "density",
                                                                    "coverage", "classifier_score", "classes_hit")}
        r = finals[0]
        rows.append({
            "model": f"{label} (ours, matched compute{sampler})", "data": _training_data(first.manifest["data"]),
            "FID": mean["fid"], "FID_over_seeds": mean_se([f["fid"] for f in finals]), "n": r["n"],
            "classifier score": mean["classifier_score"], "classes hit": mean["classes_hit"],
            "precision": mean["precision"], "recall": mean["recall"], "density": mean["density"],
            "coverage": mean["coverage"],
            "protocol": f"mean over {len(finals)} seeds of the last evaluation; {r['n']:,} samples vs "
                        f"{r['n_reference']:,} real images ({r['reference']}); features: "
                        f"{_short_extractor(str(r.get('extractor')))}",
            "record": str(first.path / "manifest.json"), "record_label": f"images/{model}/{first.path.name}",
            "record_name": "manifest.json"})
    b = study.baseline
    if b is not None:
        label = next(iter(study.runs.values())).manifest.get("data", {}).get("label", MISSING)
        rows.append({"model": "Real images (the floor at this N)", "data": f"{label}, test split", "FID": b["fid"],
                     "n": b["n"], "precision": b.get("precision"), "recall": b.get("recall"),
                     "density": b.get("density"), "coverage": b.get("coverage"),
                     "protocol": f"{b['n']:,} test images vs {b['n_reference']:,} training images ({b['reference']})",
                     "record": str(Path(runs_dir) / "images" / "real-baseline.json"), "record_label": "images",
                     "record_name": "real-baseline.json"})
    return rows


def _pair(a: Any, b: Any) -> str:
    """Two fractions of N samples to two decimals ("0.41 / 0.47"): at N <= 1,000 their sampling error
    is about 0.01-0.02, so a third decimal would be noise."""
    if a is None and b is None:
        return MISSING
    return " / ".join(MISSING if x is None else f"{x:.2f}" for x in (a, b))


def _fid(fid: float | None, n: int | None, spread: tuple[float, float, int] | None = None) -> str:
    """FID with its N, kept on one line ("50.8 (N = 1,000)" with no-break spaces); over seeds, with
    their standard deviation and count ("50.8 ± 2.1 (N = 1,000, 3 seeds)")."""
    if fid is None:
        return MISSING
    text = with_n(fid, n) if n else f"{sig(fid)} (N not stated)"
    if spread is not None and spread[2] > 1:
        mean, se, k = spread
        text = f"{pm(mean, se * k ** 0.5)} (N = {sig(n)}, {k} seeds)"
    return text.replace(" = ", "\u00a0=\u00a0").replace("(N ", "(N\u00a0")


def summary_rows(runs_dir: str | Path | None) -> list[dict[str, str]]:
    """The summary table for a reader: one row per model, every cell a display string.

    FID carries its N ("50.8 (N = 1,000)", or "N not stated"); FIDs at different N do not compare
    (FID is biased upwards at small N). Precision / recall and density / coverage come from the same
    samples as the FID. Inception Scores (papers) and our classifier score (the same formula on our own
    classifier, not the Inception Score) share a column, each named in its cell. The last column names
    the source (a paper's table, or our run's record, linked) and the protocol.
    """
    rows = []
    for a in ANCHORS + our_rows(runs_dir) + study_rows(runs_dir):
        if a.get("IS") is not None:
            score = f"IS {sig(a['IS'])}"
        elif a.get("classifier score") is not None:
            score = f"classifier score {sig(a['classifier score'])}"
            if a.get("classes hit") is not None:
                score += f"; {sig(a['classes hit'])} classes hit"
        else:
            score = MISSING
        source = a.get("source", "")
        if "record" in a:
            source = f"our run {a['record_label']}, [{a.get('record_name', EVALUATION)}]({a['record']})"
        elif "cite" in a:  # authors and year come from the bibliography
            source = f"{source} {{cite:p}}`{a['cite']}`"
        rows.append({"model": a["model"], "data": a["data"], "FID": _fid(a.get("FID"), a.get("n"), a.get("FID_over_seeds")),
                     "precision / recall": _pair(a.get("precision"), a.get("recall")),
                     "density / coverage": _pair(a.get("density"), a.get("coverage")),
                     "IS or classifier score": score,
                     "source and protocol": f"{source}; {a['protocol']}"})
    return rows


def summary_table(runs_dir: str | Path | None) -> Table:
    """:func:`summary_rows` as a table the notebook displays (Markdown, so the record links work in the book)."""
    return Table(summary_rows(runs_dir), caption=(
        "Our runs beside the seed report's Table 1 and published anchors: each row names its data, the samples "
        "behind its FID (N), its reference set and feature extractor, and where it comes from (a run record, "
        "linked, or a paper's table)"), name="summary")


def sampling_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """The ``sample_ddim`` sweep of ``runs_dir`` (empty when absent)."""
    if runs_dir is None or not (Path(runs_dir) / "sample_ddim" / "manifest.json").exists():
        return []
    return load_record(Path(runs_dir) / "sample_ddim").rows


def ddim_steps_table() -> Table:
    """:data:`DDIM_STEPS` as printed by Song et al. (2021, Table 1): one row per sampler, one column per S."""
    steps = sorted({s for row in DDIM_STEPS.values() for s in row})
    return Table(caption="{cite:t}`song2021ddim`, Table 1: CIFAR-10 FID of one DDPM-trained model sampled with S steps "
                         "(50,000 samples, Inception), as printed", name="ddim-steps",
                 rows=[{"CIFAR-10 FID, 50k samples": name, **{f"S = {s}": printed(row.get(s)) for s in steps}}
                  for name, row in DDIM_STEPS.items()])


def sweep_table(runs_dir: str | Path | None) -> Table:
    """The ``sample_ddim`` sweep for a reader: one row per sampler, its classifier-feature Fréchet distance
    (not FID) at each number of network evaluations K, with the sweep's N in the first header."""
    rows = sampling_rows(runs_dir)
    if not rows:
        return Table([], empty="No `sample_ddim` run in this results folder.")
    n = load_record(Path(runs_dir) / "sample_ddim").manifest.get("params", {}).get("n_samples")
    fd = {(r["sampler"], r["nfe"]): r["fd_classifier"] for r in rows}
    nfes = sorted({r["nfe"] for r in rows})
    first = f"classifier FD, N = {n:,}" if n else "classifier FD"
    record = Path(runs_dir) / "sample_ddim" / "manifest.json"
    return Table([{first: SAMPLER_NAMES.get(s, s), **{f"K = {k}": sig(fd.get((s, k))) for k in nfes}}
                  for s in dict.fromkeys(r["sampler"] for r in rows)],
                 caption=f"Our sampling sweep: classifier-space Fréchet distance (not FID) of each sampler at K network "
                         f"evaluations per image{f', N = {n:,} samples' if n else ''}. Run record: [{record}]({record})",
                 name="sweep")


def toy_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """Mode coverage of the ``toy_modes`` study's full-length seeds in ``runs_dir``, one row per
    (mixture, model, learning rate): seeds, and the last epoch's modes hit and high-quality fraction as
    mean ± standard error over them (selection runs are not seeds and are left out)."""
    root = Path(runs_dir) / "toy_modes" if runs_dir is not None else None
    if root is None or not root.is_dir():
        return []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for manifest in sorted(root.glob("*/*-seed*/manifest.json")):
        rec = load_record(manifest.parent)
        if rec.rows and rec.manifest.get("status") == "finished":
            name = manifest.parent.name.rsplit("-seed", 1)[0]
            model, _, lr = name.partition("-lr")
            groups.setdefault((manifest.parent.parent.name, model, lr), []).append(rec.rows[-1])
    return [{"mixture": mixture, "model": model.upper(), "lr": rate(float(lr)) if lr else MISSING, "seeds": len(last),
             "modes hit (>= 20 of 2,500)": mean_pm([r["modes_hit"] for r in last]),
             "high-quality fraction": mean_pm([r["high_quality_fraction"] for r in last])}
            for (mixture, model, lr), last in groups.items()]
