"""The claims table at the top of the book: each claim of the seed documents, the seed's evidence, ours
(read from the run records under ``results/runs``), the literature's, and a verdict with how sure it is.

Nothing in the "ours" and "verdict" columns is typed by hand: each claim has a function that reads
the records and returns a :class:`~repro.report.verdicts.Finding`, its verdict by the rule of
:mod:`repro.report.verdicts`. The first claim's, mode coverage, is :mod:`repro.report.coverage_claim`.

The table is written by ``python -m repro.report summary`` to ``results/claims.md``, which the
book's introduction includes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..records import Record, load_record
from ..train.compute import training_cpu_s, training_time_s
from .collapse_study import NOTEBOOK as COLLAPSE_NOTEBOOK, SEED_SCALE, scale_difference
from .compare import ANCHORS
from .evidence import evidence
from .guidance_claim import guidance_tradeoff
from .runs import pages_of
from .coverage_claim import (MIN_IMAGE_SEEDS, MIN_SEEDS, compute_2d, final_2d_runs, image_seeds, images_study,
                             mode_coverage, modes_2d)
from .sample_ddim import SAMPLER_NAMES
from .tables import mean_se, round_sig, sig, to_markdown, with_caption
from .toy_modes import PACGAN_TABLE1, collapse_report
from .verdicts import CONFIDENCE, TIME_MARGIN, VERDICTS, Finding, compare_means, fmt_stat, lean, welch_multiple

__all__ = ["Finding", "Claim", "CLAIMS", "VERDICTS", "CONFIDENCE", "MIN_SEEDS", "compare_means", "welch_multiple",
           "mode_coverage", "gan_collapse", "sampling_speed", "training_compute", "guidance_tradeoff", "seed_table1",
           "claims_rows", "claims_markdown"]

SEED_RATIO = 4.0  # the seed report's lr_D / lr_G
SEED_EPOCH = 50   # the seed's samples degrade "after epoch 50"
MIN_EPOCHS = 60   # past it

# Published CIFAR-10 figures for the plausibility note on the seed's Table 1.
IS_REAL_CIFAR10 = (11.24, "real data, {cite:t}`salimans2016improved`, Table 2", "salimans2016improved")
IS_FID_SNGAN = (8.22, 21.7, "SNGAN as listed by {cite:t}`ho2020ddpm`, Table 1", "ho2020ddpm")
_DDPM = next(row for row in ANCHORS if row["cite"] == "ho2020ddpm")
_SEED = {row["model"]: row for row in ANCHORS if row["cite"] == "zena_superiority"}


@dataclass(frozen=True)
class Claim:
    claim: str
    seed: str
    literature: str
    assess: Callable[[Path], Finding]


def _collapse_study(folder: Path) -> dict[tuple[float, int], Record]:
    """The finished runs of one collapse study's folder, by (lr_D / lr_G, seed)."""
    study = {}
    for path in sorted(folder.glob("ratio*-seed*")):
        if (path / "manifest.json").exists():
            rec = load_record(path)
            if rec.manifest.get("status") == "finished":
                study[rec.params["lr_D"] / rec.params["lr_G"], rec.params["seed"]] = rec
    return study


def _collapse_studies(results: Path) -> dict[str, dict[tuple[float, int], Record]]:
    """Every collapse study with finished runs: the ``collapse`` notebook's pages by ``timings.json``, its
    own and any second study of it (``python -m repro.report run collapse --as collapse-<data>``), nearest
    the seed's run first (its data, then its size and width), then by page name."""
    studies = {page: s for page in pages_of(results, COLLAPSE_NOTEBOOK) if (s := _collapse_study(results / "runs" / page))}

    def distance(item: tuple[str, dict[tuple[float, int], Record]]) -> tuple[bool, bool, str]:
        rec = next(iter(item[1].values()))
        other_data = not rec.manifest.get("data", {}).get("label", "").startswith(SEED_SCALE[0])
        return other_data, bool(scale_difference(rec)), item[0]

    return dict(sorted(studies.items(), key=distance))


