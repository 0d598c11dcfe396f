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

Epochs where a column is missing or NaN are skipped by that criterion (a metric evaluated every few
epochs counts its patience in evaluations). A sustained degradation still running when the records end
but shorter than ``patience`` is not reported. On the 2D mixtures the quality column is ``modes_hit``,
so a collapse there means modes lost: :meth:`CollapseRule.for_mixture`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

__all__ = ["CollapseReport", "CollapseRule", "detect_collapse", "sample_diversity"]


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
    win: float | None = 0.99
    patience: int = 3

    @classmethod
    def for_images(cls, quality: str | None = "fd_classifier", **kw: Any) -> CollapseRule:
        """A Frechet-distance-like column (lower is better) as quality."""
        return cls(quality=quality, quality_mode="min", **kw)

    @classmethod
    def for_mixture(cls, num_modes: int | None = None, **kw: Any) -> CollapseRule:
        """2D mixtures: collapse is losing more than ``margin`` of the modes hit, of the best so far or,
        given ``num_modes``, of the mixture's own modes when training stops."""
        return cls(quality="modes_hit", quality_mode="max", quality_target=num_modes, **kw)


@dataclass(frozen=True)
class CollapseReport:
    """What the rule found: ``str()`` is ``"no collapse"`` or ``"collapse at epoch N: <reason>"``."""

    collapsed: bool
    epoch: int | None
    reason: str
    best_epoch: int | None = None
    best_value: float | None = None
    criteria: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"collapse at epoch {self.epoch}: {self.reason}" if self.collapsed else "no collapse"

    def as_dict(self) -> dict[str, Any]:
        return {"collapsed": self.collapsed, "epoch": self.epoch, "reason": self.reason,
                "best_epoch": self.best_epoch, "best_value": self.best_value, "criteria": list(self.criteria)}


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

    best_epoch = best_value = None
    if rule.quality is not None:
        q = [_value(r, rule.quality) for r in rows]
        present = [(v, e) for v, e in zip(q, epochs) if v is not None]
        if present:
            pick = min if rule.quality_mode == "min" else max
            best_value, best_epoch = pick(present, key=lambda p: p[0])
            how = f"{rule.margin:.0%}" if rule.margin_kind == "relative" else f"{rule.margin:g}"
            e = _first_sustained(epochs, _worse_than_best(q, rule.quality_mode, rule.margin, rule.margin_kind),
                                 rule.patience)
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
        e = _first_sustained(epochs, _worse_than_best(d, "max", rule.diversity_drop, "relative"), rule.patience)
        if e is not None:
            i = epochs.index(e)
            best_then = max(v for v in d[: i + 1] if v is not None)
            found.append((e, "diversity", f"{rule.diversity} {d[i]:.3g} fell below "
                          f"{1 - rule.diversity_drop:.0%} of its best so far {best_then:.3g} for {rule.patience} epochs"))

    if rule.win is not None:
        dx = [_value(r, "D_x") for r in rows]
        dgz = [_value(r, "D_G_z") for r in rows]
        d_wins = [None if a is None or b is None else (a >= rule.win and b <= 1 - rule.win) for a, b in zip(dx, dgz)]
        g_wins = [None if b is None else b >= rule.win for b in dgz]
        e = _first_sustained(epochs, d_wins, rule.patience)
        if e is not None:
            i = epochs.index(e)
            found.append((e, "discriminator wins", f"discriminator wins outright: D(x) {dx[i]:.3f}, "
                          f"D(G(z)) {dgz[i]:.3g} for {rule.patience} epochs"))
        e = _first_sustained(epochs, g_wins, rule.patience)
        if e is not None:
            i = epochs.index(e)
            found.append((e, "generator wins", f"discriminator fooled outright: D(G(z)) {dgz[i]:.3f} "
                          f"for {rule.patience} epochs"))

    if not found:
        return CollapseReport(False, None, "no criterion held for the required number of epochs",
                              best_epoch, best_value)
    found.sort(key=lambda f: f[0])
    epoch, _, reason = found[0]
    return CollapseReport(True, epoch, reason, best_epoch, best_value, tuple(f[1] for f in found))
