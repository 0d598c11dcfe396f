"""Where two quality-against-compute curves cross, and the Inception FID points on the same axis.

The ``images`` study records, per run and epoch, the training compute spent so far and the tracked
classifier-space Fréchet distance (:func:`repro.report.images_results.curves`). :func:`mean_curve` averages a
model's seeds epoch by epoch (seeds of one model share batch and data, so an epoch means the same
compute); :func:`crossing` compares two such curves on the compute range both cover, in log compute
(the axis the curves are drawn on), and names every crossing and which model is ahead at the end,
with the seeds' spread there so that a gap inside the noise is not read as an ordering.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence

from .tables import mean_se

__all__ = ["mean_curve", "crossing", "crossing_row", "fid_points"]


def mean_curve(rows: Sequence[Mapping[str, Any]], model: str, x: str = "pflop",
               y: str = "fd_classifier") -> tuple[list[float], list[float], list[float]]:
    """(x, mean of y over seeds, standard deviation over seeds) per epoch of ``model``, over the epochs
    every seed reached; the rows of a seed that diverged (``diverged``) are left out."""
    rows = [r for r in rows if r["model"] == model and not r.get("diverged")]
    by_epoch: dict[int, list[tuple[float, float]]] = {}
    seeds = {r["seed"] for r in rows}
    for r in rows:
        if r.get(y) is not None and math.isfinite(float(r[y])):
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


def crossing(rows: Sequence[Mapping[str, Any]], a: str = "gan", b: str = "ddpm", x: str = "pflop",
             y: str = "fd_classifier") -> dict[str, Any]:
    """Compare the mean curves of models ``a`` and ``b`` (lower y is better) on the x range both cover:
    ``crossings`` (x values where the sign of a - b changes, interpolated in log x), ``ahead_at_end``
    (the model lower at the end of the shared range, or ``None`` when the gap there is within twice the
    larger seed standard deviation), ``gap_at_end`` and ``sd_at_end``, and the shared ``range``."""
    (xa, ya, sa), (xb, yb, sb) = mean_curve(rows, a, x, y), mean_curve(rows, b, x, y)
    if len(xa) < 2 or len(xb) < 2:
        return {"range": None, "crossings": [], "ahead_at_end": None, "gap_at_end": math.nan, "sd_at_end": math.nan}
    lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
    if lo >= hi:
        return {"range": None, "crossings": [], "ahead_at_end": None, "gap_at_end": math.nan, "sd_at_end": math.nan}
    grid = sorted({v for v in xa + xb if lo <= v <= hi} | {lo, hi})
    diff = [_interp(xa, ya, v) - _interp(xb, yb, v) for v in grid]
    crossings = []
    for (x0, d0), (x1, d1) in zip(zip(grid, diff), zip(grid[1:], diff[1:])):
        if d0 == 0 or d0 * d1 < 0:
            w = 0.0 if d0 == 0 else d0 / (d0 - d1)
            crossings.append(10 ** (math.log10(x0) + w * (math.log10(x1) - math.log10(x0))))
    sd = max(_interp(xa, [s if math.isfinite(s) else 0.0 for s in sa], hi),
             _interp(xb, [s if math.isfinite(s) else 0.0 for s in sb], hi))
    gap = diff[-1]
    ahead = None if abs(gap) <= 2 * sd else (b if gap > 0 else a)
    return {"range": (lo, hi), "crossings": crossings, "ahead_at_end": ahead, "gap_at_end": gap, "sd_at_end": sd}


def crossing_row(c: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`crossing`'s result as one table row for readers: compute in PFLOP to 3 significant
    figures, "no crossing" when the curves do not cross on their shared range, "—" where nothing was
    compared, and the model ahead at the end in capitals ("neither" inside the seeds' spread)."""
    compared = c["range"] is not None
    return {"shared range (PFLOP)": f"{c['range'][0]:.3g} to {c['range'][1]:.3g}" if compared else "—",
            "crossings (PFLOP)": (", ".join(f"{v:.3g}" for v in c["crossings"]) or "no crossing") if compared else "—",
            "ahead at the end": (c["ahead_at_end"].upper() if c["ahead_at_end"] else "neither (inside the seeds' spread)")
            if compared else "—",
            "FD gap GAN - DDPM at the end": c["gap_at_end"], "seed sd there": c["sd_at_end"]}


def fid_points(runs: Mapping[tuple[str, int], Any], flops: Mapping[str, float]) -> list[dict[str, Any]]:
    """One row per Inception evaluation of a seed run (``fid-epochNNNN.json`` beside it): its compute
    (PFLOP) and FID with the bootstrap interval and N."""
    rows = []
    for (model, seed), rec in runs.items():
        for path in sorted(rec.path.glob("fid-epoch*.json")):
            result = json.loads(path.read_text())["result"]
            epoch = int(path.stem[len("fid-epoch"):])
            step = rec.rows[epoch]["step"] if epoch < len(rec.rows) else rec.rows[-1]["step"]
            lo, hi = result.get("fid_interval") or (math.nan, math.nan)
            rows.append({"model": model, "seed": seed, "epoch": epoch,
                         "pflop": step * rec.params["batch_size"] * flops[model] / 1e15,
                         "fid": result["fid"], "fid_lo": lo, "fid_hi": hi, "n": result["n"]})
    return rows