def _collapse_finding(study: dict[tuple[float, int], Record]) -> tuple[str, str, str] | None:
    """``(ours, verdict, how sure)`` of one collapse study; ``None`` when the seed's setting has no run."""
    from .collapse_study import TREND, TREND_EPOCHS, run_rows

    rows = run_rows(study)
    seed_rows = [r for r in rows if r["lr_D"] == SEED_RATIO * r["lr_G"]]
    control = [r for r in rows if r["lr_D"] == r["lr_G"]]
    if not seed_rows:
        return None

    def fired(rs: list[dict[str, Any]]) -> str:
        hit = [r for r in rs if r["collapse rule"] == "collapse"]
        at = f" (epochs {', '.join(str(r['at epoch']) for r in hit)})" if hit else ""
        return f"{len(hit)} of {len(rs)}{at}"

    first = next(iter(study.values()))
    data = first.manifest.get("data", {})
    epochs = min(r["epochs"] for r in seed_rows)
    ours = (f"{data.get('label', '?')}, {data.get('n', 0):,} images, {epochs} epochs: the collapse rule fires in "
            f"{fired(seed_rows)} seeds of lr_D = {SEED_RATIO:g} lr_G and {fired(control)} of the lr_D = lr_G "
            "control.")
    collapsed = sum(r["collapse rule"] == "collapse" for r in seed_rows)
    verdict = ("supported" if collapsed == len(seed_rows) else "not reproduced" if collapsed == 0
               else "not separable")
    scale = scale_difference(first)
    if len(seed_rows) < 2 or epochs < MIN_EPOCHS:
        verdict = f"provisional: {verdict} so far" + (f" ({scale})" if scale else "")
    else:
        at = sorted(r["at epoch"] for r in seed_rows if r["at epoch"] is not None)  # the claim is about when too
        when = f"collapse at epochs {', '.join(map(str, at))}, the seed's after {SEED_EPOCH}" \
            if verdict == "supported" else ""
        details = [d for d in (when, scale if verdict != "not separable" else "") if d]
        verdict += f": {', '.join(details)}" if details else ""
    n = len(seed_rows)
    improving = sum(r[TREND][0] == "improving" for r in rows)
    sure = (f"{n} seed{'s' * (n != 1)} of the seed's setting, {len(control)} of the control; one data set and width; "
            f"{improving} of {len(rows)} runs still improving (mean FD of the last {TREND_EPOCHS} epochs below the "
            f"{TREND_EPOCHS} before by more than two standard errors)")
    return ours, verdict, sure


def gan_collapse(results: Path) -> Finding:
    """The seed's DCGAN setting (lr_D = 4 lr_G) and its equal-rate control from every collapse study (each
    judged on its own, at its own data and scale, the one at the seed's scale first), and the collapse
    rule on the 2D seeds of both models."""
    counts, partial = [], []
    for mixture in PACGAN_TABLE1:
        for model in ("gan", "ddpm"):
            verdicts = [collapse_report(r, mixture).verdict for r in final_2d_runs(results, mixture, model)]
            if verdicts:
                counts.append(f"{mixture} {model.upper()} {sum(v == 'collapse' for v in verdicts)} of {len(verdicts)}")
                dropped = sum(v == "partial coverage" for v in verdicts)
                if dropped:
                    partial.append(f"{mixture} {model.upper()} {dropped} of {len(verdicts)}")
    two_d = ("2D seeds where the collapse rule fires (quality reached, then lost): " + ", ".join(counts)) if counts \
        else "No 2D seed run has finished yet"
    if partial:
        two_d += ("; seeds that dropped modes from their first evaluation on and lost none later (partial "
                  "coverage, not collapse): " + ", ".join(partial))
    found = {page: f for page, study in _collapse_studies(results).items() if (f := _collapse_finding(study))}
    if not found:
        return Finding(f"The seed's setting (lr_D = {SEED_RATIO:g} lr_G, >= {MIN_EPOCHS} epochs) has not been run "
                       f"yet. {two_d}.", "not yet tested", "—", evidence("toy_modes", "runs"))
    where = "; ".join(evidence(page, "summary", "curves", title=f"Collapse on {o.split(',', 1)[0]}")
                      for page, (o, _, _) in found.items()) + "; 2D runs: " + evidence("toy_modes", "runs")
    ours = " ".join(o for o, _, _ in found.values()) + f" {two_d}."
    if len(found) == 1:
        (_, verdict, sure), = found.values()
    else:  # each study's verdict holds at its own data and scale, which it names
        verdict = "; ".join(v for _, v, _ in found.values())
        sure = "; ".join(f"{o.split(',', 1)[0]}: {s}" for o, _, s in found.values())
    return Finding(ours, verdict, sure, where)


