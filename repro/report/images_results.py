"""What the ``images`` page shows, read from the study's records (:func:`repro.report.images.load_study`):
the final Inception results, the quality-against-compute curves, the run, selection, real-baseline and
bf16 tables, and the final models' samples with their nearest training images. The notebook reaches
them through :mod:`repro.report.images`, its experiment module.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import torch

from .. import records
from ..data import load_dataset
from ..records import Record
from ..train import load_diffusion, load_gan
from ..train.compute import training_cpu_s, training_time_s
from .images import KEY, MODELS, Study, tail_fd, tail_k
from .runs import pick_device
from .selection import diverged, grid_label
from .tables import mean_pm, mean_se, pm, sig

__all__ = ["final_results", "bf16_rows", "curves", "machines", "seed_series", "summary_rows", "baseline_rows",
           "still_improving", "stop_words", "runs_rows", "selection_rows", "final_samples", "memorization_rows"]


def _last_fid(rec: Record) -> dict[str, Any] | None:
    """The result of a run's last Inception evaluation (``fid-epochNNNN.json``), if any."""
    files = sorted(rec.path.glob("fid-epoch*.json"))
    return json.loads(files[-1].read_text())["result"] if files else None


def final_results(study: Study, model: str) -> list[dict[str, Any]]:
    """The last Inception evaluation of each of ``model``'s seeds that has one and did not diverge, in
    seed order."""
    found = (_last_fid(rec) for rec in study.kept(model))
    return [r for r in found if r is not None]


def bf16_rows(study: Study) -> list[dict[str, Any]]:
    """Per model: the float32 twin of seed 0 beside the bf16 seeds at the twin's last epoch (classifier
    FD), and whether the twin lies within the bf16 seeds' range widened by their spread."""
    rows = []
    for model, twin in study.fp32.items():
        epoch = len(twin.rows) - 1
        bf16 = [float(rec.rows[epoch][KEY]) for rec in study.kept(model) if len(rec.rows) > epoch]
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
    """One row per (model, seed, epoch): training PFLOP, wall hours and CPU hours so far (``None`` for a
    run with an epoch that did not record its CPU time), the tracked quality, and whether the run
    diverged later (such rows are left out of the seeds' mean curves). A seed stopped because its curve
    flattened is held at its last value out to its budget (rows with ``held`` true, PFLOP only, no
    time): stopping there says more training would not have moved it, so the seeds' mean curves, and
    where two models' curves cross, are read over the whole budget, not cut at the earliest stop."""
    rows = []
    for (model, seed), rec in study.runs.items():
        flops, batch, hours, cpu = study.flops[model], rec.params["batch_size"], 0.0, 0.0
        timed, lost = training_cpu_s(rec.rows) is not None, diverged(rec)
        for r in rec.rows:
            hours += float(r.get("epoch_time_s") or 0.0) / 3600
            cpu += float(r.get("epoch_cpu_s") or 0.0) / 3600
            rows.append({"model": model, "seed": seed, "epoch": r["epoch"], "pflop": r["step"] * batch * flops / 1e15,
                         "train_hours": hours, "cpu_hours": cpu if timed else None, KEY: r.get(KEY),
                         "classes_hit": r.get("classes_hit"), "diverged": lost, "held": False})
        stop = study.stops.get((model, seed), {})
        if rec.rows and str(stop.get("reason", "")).startswith("flattened"):
            last, per_epoch = rec.rows[-1], rec.rows[-1]["step"] / len(rec.rows)
            for epoch in range(len(rec.rows), int(stop["max_epochs"])):
                rows.append({"model": model, "seed": seed, "epoch": epoch,
                             "pflop": (epoch + 1) * per_epoch * batch * flops / 1e15, "train_hours": None,
                             "cpu_hours": None, KEY: last.get(KEY), "classes_hit": last.get("classes_hit"),
                             "diverged": False, "held": True})
    return rows


def time_axis(study: Study) -> tuple[str, str]:
    """The column of :func:`curves` that times training, and its axis label: CPU hours when every seed
    trained on a CPU with one thread, at its start and at every resume, and timed every epoch's CPU use
    (waiting for a core and pauses stretch wall time, not CPU time), else wall hours."""
    runs = list(study.runs.values())

    def one_cpu_thread(rec: Record) -> bool:
        first, resumes = rec.manifest.get("hardware", {}), [r.get("hardware", {}) for r in rec.manifest.get("resumed_on", [])]
        return (first.get("device") == "cpu" and first.get("torch_threads") == 1
                and all(h.get("torch_threads") == 1 and not h.get("gpu") for h in resumes))

    one_thread = all(one_cpu_thread(r) for r in runs)
    if runs and one_thread and all(training_cpu_s(r.rows) is not None for r in runs):
        return "cpu_hours", "training CPU hours (one thread)"
    return "train_hours", "training wall hours"


