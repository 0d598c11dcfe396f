"""Collapse detection over a run's per-epoch records.

The seed report saw good DCGAN samples on CIFAR-10 around epochs 30-49 and garbage after epoch 50.
This module turns that judgement into a rule that reads the per-epoch rows of ``metrics.csv`` and says
whether, and from which epoch, training collapsed.

The rule (:class:`CollapseRule`, defaults in brackets) fires on the first epoch ``e`` at which one of
these criteria holds for ``patience`` [3] consecutive recorded epochs ``e, e+1, ...``:

1. **quality**: the quality column (e.g. ``fd_classifier``, lower is better; ``modes_hit``, higher is
   better) is worse than its best value *so far* by more than ``margin`` [25 %, relative to the best;
   ``margin_kind="absolute"`` compares differences instead]. The best is taken over epochs up to and
   including the one tested, so the rule reads the series causally, as a person watching the run would.
2. **diversity**: the ``diversity`` column (:func:`sample_diversity`, 1 for data-like spread, towards 0
   as samples coincide) is below ``1 - diversity_drop`` [50 %] of its best so far.
3. **a player wins outright**: the discriminator wins (epoch mean ``D_x >= win`` and ``D_G_z <= 1 - win``,
   ``win`` [0.99]), or the generator does (``D_G_z >= win``: D rates generated samples as real).

One more criterion holds where the data fix what the quality column should reach (``quality_target``:
the number of modes of a 2D mixture; none for images):

4. **target never held at the end**: the last ``patience`` recorded values, and every one back to some
   epoch ``e``, are worse than the target by more than ``margin`` (e.g. fewer than 6 of 8 modes hit). The
   collapse is dated at ``e``, the start of that final stretch. This is mode collapse as VEEGAN and PacGAN
   count it, by the modes covered when training stops, and it catches a generator that never covered
   the modes at all, which criterion 1 cannot.

5. **no diversity**: the ``diversity`` column stayed below ``diversity_floor`` [0.05] for the last
   ``patience`` epochs and every one back to some epoch ``e`` (a generator that never spread out, which
   criterion 2, relative to the best so far, cannot see when the best is 0).
6. **mode hopping** (where rows carry ``mode_set``, the modes hit as written by :func:`mode_set`): the
   set of modes changes by more than half (Jaccard overlap < 0.5) from one epoch to the next for
   ``patience`` epochs while fewer modes than the target are hit: the generator cycles between modes
   (Metz et al. 2017, fig. 1).

Epochs where a column is missing or NaN are skipped by that criterion (a metric evaluated every few
epochs counts its patience in evaluations). A sustained degradation still running when the records end
but shorter than ``patience`` is not reported. On the 2D mixtures the quality column is ``modes_hit``,
so a collapse there means modes lost: :meth:`CollapseRule.for_mixture`.

**The verdict** (``CollapseReport.verdict``) separates what the criteria alone would lump together:

- ``"diverged"``: a loss column (``loss_G``, ``loss_D``, ``loss``) is non-finite or larger than
  ``diverged_loss`` [1e6] in magnitude; the run is broken, not collapsed, and nothing else is judged.
- ``"undetermined"``: fewer than ``patience`` epochs recorded; no rule can judge so short a run.
- ``"non-convergence"``: a criterion held, or the quality was never reached: the run never reached
  quality, so it had nothing to collapse from. Quality is *reached* at the first epoch where
  ``reach_column`` meets ``reach_at`` (mixtures: ``high_quality_fraction >= 0.5``, half the samples
  within 3 std of a mode, our threshold; images: ``for_images(reach_at=...)``, an FD to reach); without
  that column, where the quality column comes within ``margin`` of ``quality_target``; with neither,
  the rule cannot tell and takes quality as reached from the first epoch.
- ``"partial coverage"``: quality was reached, and the only criterion that held is 4 (too few modes at
  the end), while the quality column never came within ``margin`` of ``quality_target`` at any recorded
  epoch: the generator dropped modes from the first evaluation on and lost none that the records saw.
  That is mode dropping as PacGAN's table counts it, not a collapse *after a time*, so it gets no epoch;
  where other criteria held as well, criterion 4 neither dates nor explains the collapse, they do.
- ``"collapse"``: quality was reached, and a criterion held after that (modes lost, quality lost,
  diversity lost, a player winning outright, modes cycled). The criteria that watch for an event (1, 2,
  3, 6) count only stretches that start at or after the epoch quality was reached: modes hopping or a
  player winning while the generator still learns to draw sharp samples is training, not collapse.
  The criteria that judge the end (4, 5) hold over a final stretch; a collapse they find is dated at
  its start, or at the epoch quality was reached if that is later.
- ``"no collapse"``: quality reached and no criterion held.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

__all__ = ["CollapseReport", "CollapseRule", "detect_collapse", "sample_diversity", "mode_set", "VERDICTS"]

VERDICTS = ("no collapse", "collapse", "partial coverage", "non-convergence", "diverged", "undetermined")
LOSS_COLUMNS = ("loss_G", "loss_D", "loss")


def sample_diversity(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean pairwise L2 distance between ``samples``, divided by the same for a ``reference`` batch of data.

    About 1 when the samples spread like the data, towards 0 when they coincide (mode collapse). A pixel-
    space analogue of the sample-diversity checks of Odena et al. 2017 (AC-GAN, sec. 4.2, which uses
    MS-SSIM); it needs no feature extractor, so the trainer records it every epoch.
    """
    def spread(x: torch.Tensor) -> torch.Tensor:
        x = x.detach().flatten(1).double()
        n = x.shape[0]
        if n < 2:
            raise ValueError("sample_diversity needs at least two samples")
        return torch.cdist(x, x).sum() / (n * (n - 1))

    return float(spread(samples) / spread(reference).clamp_min(1e-12))