def sampling_speed(results: Path) -> Finding:
    """Seconds per image of the DCGAN and of the DDPM's samplers, from the ``sample_ddim`` sweep."""
    path = results / "runs" / "sample_ddim"
    if not (path / "metrics.csv").exists():
        return Finding("no sampling sweep recorded", "not yet tested", "—", "{doc}`results/sample_ddim`")
    rec = load_record(path)
    rows = [r for r in rec.rows if r.get("seconds_per_image") is not None]
    gan = [float(r["seconds_per_image"]) for r in rows if r["sampler"] == "gan"]
    ddpm = [(float(r["seconds_per_image"]), int(r["steps"]), r["sampler"]) for r in rows if r["sampler"] != "gan"]
    if not gan or not ddpm:
        return Finding("the sweep lacks a GAN or a DDPM row", "not yet tested", "—", "{doc}`results/sample_ddim`")
    fastest = min(ddpm)
    data = rec.manifest.get("data", {}).get("label", "images")
    samplers = sorted({row[2] for row in ddpm})

    def at(k: int) -> str:
        """Milliseconds per image at ``k`` steps over the samplers: at equal steps they evaluate the network
        equally often, so their times differ only by the sampler's arithmetic and timing noise."""
        times = [1e3 * t for t, steps, _ in ddpm if steps == k]
        low, high = sig(round_sig(min(times))), sig(round_sig(max(times)))
        return f"{low} ms at K = {k}" if low == high else f"{low}–{high} ms at K = {k}"
    ks = sorted({row[1] for row in ddpm})
    ours = (f"{data}, one CPU: DCGAN {1e3 * gan[0]:.2g} ms per image; DDPM U-Net {at(ks[0])} to {at(ks[-1])} steps, "
            f"over its {len(samplers)} sampler{'s' * (len(samplers) > 1)} "
            f"({', '.join(SAMPLER_NAMES.get(x, x) for x in samplers)})")
    ratio = fastest[0] / gan[0]
    verdict = ("supported" if ratio > TIME_MARGIN else "contradicted" if ratio < 1 / TIME_MARGIN else "not separable")
    sure = (f"one machine, one model pair; the DDPM's cheapest setting (K = {fastest[1]}, "
            f"{SAMPLER_NAMES.get(fastest[2], fastest[2])}) took about {sig(round_sig(ratio))} times the GAN's time per "
            f"image, where the rule for one machine's timings asks for a factor of {TIME_MARGIN:g}; a larger U-Net costs "
            "more per step (training FLOPs per image in the benchmark table)")
    return Finding(ours, verdict, sure, "{doc}`results/sample_ddim`; benchmark table in {doc}`reproducibility`")


def _compute_2d(results: Path) -> tuple[str, bool]:
    """The 2D study's reading of the compute claim: the models trained equal epochs, not equal FLOPs, so
    it speaks only where the cheaper run did at least as well. Returns the clause for the evidence and
    whether it contradicts the claim: the DDPM spent less and, on every mixture, with the planned seeds,
    hit at least as many modes (ahead by Welch's t on the seed means, or not separable with a mean no
    lower than the GAN's)."""
    spent, modes = compute_2d(results), modes_2d(results)
    if not spent or not modes:
        return "", False
    (ddpm, epochs), (gan, gan_epochs) = spent["ddpm"], spent["gan"]
    seeds = sorted({n for stats in modes.values() for _, _, n in stats})
    outcomes = [(compare_means(d, g), d[0] >= g[0]) for d, g in modes.values()]
    at_least = all(o == "a" or (o == "neither" and not_lower) for o, not_lower in outcomes)
    contradicts = (ddpm < gan and epochs == gan_epochs and len(modes) == len(PACGAN_TABLE1)
                   and seeds[0] >= MIN_SEEDS and at_least)
    length = f"{epochs} epochs each" if epochs == gan_epochs else f"{epochs} (DDPM) and {gan_epochs} (GAN) epochs"
    clause = (f"2D mixtures, {length}: one DDPM run spent {ddpm:.3g} training PFLOP, the GAN's {gan:.3g} "
              f"({sig(round_sig(gan / ddpm))} times as much); modes hit at the last epoch "
              f"({'–'.join(map(str, seeds))} seeds per model): "
              + "; ".join(f"{m} DDPM {fmt_stat(d, n=False)}, GAN {fmt_stat(g, n=False)} ({lean(d, g)})"
                          for m, (d, g) in modes.items()))
    return clause, contradicts