def machines(study: Study) -> list[str]:
    """The machines the seed runs trained on (GPU name or CPU model, from each manifest and each resume):
    the training-time axis compares wall times only when this is one machine."""
    return records.machines(study.runs.values())


def seed_series(rows: list[dict[str, Any]], model: str, x: str) -> dict[int, tuple[list[float], list[Any]]]:
    """``model``'s rows of :func:`curves` as ``{seed: (x values, fd_classifier values)}`` for
    :func:`repro.plotting.plot_seed_band`, with each epoch's x the seeds' mean there: the seeds share
    their compute per epoch, but their wall times differ a little, and the band matches points by x.
    Seeds that diverged are left out (the run table lists them), and so are the held rows of a seed
    that flattened (:func:`curves`) on a time axis, where they have no time."""
    mine = [r for r in rows if r["model"] == model and not r.get("diverged") and r.get(x) is not None]
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
    mean ± standard deviation over the seeds that did not diverge (Inception FID with its N; ``seeds``,
    compute, time and epochs count those, and ``stopped`` the ones left out); ``training_s`` and
    ``training_cpu_s`` are the seeds' mean training wall and CPU time in seconds (numbers, for the
    notebook to print apart from the table; CPU time ``None`` when a seed did not record it, both
    ``None`` when every seed diverged)."""
    rows = []
    for model in MODELS:
        keys = sorted(s for m, s in study.runs if m == model)
        if not keys:
            continue
        kept = study.kept(model)
        stops = [study.stops[model, s] for s in keys]
        reasons = sorted({s["reason"].split(":")[0] + (", still improving" if still_improving(s) else "")
                          for s in stops} - {"diverged"})
        lost = len(keys) - len(kept)
        stops = study.kept_stops(model)
        fids, recs = final_results(study, model), kept
        if not recs:  # every seed diverged: nothing to summarise but that
            rows.append({"model": model.upper(), "lr": study.chosen[model], "seeds": 0,
                         "GFLOP per example": sig(study.flops[model] / 1e9), "training PFLOP": "—", "training_s": None,
                         "training_cpu_s": None, "epochs": "—", "stopped": f"{lost} diverged", "FD (classifier)": "—",
                         "FID": "—"})
            continue
        rows.append({
            "model": model.upper(), "lr": study.chosen[model], "seeds": len(kept),
            "GFLOP per example": sig(study.flops[model] / 1e9),
            "training PFLOP": mean_pm([s["training_flops"] / 1e15 for s in stops], "sd"),
            "training_s": sum(training_time_s(rec.rows) for rec in recs) / len(recs),
            "training_cpu_s": None if None in (cpu := [training_cpu_s(rec.rows) for rec in recs]) else sum(cpu) / len(cpu),
            "epochs": ", ".join(str(len(rec.rows)) for rec in recs),
            "stopped": "; ".join(reasons + ([f"{lost} diverged, left out"] if lost else [])),
            "FD (classifier)": mean_pm([float(rec.rows[-1][KEY]) for rec in kept], "sd"),
            "FID": mean_pm([f.get("fid") for f in fids], "sd") + (f" (N = {fids[0].get('n', '?')})" if fids else ""),
        })
    return rows


def baseline_rows(study: Study) -> list[dict[str, Any]]:
    """Real test images scored like the models, against the same reference at the same N: the floor."""
    b = study.baseline
    if b is None:
        return []
    return [{"samples": "real images, test split", "N": b["n"],
             "reference": b["reference"], "FD (classifier)": f"{sig(b['fd_classifier'])}{_interval(b, 'fd_classifier')}",
             "FID": f"{sig(b['fid'])}{_interval(b, 'fid')}", "KID x 1000": _kid(b),
             "precision": sig(b['precision']), "recall": sig(b['recall'])}]


def _kid(result: Mapping[str, Any] | None) -> str:
    """KID x 1000 with the spread over its subsets and their size: "2.1 ± 0.3 (subsets of 500)"."""
    if result is None or result.get("kid_mean") is None:
        return "—"
    return f"{pm(result['kid_mean'] * 1e3, result['kid_std'] * 1e3)} (subsets of {result['kid_subset_size']:,})"


def _interval(result: Mapping[str, Any], key: str) -> str:
    """A distance's recorded interval, " [lo, hi]", its lower end cut at 0 (a normal bootstrap interval of
    a distance near 0 can reach below it; the distance cannot)."""
    lo_hi = result.get(f"{key}_interval")
    return f" [{sig(max(lo_hi[0], 0.0))}, {sig(lo_hi[1])}]" if lo_hi else ""


def still_improving(stop: Mapping[str, Any]) -> bool:
    """Whether a seed stopped by its budget was still improving: its last window of epochs beat the window
    before by at least the flatness rule's share (``stop.json``'s ``last_window_gain``, ``min_improvement``)."""
    gain, share = stop.get("last_window_gain"), stop.get("min_improvement")
    return stop.get("reason") == "budget spent" and gain is not None and share is not None and gain >= share


def stop_words(stop: Mapping[str, Any]) -> str:
    """Why a seed stopped, in a few words: "flattened", "diverged", "budget spent", and for a seed the
    budget stopped while it still improved, by how much ("budget spent, still improving: the last 3
    epochs' mean FD 8% below the 3 before")."""
    words = str(stop.get("reason", "")).split(":")[0]
    if still_improving(stop):
        w = stop["window"]
        words += (f", still improving: the last {w} epoch{'s' * (w != 1)}' mean FD {stop['last_window_gain']:.0%} "
                  f"below the {w} before")
    return words


def runs_rows(study: Study) -> list[dict[str, Any]]:
    """Every seed's run: epochs, compute, why it stopped, and its last FID and classifier FD with their
    bootstrap intervals and N (the per-epoch track's FD, with its N, when no evaluation was made), and
    its KID with the spread over subsets smaller than N."""
    rows = []
    for (model, seed), rec in study.runs.items():
        fid = None if diverged(rec) else _last_fid(rec)
        stop = study.stops[model, seed]
        if not rec.rows:  # diverged in its first epoch
            rows.append({"model": model.upper(), "seed": seed, "epochs": 0, "training PFLOP": "0",
                         "stopped": stop["reason"].split(":")[0], "FD (classifier)": "—", "FID": "—", "KID x 1000": "—"})
            continue
        rows.append({"model": model.upper(), "seed": seed, "epochs": len(rec.rows),
                     "training PFLOP": sig(stop['training_flops'] / 1e15), "stopped": stop_words(stop),
                     "FD (classifier)": (f"{sig(float(rec.rows[-1][KEY]))} (N = {int(rec.rows[-1]['n_eval']):,})"
                                         if fid is None or fid.get(KEY) is None else
                                         f"{sig(fid[KEY])}{_interval(fid, KEY)} (N = {fid['n']})"),
                     "FID": "—" if fid is None else f"{sig(fid['fid'])}{_interval(fid, 'fid')} (N = {fid['n']})",
                     "KID x 1000": _kid(fid)})
    return rows


def selection_rows(study: Study, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The learning-rate grid of each model on seed 0: what the selection rule compared (the FD at the end
    of each run, averaged over its last evaluations, :func:`repro.report.images.tail_k`), and whether the
    rate was in the given grid (``cfg``'s) or added past an edge that won; with the share of the budget
    each run trained (whole epochs, so it differs from ``select_fraction`` for a model with few epochs in
    its budget)."""
    def share(model: str, rec: Record) -> str:
        step = rec.rows[-1]["step"] if rec.rows else 0
        return f"{step * rec.params['batch_size'] * study.flops[model] / (cfg['budget_pflop'] * 1e15):.0%}"

    return [{"model": model.upper(), "lr": lr, "epochs": len(rec.rows), "share of the budget": share(model, rec),
             "FD at the end": "diverged" if diverged(rec) else round(tail_fd(rec.rows), 3),
             "evaluations averaged": "—" if diverged(rec) else tail_k(len(rec.rows)),
             "in the grid": grid_label(lr, cfg[f"{model}_lrs"]),
             "chosen": "yes" if study.chosen.get(model) == lr else ""}
            for (model, lr), rec in sorted(study.selection.items(), key=lambda kv: (MODELS.index(kv[0][0]), kv[0][1]))]


def final_samples(study: Study, model: str, n: int, cfg: Mapping[str, Any], seed: int | None = None):
    """``n`` samples (images in [-1, 1], CPU) of seed ``seed``'s final model (default: the first seed that
    did not diverge, :meth:`Study.kept`): the DCGAN's last generator, the DDPM's EMA weights with the
    tracking sampler (DDIM, ``ddpm_track_steps`` steps); a fixed noise stream."""
    device = pick_device(cfg["device"])
    rec = study.kept(model)[0] if seed is None else study.runs[model, seed]
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
