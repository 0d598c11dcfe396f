"""Where two quality-against-compute curves cross, and the Inception FID points on the same axis.

The ``images`` study records, per run and epoch, the training compute spent so far and the tracked
classifier-space Fréchet distance (:func:`repro.report.images_results.curves`). :func:`mean_curve` averages a
model's seeds epoch by epoch (seeds of one model share batch and data, so an epoch means the same
compute); :func:`crossing` compares two such curves on the compute range both cover, in log compute
(the axis the curves are drawn on), names where the mean curves cross, and which model is ahead at
either end of that range by Welch's test on the seeds, so that a gap inside the noise is not read as
an ordering (nor a crossing of the means inside it as a change of leader).
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

from .selection import diverged
from .tables import mean_se

__all__ = ["mean_curve", "crossing", "crossing_row", "fid_points"]


def mean_curve(rows: Sequence[Mapping[str, Any]], model: str, x: str = "pflop",
               y: str = "fd_classifier") -> tuple[list[float], list[float], list[float]]:
    """(x, mean of y over seeds, standard deviation over seeds) per epoch of ``model``, over the epochs
    every seed reached on the x axis; the rows of a seed that diverged (``diverged``) are left out."""
    rows = [r for r in rows if r["model"] == model and not r.get("diverged")]
    by_epoch: dict[int, list[tuple[float, float]]] = {}
    seeds = {r["seed"] for r in rows}
    for r in rows:  # a row without x (a held epoch has compute but no time) is not on this axis
        if r.get(y) is not None and r.get(x) is not None and math.isfinite(float(r[y])):
            by_epoch.setdefault(int(r["epoch"]), []).append((float(r[x]), float(r[y])))
    xs, means, sds = [], [], []
    for epoch in sorted(by_epoch):
        pts = by_epoch[epoch]
        if len(pts) < len(seeds):
            continue
        mean, se, n = mean_se([v for _, v in pts])
        xs.append(sum(p for p, _ in pts) / n)
        means.append(mean)
        sds.append(se * math.sqrt(n) if n > 1 else math.nan)
    return xs, means, sds


def _interp(xs: list[float], ys: list[float], at: float) -> float:
    """Linear interpolation in log x."""
    lx, la = [math.log10(v) for v in xs], math.log10(at)
    for i in range(len(lx) - 1):
        if lx[i] <= la <= lx[i + 1]:
            w = 0.0 if lx[i + 1] == lx[i] else (la - lx[i]) / (lx[i + 1] - lx[i])
            return ys[i] + w * (ys[i + 1] - ys[i])
    raise ValueError(f"{at} is outside [{xs[0]}, {xs[-1]}]")


def _ahead(xs: list[float], means: list[float], sds: list[float], n: int, xs_b: list[float], means_b: list[float],
           sds_b: list[float], n_b: int, at: float, a: str, b: str) -> str | None:
    """The model lower at ``at`` when Welch's test separates the two seed means there
    (:func:`repro.report.verdicts.compare_means`), else ``None``. A side with one seed adds no spread:
    the other side's decides (:func:`repro.report.verdicts.lean`), and with one seed on each side any
    gap orders, which the claims table marks provisional (fewer seeds than planned)."""
    from .verdicts import compare_means, welch_multiple

    def stat(x, m, sd, k):
        spread = _interp(x, sd, at) if all(math.isfinite(v) for v in sd) else math.nan
        return _interp(x, m, at), spread / math.sqrt(k), k

    sa, sb = stat(xs, means, sds, n), stat(xs_b, means_b, sds_b, n_b)
    higher = compare_means(sa, sb)
    if higher == "unknown":
        noise = welch_multiple(sa, sb) * math.hypot(*(se for _, se, _ in (sa, sb) if math.isfinite(se)))
        higher = "a" if sa[0] - sb[0] > noise else "b" if sb[0] - sa[0] > noise else "neither"
    return {"a": b, "b": a}.get(higher)


def crossing(rows: Sequence[Mapping[str, Any]], a: str = "gan", b: str = "ddpm", x: str = "pflop",
             y: str = "fd_classifier") -> dict[str, Any]:
    """Compare the mean curves of models ``a`` and ``b`` (lower y is better) on the x range both cover:
    ``crossings`` (x values where the sign of the mean gap a - b changes, interpolated in log x; noise
    can add some), ``ahead_at_start`` and ``ahead_at_end`` (the model lower at either end of the shared
    range where Welch's test on the seeds separates the two, else ``None``), ``gap_at_end`` and
    ``sd_at_end`` (the larger seed standard deviation there), and the shared ``range``. Only a change of
    the separated leader between the two ends says that the curves cross beyond the noise."""
    (xa, ya, sa), (xb, yb, sb) = mean_curve(rows, a, x, y), mean_curve(rows, b, x, y)
    none = {"range": None, "crossings": [], "ahead_at_start": None, "ahead_at_end": None, "gap_at_end": math.nan,
            "sd_at_end": math.nan}
    if len(xa) < 2 or len(xb) < 2:
        return none
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if lo >= hi:
        return none
    grid = sorted({v for v in xa + xb if lo <= v <= hi} | {lo, hi})
    diff = [_interp(xa, ya, v) - _interp(xb, yb, v) for v in grid]
    crossings = []  # where the sign of the gap changes; a point where the curves only touch is none
    signed = [(v, d) for v, d in zip(grid, diff) if d != 0]
    for (x0, d0), (x1, d1) in zip(signed, signed[1:]):
        if d0 * d1 < 0:
            zero = [v for v, d in zip(grid, diff) if x0 < v < x1 and d == 0]
            crossings.append(zero[0] if zero else
                             10 ** (math.log10(x0) + d0 / (d0 - d1) * (math.log10(x1) - math.log10(x0))))
    seeds = {m: len({r["seed"] for r in rows if r["model"] == m and not r.get("diverged")}) for m in (a, b)}
    ahead = {at: _ahead(xa, ya, sa, seeds[a], xb, yb, sb, seeds[b], at, a, b) for at in (lo, hi)}
    sd = max(_interp(xa, [s if math.isfinite(s) else 0.0 for s in sa], hi),
             _interp(xb, [s if math.isfinite(s) else 0.0 for s in sb], hi))
    return {"range": (lo, hi), "crossings": crossings, "ahead_at_start": ahead[lo], "ahead_at_end": ahead[hi],
            "gap_at_end": diff[-1], "sd_at_end": sd}


def crossing_row(c: Mapping[str, Any], axis: str = "training PFLOP", unit: str = "PFLOP") -> dict[str, Any]:
    """:func:`crossing`'s result on one ``axis`` (in ``unit``) as a table row for readers: values to 3
    significant figures with their unit, "no crossing" when the mean curves do not cross on their shared
    range, "—" where nothing was compared, and the model ahead at either end in capitals ("neither" where
    Welch's test does not separate them)."""
    compared = c["range"] is not None

    def leader(key: str) -> str:
        return (c[key].upper() if c[key] else "neither (not separated)") if compared else "—"

    crossings = ", ".join(f"{v:.3g}" for v in c["crossings"]) if compared else ""
    return {"axis": axis, "shared range": f"{c['range'][0]:.3g} to {c['range'][1]:.3g} {unit}" if compared else "—",
            "mean curves cross at": (f"{crossings} {unit}" if crossings else "no crossing") if compared else "—",
            "ahead at the start": leader("ahead_at_start"), "ahead at the end": leader("ahead_at_end"),
            "FD gap GAN - DDPM at the end": c["gap_at_end"], "seed sd there": c["sd_at_end"]}


def fid_points(runs: Mapping[tuple[str, int], Any], flops: Mapping[str, float]) -> list[dict[str, Any]]:
    """One row per Inception evaluation of a seed run that did not diverge (``fid-epochNNNN.json`` beside
    it): its compute (PFLOP) and FID with the bootstrap interval and N."""
    rows = []
    for (model, seed), rec in runs.items():
        if diverged(rec):  # its earlier points belong to a run whose results are left out
            continue
        for path in sorted(rec.path.glob("fid-epoch*.json")):
            result = json.loads(path.read_text())["result"]
            epoch = int(path.stem[len("fid-epoch"):])
            step = rec.rows[epoch]["step"] if epoch < len(rec.rows) else rec.rows[-1]["step"]
            lo, hi = result.get("fid_interval") or (math.nan, math.nan)
            rows.append({"model": model, "seed": seed, "epoch": epoch,
                         "pflop": step * rec.params["batch_size"] * flops[model] / 1e15,
                         "fid": result["fid"], "fid_lo": lo, "fid_hi": hi, "n": result["n"]})
    return rows