@dataclass(frozen=True)
class CollapseRule:
    """The thresholds of the collapse rule (see the module docstring for the rule itself)."""

    quality: str | None = None
    quality_mode: Literal["min", "max"] = "min"
    quality_target: float | None = None
    margin: float = 0.25
    margin_kind: Literal["relative", "absolute"] = "relative"
    diversity: str | None = "diversity"
    diversity_drop: float = 0.5
    diversity_floor: float | None = 0.05
    win: float | None = 0.99
    patience: int = 3
    reach_column: str | None = None
    reach_at: float | None = None
    reach_mode: Literal["min", "max"] = "max"
    diverged_loss: float = 1e6
    modes_column: str | None = "mode_set"

    @classmethod
    def for_images(cls, quality: str | None = "fd_classifier", reach_at: float | None = None,
                   **kw: Any) -> CollapseRule:
        """A Frechet-distance-like column (lower is better) as quality; ``reach_at``: the value of it
        that counts as converged (without it, non-convergence cannot be told from collapse)."""
        if reach_at is not None:
            kw = {"reach_column": quality, "reach_at": reach_at, "reach_mode": "min", **kw}
        return cls(quality=quality, quality_mode="min", **kw)

    @classmethod
    def for_mixture(cls, num_modes: int | None = None, **kw: Any) -> CollapseRule:
        """2D mixtures: collapse is losing more than ``margin`` of the modes hit, of the best so far or,
        given ``num_modes``, of the mixture's own modes when training stops, after half the samples
        have come within 3 std of a mode (``high_quality_fraction >= 0.5``)."""
        kw = {"reach_column": "high_quality_fraction", "reach_at": 0.5, "reach_mode": "max", **kw}
        return cls(quality="modes_hit", quality_mode="max", quality_target=num_modes, **kw)


@dataclass(frozen=True)
class CollapseReport:
    """What the rule found. ``verdict`` is one of :data:`VERDICTS`; ``str()`` reads e.g.
    ``"collapse at epoch 12: <reason>"``, ``"non-convergence: <reason>"``, ``"diverged at epoch 0:
    <reason>"``, ``"undetermined: <reason>"`` or ``"no collapse"``. ``collapsed`` is true only for
    ``"collapse"``."""

    collapsed: bool
    epoch: int | None
    reason: str
    best_epoch: int | None = None
    best_value: float | None = None
    criteria: tuple[str, ...] = field(default=())
    verdict: str = ""
    reached_epoch: int | None = None
    cause: str | None = None  # the criterion that dated a collapse (e.g. "mode hopping")

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", "collapse" if self.collapsed else "no collapse")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def __str__(self) -> str:
        if self.verdict == "no collapse":
            return "no collapse"
        at = f" at epoch {self.epoch}" if self.epoch is not None and self.verdict in ("collapse", "diverged") else ""
        return f"{self.verdict}{at}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "collapsed": self.collapsed, "epoch": self.epoch, "reason": self.reason,
                "best_epoch": self.best_epoch, "best_value": self.best_value, "criteria": list(self.criteria),
                "reached_epoch": self.reached_epoch, "cause": self.cause}


