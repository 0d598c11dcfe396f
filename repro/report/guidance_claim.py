"""The claims table's guidance row: does guidance trade diversity for fidelity here, and does it lift the
diffusion model past the GAN on fidelity?

Read from the ``guidance`` sweep (:mod:`repro.report.guidance`). For each kind of guidance swept
(classifier guidance over s, classifier-free guidance over w) the two ends of its scale are compared:
precision (fidelity) up and recall (diversity) down, each separated by the rule of
:mod:`repro.report.verdicts` (:func:`~repro.report.verdicts.compare_means`) with the standard error of
each score over its N samples (from its recorded 95% interval, :mod:`repro.metrics.conditional`), is the
trade. Then the most guided point's precision is set beside the DCGAN's by the same rule.

Per kind: *trade* (precision up, recall down), *reverse* (precision down, recall up), *within noise*
(neither separated), or which of the two moved. The verdict: *supported* when every kind trades,
*contradicted* when every kind reverses, *not separable* when every kind is within noise, *mixed*
otherwise; *provisional* when a point was recorded without intervals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from ..metrics.bootstrap import Z95  # the recorded intervals are 95%
from ..records import load_record
from .evidence import evidence
from .tables import sig, with_interval
from .verdicts import Finding, Stat, compare_means

__all__ = ["KINDS", "score_stat", "kind_outcome", "guidance_tradeoff"]

KINDS = {"classifier": ("classifier guidance", "s"), "free": ("classifier-free guidance", "w")}


def score_stat(row: Mapping[str, Any], key: str) -> Stat:
    """``(value, standard error, N)`` of one score of a sweep point; the error is NaN when the point was
    recorded without an interval."""
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    known = lo is not None and hi is not None and math.isfinite(float(lo)) and math.isfinite(float(hi))
    return float(row[key]), (float(hi) - float(lo)) / (2 * Z95) if known else math.nan, int(row["n"])


def kind_outcome(low: Mapping[str, Any], high: Mapping[str, Any]) -> str:
    """What one kind of guidance did from its lowest scale (``low``) to its highest (``high``): "trade",
    "reverse", "within noise", "unknown" (no intervals), or what moved, e.g. "precision up, recall level"."""
    precision = compare_means(score_stat(high, "precision"), score_stat(low, "precision"))  # "a": it rose
    recall = compare_means(score_stat(low, "recall"), score_stat(high, "recall"))  # "a": it fell
    if "unknown" in (precision, recall):
        return "unknown"
    named = {("a", "a"): "trade", ("b", "b"): "reverse", ("neither", "neither"): "within noise"}
    if (precision, recall) in named:
        return named[precision, recall]
    words = {"a": "up", "b": "down", "neither": "level"}
    return f"precision {words[precision]}, recall {words[{'a': 'b', 'b': 'a'}.get(recall, recall)]}"


def _ends(rows: list[dict[str, Any]], kind: str) -> tuple[dict, dict] | None:
    points = sorted((r for r in rows if r["guidance"] == kind), key=lambda r: r["scale"])
    return (points[0], points[-1]) if len(points) >= 2 else None


def guidance_tradeoff(results: Path) -> Finding:
    """The guidance claim's finding from ``results/runs/guidance/sweep`` (see the module docstring)."""
    path = results / "runs" / "guidance" / "sweep"
    if not (path / "manifest.json").exists() or load_record(path).manifest.get("status") != "finished":
        return Finding("The guidance sweep has not been run yet.", "not yet tested", "—", "—")
    sweep = load_record(path)
    rows, where = sweep.rows, evidence("guidance", "sweep", "tradeoff")
    ends = {kind: e for kind in KINDS if (e := _ends(rows, kind)) is not None}
    if not ends:
        return Finding("The sweep has fewer than two scales of either guidance.", "not yet tested", "—", where)
    params = sweep.params
    parts, outcomes = [], {}
    for kind, (low, high) in ends.items():
        name, symbol = KINDS[kind]
        outcomes[kind] = kind_outcome(low, high)
        parts.append(f"{name}, {symbol} = {low['scale']:g} → {high['scale']:g}: precision "
                     f"{with_interval(low, 'precision')} → {with_interval(high, 'precision')}, recall "
                     f"{with_interval(low, 'recall')} → {with_interval(high, 'recall')}, label accuracy "
                     f"{sig(low['label_accuracy'])} → {sig(high['label_accuracy'])} ({outcomes[kind]})")
    gan = next((r for r in rows if r["guidance"] == "dcgan"), None)
    if gan is not None and "classifier" in ends:
        top = ends["classifier"][1]
        ahead = {"a": "the guided DDPM ahead", "b": "the DCGAN ahead", "neither": "within noise",
                 "unknown": "no interval"}[compare_means(score_stat(top, "precision"), score_stat(gan, "precision"))]
        parts.append(f"DCGAN precision {with_interval(gan, 'precision')}, recall {with_interval(gan, 'recall')}; "
                     f"at s = {top['scale']:g} against it: {ahead}")
    label = sweep.manifest.get("data", {}).get("label", sweep.manifest.get("data", {}).get("name", "?"))
    ours = (f"{label}, N = {int(rows[0]['n']):,} per point, one seed, {params.get('steps')} {params.get('sampler')} "
            "steps. " + "; ".join(parts))
    found = set(outcomes.values())
    verdict = {frozenset(["trade"]): "supported", frozenset(["reverse"]): "contradicted",
               frozenset(["within noise"]): "not separable"}.get(frozenset(found))
    if verdict is None:
        leads = ", ".join(f"{KINDS[k][0]}: {o}" for k, o in outcomes.items())
        verdict = ("provisional: " if "unknown" in found else "mixed: ") + leads
    sure = ("one seed and one sample of N per point; each score's 95% interval for the sampling of its N samples, "
            "the real images held fixed (they are the same for every point)")
    if "unknown" in found:
        sure = "a point was recorded without intervals: run the sweep again"
    return Finding(ours, verdict, sure, where)