def _before_images(results: Path, two_d: str, contradicts: bool, images: str) -> Finding:
    """The compute finding while the images study cannot speak yet (``images`` says why): the 2D reading,
    when it contradicts the claim, and the CPU previews, quoted for what they are."""
    ours = (two_d + ". " if two_d else "") + f"Images: {images}. " + _preview_compute(results)
    where = evidence("toy_modes", "compute") + "; {doc}`results/train_gan`, {doc}`results/train_ddpm`"
    if contradicts:
        return Finding(ours, "provisional: contradicted on 2D mixtures so far",
                       f"2D: equal epochs, not equal compute, and the cheaper model did at least as well; images: "
                       f"{images}", where)
    why = ("2D: the cheaper DDPM did not hit at least as many modes on every mixture with the planned seeds, so "
           "unequal compute says nothing there; " if two_d else "")
    return Finding(ours, "not yet tested", why + "the CPU previews' budgets and data sizes differ, so they measure "
                   "no gap", where)


def training_compute(results: Path) -> Finding:
    """Quality against training compute: the ``images`` study (the seeds' mean classifier-FD curves on
    one PFLOP axis, :func:`repro.report.crossing.crossing`) and the 2D study (equal epochs, where the
    DDPM spent less; :func:`_compute_2d`). Data sets that go different ways make the verdict *mixed*.
    Before the images study has curves of both models on a shared compute range, its two CPU previews
    are quoted for what they are."""
    from .crossing import crossing
    from .images_results import curves, still_improving, time_axis

    two_d, contradicts = _compute_2d(results)
    study = images_study(results)
    if study is None:
        return _before_images(results, two_d, contradicts, "the matched-compute study has not reported")
    seeds = image_seeds(study)
    c = crossing(curves(study))
    if c["range"] is None:
        return _before_images(results, two_d, contradicts, (
            f"the matched-compute study's curves share no range of training compute yet ({seeds['gan']} DCGAN and "
            f"{seeds['ddpm']} DDPM seeds, each with at least two epochs needed)"))
    first = study.kept("gan")[0]
    data = first.manifest.get("data", {})
    budget = next(iter(study.stops.values()))["budget_flops"] / 1e15
    parts, short = [], []
    timing, timing_label = time_axis(study)
    for model, label in (("gan", "DCGAN"), ("ddpm", "DDPM")):
        recs = study.kept(model)
        used = mean_se([stop["training_flops"] / 1e15 for stop in study.kept_stops(model)])
        fd = mean_se([float(rec.rows[-1]["fd_classifier"]) for rec in recs])
        hours = mean_se([(training_cpu_s(rec.rows) if timing == "cpu_hours" else training_time_s(rec.rows)) / 3600
                         for rec in recs])
        parts.append(f"{label} FD {fmt_stat(fd)} after {used[0]:.3g} PFLOP and {hours[0]:.3g} "
                     f"{timing_label.removeprefix('training ')}")
        improving = sum(still_improving(stop) for stop in study.kept_stops(model))
        if improving:
            short.append(f"{improving} of {len(recs)} {label} seeds")
    where = evidence("images", "fd-curves", "crossing") + ("; " + evidence("toy_modes", "compute") if two_d else "")
    n_eval = int(first.rows[-1].get("n_eval") or 0)
    where_cross = (f"the seeds' mean curves cross at {', '.join(f'{v:.3g}' for v in c['crossings'])} PFLOP"
                   if c["crossings"] else "the seeds' mean curves do not cross")
    span = f" on the {c['range'][0]:.3g}–{c['range'][1]:.3g} PFLOP both covered"
    ours = (f"{data.get('label', 'images')}, {data.get('n', 0):,} training images, the same budget of {budget:.3g} "
            f"training PFLOP per run; classifier-space FD (N = {n_eval:,}), mean ± standard error over seeds, at "
            f"the stop: " + "; ".join(parts) + f"; {where_cross}{span}"
            + (f"; {' and '.join(short)} were still improving when the budget ran out (their FD is what this "
               "budget reached, not where the curve flattens)" if short else "") + (f". {two_d}" if two_d else ""))
    ahead, first_ahead = c["ahead_at_end"], c["ahead_at_start"]
    if ahead is None:
        verdict = "not separable"
    elif first_ahead in (None, ahead):
        verdict = "supported" if ahead == "gan" else "contradicted"
    else:  # the leader changes beyond the noise: the last crossing of the means is where
        below = f" below {c['crossings'][-1]:.3g} PFLOP" if c["crossings"] else " at the start"
        verdict = (f"mixed: the {first_ahead.upper()} is ahead{below}, the {ahead.upper()} "
                   f"{'above' if c['crossings'] else 'at the end'}")
    if contradicts and verdict != "contradicted":
        verdict = f"mixed: on images {verdict.replace('mixed: ', '')}; contradicted on 2D mixtures"
    if min(seeds.values()) < MIN_IMAGE_SEEDS:
        verdict = f"provisional: {verdict.replace('mixed: ', '')} so far"
    sure = (f"{seeds['gan']} DCGAN and {seeds['ddpm']} DDPM seeds; an ordering needs Welch's 95% interval of the "
            f"gap at that end of the shared range to exclude zero (gap at the end {c['gap_at_end']:.3g}, seed sd "
            f"{c['sd_at_end']:.2g}); one image data set and size, CPU scale"
            + ("; 2D: equal epochs, not equal compute" if two_d else "")
            + "".join(f"; {lost} {label} seed(s) diverged and are left out" for model, label in (("gan", "DCGAN"), ("ddpm", "DDPM"))
                      if (lost := len(study.seed_runs(model)) - seeds[model])))
    return Finding(ours, verdict, sure, where)


