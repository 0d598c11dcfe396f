"""The rule behind the claims table's verdicts (:mod:`repro.report.claims`).

A verdict is one of :data:`VERDICTS`:

- ``supported`` / ``contradicted``: our numbers separate the two models in the claimed / the opposite
  direction: the difference of the seeds' means lies outside its :data:`CONFIDENCE` interval by Welch's
  t (:func:`compare_means`), which widens as the seeds behind the spread get fewer;
- ``not separable``: the difference is inside that interval;
- for a cost timed on one machine (seconds per image), where there are no seeds, the two models are
  separated when one takes more than :data:`TIME_MARGIN` times the other's time, far outside the
  timing noise of one machine; inside that factor, ``not separable``;
- ``not reproduced``: the seed's own training setting (its learning rates, optimiser and batch) was run,
  long enough, and the effect it reports did not
  appear (on data, or at a scale, that the verdict names where they differ from the seed's);
- ``mixed: ...``: the comparisons behind one claim do not all agree (data sets or measurements that
  go different ways, or either side of the point where two quality curves cross);
- ``provisional: ...``: a direction is seen but the evidence is short of the protocol (fewer than
  the planned seeds, or only one of the measurements the claim needs);
- ``not yet tested``: no run of this repository measures it yet;
- ``implausible as reported``: the seed's numbers contradict the literature or themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .tables import pm, sig

__all__ = ["CONFIDENCE", "TIME_MARGIN", "VERDICTS", "Stat", "Finding", "welch_multiple", "compare_means", "fmt_stat", "lean", "verdict"]

Stat = tuple[float, float, int]  # a seed mean, its standard error, the number of seeds
CONFIDENCE = 0.95  # two means are separated when their difference lies outside this Welch t interval
TIME_MARGIN = 2.0  # two timings on one machine are separated when one exceeds the other by this factor
VERDICTS = ("supported", "contradicted", "not separable", "not reproduced", "mixed", "provisional",
            "not yet tested", "implausible as reported")


@dataclass(frozen=True)
class Finding:
    """What the records say about one claim: our evidence (data, N, seeds, compute), the verdict,
    how sure it is, and where in the book the table or figure behind it is."""

    ours: str
    verdict: str
    sure: str
    where: str

    def __post_init__(self) -> None:
        if self.verdict.split(":")[0] not in VERDICTS:
            raise ValueError(f"verdict must start with one of {VERDICTS}, got {self.verdict!r}")


def welch_multiple(a: Stat, b: Stat,
                   confidence: float = CONFIDENCE) -> float:
    """How many combined standard errors ``hypot(se_a, se_b)`` make the two-sided ``confidence`` interval of
    the difference of two seed means ``(mean, se, n)``: the Student t quantile at Welch–Satterthwaite's
    degrees of freedom, nu = (se_a² + se_b²)² / (se_a⁴ / (n_a - 1) + se_b⁴ / (n_b - 1)). A side with no
    standard error (one seed: NaN) or none to speak of (all seeds equal: 0) adds no term; with no spread
    on either side the multiple is 0 (any difference separates)."""
    from scipy.stats import t

    terms = [(se ** 2, n) for _, se, n in (a, b) if math.isfinite(se) and se > 0 and n > 1]
    if not terms:
        return 0.0
    nu = sum(v for v, _ in terms) ** 2 / sum(v ** 2 / (n - 1) for v, n in terms)
    return float(t.ppf(0.5 + confidence / 2, nu))


def compare_means(a: Stat, b: Stat, confidence: float = CONFIDENCE) -> str:
    """``"a"`` or ``"b"`` when that mean is higher and the difference lies outside its ``confidence``
    interval (:func:`welch_multiple` combined standard errors), ``"neither"`` when it lies inside,
    ``"unknown"`` when a standard error is missing (a side with one seed)."""
    (ma, sa, _), (mb, sb, _) = a, b
    if not (math.isfinite(sa) and math.isfinite(sb)):
        return "unknown" if ma != mb else "neither"
    gap = welch_multiple(a, b, confidence) * math.hypot(sa, sb)
    if ma - mb > gap:
        return "a"
    if mb - ma > gap:
        return "b"
    return "neither"


def fmt_stat(stat: Stat, n: bool = True) -> str:
    mean, se, count = stat
    text = pm(mean, se) if math.isfinite(se) else sig(mean)
    return f"{text} (n = {count})" if n else text


def lean(ddpm: Stat, gan: Stat) -> str:
    """Which way a comparison leans while a side has too few seeds for :func:`compare_means`: the
    spread that is known (a side with one seed adds none) decides what counts as a tie."""
    noise = welch_multiple(ddpm, gan) * math.hypot(*(se for _, se, _ in (ddpm, gan) if math.isfinite(se)))
    gap = ddpm[0] - gan[0]
    return "DDPM ahead" if gap > noise else "GAN ahead" if -gap > noise else "tied within the known spread"


def verdict(comparisons: list[tuple[str, Stat, Stat]], short: bool) -> str:
    """The verdict on comparisons ``(where, DDPM stat, GAN stat)``, higher being what the claim expects of
    the DDPM: *supported*, *contradicted* or *not separable* when every comparison says so, else *mixed*
    with where each leans; *provisional* while ``short`` of the planned seeds or while a side has one
    seed (no spread to judge a gap by)."""
    outcomes = {compare_means(d, g) for _, d, g in comparisons}
    agreed = {frozenset("a"): "supported", frozenset("b"): "contradicted",
              frozenset(["neither"]): "not separable"}.get(frozenset(outcomes))
    if agreed is None:
        leads = ", ".join(f"{lean(d, g)} on {where}" for where, d, g in comparisons)
        pending = short or "unknown" in outcomes
        return ("provisional: " if pending else "mixed: ") + leads + (" so far" if short else "")
    return f"provisional: {agreed} so far" if short else agreed