def mode_set(counts: Sequence[int], min_count: int) -> str:
    """The modes hit (indices with at least ``min_count`` high-quality samples) as a ``metrics.csv``
    cell, e.g. ``"0 3 5"``: the ``mode_set`` column the mode-hopping criterion reads."""
    return " ".join(str(i) for i, c in enumerate(counts) if c >= min_count)


def _parse_set(v: Any) -> frozenset[int] | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (int, float)):
        return frozenset([int(v)])
    return frozenset(int(t) for t in str(v).split())


def _value(row: Mapping[str, Any], key: str | None) -> float | None:
    v = row.get(key) if key else None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _first_sustained(epochs: list[int], flags: list[bool | None], patience: int) -> int | None:
    """First epoch starting ``patience`` consecutive True flags (None flags are skipped)."""
    run: list[int] = []
    for e, f in zip(epochs, flags):
        if f is None:
            continue
        run = run + [e] if f else []
        if len(run) >= patience:
            return run[0]
    return None


def _worse_than_best(values: list[float | None], mode: str, margin: float, kind: str) -> list[bool | None]:
    """Per epoch: is the value worse than the best so far by more than ``margin``?"""
    flags: list[bool | None] = []
    best: float | None = None
    for v in values:
        if v is None:
            flags.append(None)
            continue
        best = v if best is None else (min(best, v) if mode == "min" else max(best, v))
        flags.append(_worse_than(v, best, mode, margin, kind))
    return flags


def _worse_than(v: float, ref: float, mode: str, margin: float, kind: str) -> bool:
    if kind == "relative":
        limit = ref * (1 + margin) if mode == "min" else ref * (1 - margin)
    else:
        limit = ref + margin if mode == "min" else ref - margin
    return v > limit if mode == "min" else v < limit


def _trailing_stretch(epochs: list[int], flags: list[bool | None], patience: int) -> int | None:
    """Start of the final run of True flags (None skipped) if it holds at least ``patience`` of them."""
    run: list[int] = []
    for e, f in zip(epochs, flags):
        if f is not None:
            run = run + [e] if f else []
    return run[0] if len(run) >= patience else None


def _diverged(rows: list[Mapping[str, Any]], epochs: list[int], limit: float) -> tuple[int, str] | None:
    """First epoch whose loss columns hold a non-finite value or one above ``limit`` in magnitude."""
    for e, r in zip(epochs, rows):
        for col in LOSS_COLUMNS:
            v = r.get(col)
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(v) or abs(v) > limit:
                return e, f"{col} = {v:.3g} (non-finite or beyond {limit:g} in magnitude): the training diverged"
    return None


def _reached(rule: CollapseRule, rows: list[Mapping[str, Any]], epochs: list[int],
             q: list[float | None]) -> tuple[int | None, str]:
    """First epoch at which the run reached quality (see the module docstring), and how that was judged."""
    if rule.reach_column is not None and rule.reach_at is not None:
        r = [_value(row, rule.reach_column) for row in rows]
        if any(v is not None for v in r):
            ok = [v is not None and (v >= rule.reach_at if rule.reach_mode == "max" else v <= rule.reach_at) for v in r]
            best = (max if rule.reach_mode == "max" else min)(v for v in r if v is not None)
            return (epochs[ok.index(True)] if any(ok) else None,
                    f"{rule.reach_column} reached {best:.3g}, the threshold is {rule.reach_at:g}")
    present = [(e, v) for e, v in zip(epochs, q) if v is not None]
    if rule.quality is None or not present:
        return (epochs[0] if epochs else None), "no quality column to judge convergence by"
    if rule.quality_target is not None:
        for e, v in present:
            if not _worse_than(v, rule.quality_target, rule.quality_mode, rule.margin, rule.margin_kind):
                return e, f"{rule.quality} came within the margin of the target {rule.quality_target:g}"
        best = (max if rule.quality_mode == "max" else min)(v for _, v in present)
        return None, f"{rule.quality} reached at best {best:.4g}, the target is {rule.quality_target:g}"
    return present[0][0], "no quality threshold given (reach_at): quality taken as reached from the start"