def _preview_compute(results: Path) -> str:
    """Training cost per image of the two CPU-preview models and the quality each reached (unequal budgets:
    quoted, never judged)."""
    recs = {}
    for name in ("train_gan", "train_ddpm"):
        path = results / "runs" / name
        if (path / "manifest.json").exists():
            recs[name] = load_record(path)
    if len(recs) < 2:
        return "The two CPU previews are not both recorded."
    parts = []
    for name, label in (("train_gan", "DCGAN"), ("train_ddpm", "DDPM")):
        rec = recs[name]
        last = rec.rows[-1]
        seen = int(last["step"]) * int(rec.params["batch_size"])
        threads = rec.manifest.get("hardware", {}).get("torch_threads")
        on = f" on {threads} thread{'s' * (threads != 1)}" if threads else ""
        parts.append(f"{label}: {seen:,} images seen in {training_time_s(rec.rows) / 60:.1f} min of training{on}, "
                     f"classifier-space FD after its {len(rec.rows)} epochs {float(last['fd_classifier']):.3g} "
                     f"(N = {int(last['n_eval']):,})")
    return "The CPU previews, of unequal budgets and one seed each, measure no gap: " + "; ".join(parts)


def seed_table1(results: Path) -> Finding:
    """The plausibility of the seed's Table 1 against published CIFAR-10 figures and against itself."""
    gan, diff = _SEED["DCGAN"], _SEED["diffusion"]
    real, (sn_is, sn_fid, _, _) = IS_REAL_CIFAR10, IS_FID_SNGAN
    ours = (f"No run (the protocol is not stated). Read as Inception Scores on CIFAR-10, {gan['IS']:.2f} (DCGAN) and "
            f"{diff['IS']:.2f} (diffusion) lie far below published generators (SNGAN {sn_is} and DDPM {_DDPM['IS']} in "
            f"{{cite:t}}`{_DDPM['cite']}`, Table 1) and real data's {real[0]} ({{cite:t}}`{real[2]}`, Table 2), while FIDs of "
            f"{gan['FID']:.0f} and {diff['FID']:.0f} would put them near SNGAN's {sn_fid} in the same table: on one "
            f"protocol the two scores would not go together. The table also gives the DCGAN the better FID "
            f"({gan['FID']:.0f} vs {diff['FID']:.0f}) and recall ({gan['recall']:.2f} vs {diff['recall']:.2f}), "
            "against the seed's own claim.")
    return Finding(ours, "implausible as reported", "from the published figures; no run of ours can repeat an "
                   "unstated protocol", evidence("compare", "summary"))