def _hopping(rule: CollapseRule, rows: list[Mapping[str, Any]], q: list[float | None]) -> list[bool | None] | None:
    """Per epoch: did the set of modes hit change by more than half since the previous recorded epoch,
    with fewer modes than the target hit? ``None`` without a modes column."""
    if rule.modes_column is None:
        return None
    sets = [_parse_set(r.get(rule.modes_column)) for r in rows]
    flags: list[bool | None] = [None]
    prev = sets[0]
    for s_, v in zip(sets[1:], q[1:]):
        if s_ is None or prev is None:
            flags.append(None)
        else:
            union = prev | s_
            few = rule.quality_target is None or (v is not None and v < rule.quality_target)
            flags.append(bool(union) and len(prev & s_) / len(union) < 0.5 and few)
        prev = s_ if s_ is not None else prev
    return flags


def _rows(records: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]) -> list[Mapping[str, Any]]:
    if isinstance(records, Mapping):  # column -> series
        n = max((len(v) for v in records.values()), default=0)
        return [{k: (v[i] if i < len(v) else None) for k, v in records.items()} for i in range(n)]
    return list(records)


def detect_collapse(records: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
                    rule: CollapseRule = CollapseRule()) -> CollapseReport:
    """Apply ``rule`` to per-epoch ``records`` (rows as in ``metrics.csv``, or a dict of column series).

    Rows are taken in order; their ``epoch`` field names them (0, 1, ... when absent).
    """
    if rule.patience < 1:
        raise ValueError(f"patience must be at least 1, got {rule.patience}")
    rows = _rows(records)
    epochs = [int(r["epoch"]) if r.get("epoch") is not None else i for i, r in enumerate(rows)]
    found: list[tuple[int, str, str]] = []  # (epoch, criterion, reason)

    broken = _diverged(rows, epochs, rule.diverged_loss)
    if broken is not None:
        return CollapseReport(False, broken[0], broken[1], criteria=("diverged",), verdict="diverged")
    if len(rows) < rule.patience:
        return CollapseReport(False, None, f"{len(rows)} epochs recorded; the rule needs at least {rule.patience}",
                              verdict="undetermined")

    best_epoch = best_value = None
    q = [_value(r, rule.quality) for r in rows]
    reached, reached_how = _reached(rule, rows, epochs, q)

    def since_reached(flags: list[bool | None]) -> list[bool | None]:
        """An event counts only from the epoch quality was reached: what happened before is training."""
        return flags if reached is None else [False if e < reached else f for e, f in zip(epochs, flags)]

    if rule.quality is not None:
        present = [(v, e) for v, e in zip(q, epochs) if v is not None]
        if present:
            pick = min if rule.quality_mode == "min" else max
            best_value, best_epoch = pick(present, key=lambda p: p[0])
            how = f"{rule.margin:.0%}" if rule.margin_kind == "relative" else f"{rule.margin:g}"
            e = _first_sustained(epochs, since_reached(_worse_than_best(q, rule.quality_mode, rule.margin,
                                                                        rule.margin_kind)), rule.patience)
            if e is not None:
                i = epochs.index(e)
                prior = [v for v in q[: i + 1] if v is not None]
                best_then = min(prior) if rule.quality_mode == "min" else max(prior)
                found.append((e, "quality", f"{rule.quality} {q[i]:.4g} worse than its best so far "
                              f"{best_then:.4g} by more than {how} for {rule.patience} epochs"))
            if rule.quality_target is not None:
                t = rule.quality_target
                flags = [None if v is None else _worse_than(v, t, rule.quality_mode, rule.margin, rule.margin_kind)
                         for v in q]
                e = _trailing_stretch(epochs, flags, rule.patience)
                if e is not None:
                    i = epochs.index(e)
                    stretch = [v for v in q[i:] if v is not None]
                    edge = max(stretch) if rule.quality_mode == "max" else min(stretch)
                    side, at = ("below", "at most") if rule.quality_mode == "max" else ("above", "at least")
                    found.append((e, "target", f"{rule.quality} stayed more than {how} {side} the target {t:g} "
                                  f"({at} {edge:.4g}) from epoch {e} to the last epoch {epochs[-1]}"))

    if rule.diversity is not None:
        d = [_value(r, rule.diversity) for r in rows]
        e = _first_sustained(epochs, since_reached(_worse_than_best(d, "max", rule.diversity_drop, "relative")),
                             rule.patience)
        if e is not None:
            i = epochs.index(e)
            best_then = max(v for v in d[: i + 1] if v is not None)
            found.append((e, "diversity", f"{rule.diversity} {d[i]:.3g} fell below "
                          f"{1 - rule.diversity_drop:.0%} of its best so far {best_then:.3g} for {rule.patience} epochs"))
        if rule.diversity_floor is not None:
            e = _trailing_stretch(epochs, [None if v is None else v < rule.diversity_floor for v in d], rule.patience)
            if e is not None:
                found.append((e, "no diversity", f"{rule.diversity} stayed below {rule.diversity_floor:g} from "
                              f"epoch {e} to the last epoch {epochs[-1]}"))

    hops = _hopping(rule, rows, q)
    if hops is not None and (e := _first_sustained(epochs, since_reached(hops), rule.patience)) is not None:
        found.append((e, "mode hopping", f"the modes hit changed by more than half from epoch to epoch for "
                                         f"{rule.patience} epochs (mode hopping)"))

    if rule.win is not None:
        dx = [_value(r, "D_x") for r in rows]
        dgz = [_value(r, "D_G_z") for r in rows]
        d_wins = [None if a is None or b is None else (a >= rule.win and b <= 1 - rule.win) for a, b in zip(dx, dgz)]
        g_wins = [None if b is None else b >= rule.win for b in dgz]
        e = _first_sustained(epochs, since_reached(d_wins), rule.patience)
        if e is not None:
            i = epochs.index(e)
            found.append((e, "discriminator wins", f"discriminator wins outright: D(x) {dx[i]:.3f}, "
                          f"D(G(z)) {dgz[i]:.3g} for {rule.patience} epochs"))
        e = _first_sustained(epochs, since_reached(g_wins), rule.patience)
        if e is not None:
            i = epochs.index(e)
            found.append((e, "generator wins", f"discriminator fooled outright: D(G(z)) {dgz[i]:.3f} "
                          f"for {rule.patience} epochs"))

    found.sort(key=lambda f: f[0])
    criteria = tuple(f[1] for f in found)
    if reached is None:
        why = f"never reached quality ({reached_how})" + (f"; {found[0][2]}" if found else "")
        return CollapseReport(False, None, why, best_epoch, best_value, criteria, verdict="non-convergence")
    if not found:
        return CollapseReport(False, None, "no criterion held for the required number of epochs",
                              best_epoch, best_value, verdict="no collapse", reached_epoch=reached)
    dropped = [f for f in found if f[1] == "target"] if not _ever_near_target(rule, q) else []
    if dropped:  # too few modes, but never more: that dates nothing; the other criteria decide
        found = [f for f in found if f[1] != "target"]
        if not found:
            return CollapseReport(False, None, f"{dropped[0][2]}; it never came within the margin of the target "
                                  "at any recorded epoch, so no mode was lost: modes dropped from the start",
                                  best_epoch, best_value, criteria, verdict="partial coverage", reached_epoch=reached)
    epoch, cause, reason = found[0]
    return CollapseReport(True, max(epoch, reached), reason, best_epoch, best_value, criteria,
                          verdict="collapse", reached_epoch=reached, cause=cause)


def _ever_near_target(rule: CollapseRule, q: list[float | None]) -> bool:
    """Did the quality column come within the margin of ``quality_target`` at some recorded epoch?"""
    t = rule.quality_target
    return t is not None and any(v is not None and not _worse_than(v, t, rule.quality_mode, rule.margin,
                                                                    rule.margin_kind) for v in q)