CLAIMS: list[Claim] = [
    Claim("Diffusion models cover the modes better than GANs",
          f"Table 1: recall {_SEED['diffusion']['recall']:.2f} vs the DCGAN's {_SEED['DCGAN']['recall']:.2f} "
          "{cite:p}`zena_superiority`; "
          "precision/recall against BigGAN-deep {cite:p}`dhariwal2021beat`",
          "Vanilla GAN on the 2D ring: {} ± {} of 8 modes, {}% high quality; grid: {} ± {} of 25, {}% (PacGAN "
          "Table 1 {{cite:p}}`lin2018pacgan`)".format(*PACGAN_TABLE1["ring8_r1"]["modes"],
                                                      PACGAN_TABLE1["ring8_r1"]["high_quality_pct"][0],
                                                      *PACGAN_TABLE1["grid25"]["modes"],
                                                      PACGAN_TABLE1["grid25"]["high_quality_pct"][0]),
          mode_coverage),
    Claim("GAN training collapses after about 50 epochs",
          "DCGAN on CIFAR-10, lr_D = 4 lr_G, samples degrade after epoch 50 {cite:p}`zena_superiority`",
          "lr_D > lr_G is the two time-scale rule, reported to stabilise training {cite:p}`heusel2017fid`",
          gan_collapse),
    Claim("GANs sample faster",
          "one generator pass vs hundreds of denoising steps {cite:p}`nvidia2022trilemma`",
          "DDIM with 10-50 steps {cite:p}`song2021ddim`; ADM-G, classifier-guided, matches BigGAN-deep on ImageNet "
          "with 25 DDIM steps {cite:p}`dhariwal2021beat`",
          sampling_speed),
    Claim("Classifier guidance trades diversity for fidelity",
          "\"a simple, compute-efficient method for trading off diversity for fidelity\" {cite:p}`dhariwal2021beat`",
          "ADM-G on ImageNet: precision up and recall down as the scale grows ({cite:t}`dhariwal2021beat`, Fig. 4); the "
          "same trade without a classifier {cite:p}`ho2022cfg`",
          guidance_tradeoff),
    Claim("Diffusion models need more training compute",
          "{cite:p}`nvidia2022trilemma,dhariwal2021beat`",
          "DDPM: 800k steps of batch 128 on CIFAR-10 {cite:p}`ho2020ddpm`",
          training_compute),
    Claim("The seed's Table 1: DCGAN IS {:.2f}, FID {:.0f}; diffusion IS {:.2f}, FID {:.0f}".format(
              _SEED["DCGAN"]["IS"], _SEED["DCGAN"]["FID"], _SEED["diffusion"]["IS"], _SEED["diffusion"]["FID"]),
          "reported without protocol {cite:p}`zena_superiority`",
          f"real CIFAR-10 IS {IS_REAL_CIFAR10[0]} {{cite:p}}`{IS_REAL_CIFAR10[2]}`; DDPM IS {_DDPM['IS']}, "
          f"FID {_DDPM['FID']} {{cite:p}}`{_DDPM['cite']}`",
          seed_table1),
]


def claims_rows(results: str | Path) -> list[dict[str, Any]]:
    """One row per claim of :data:`CLAIMS`, assessed from the records under ``results/runs``."""
    results = Path(results)
    rows = []
    for c in CLAIMS:
        f = c.assess(results)
        rows.append({"claim": c.claim, "seed's evidence": c.seed, "ours": f.ours, "literature": c.literature,
                     "verdict": f"**{f.verdict}**", "how sure": f.sure, "where": f.where})
    return rows


def claims_markdown(results: str | Path) -> str:
    """:func:`claims_rows` for readers: a headline table (claim, verdict, how sure, where), then each
    claim's evidence (the seed's, ours, the literature's) as a definition list."""
    rows = claims_rows(results)
    head = with_caption(to_markdown([{k: r[k] for k in ("claim", "verdict", "how sure", "where")} for r in rows]),
                        "Each claim of the seed documents, the verdict of this book's evidence by the rule above, how "
                        "sure it is, and where the evidence is; the evidence itself follows the table")
    parts = [head, "", "The evidence behind each verdict:", ""]
    for r in rows:
        parts += [f"**{r['claim']}**: {r['verdict']}"]
        parts += [f": *{label}*: {r[key]}" for label, key in (("The seed's evidence", "seed's evidence"),
                                                                ("Ours", "ours"), ("The literature", "literature"))]
        parts.append("")
    return "\n".join(parts)
