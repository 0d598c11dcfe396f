"""The studies' learning-rate selection: what the rules compare (a metric averaged over a run's last
evaluations), and a grid that grows past an edge that wins.

A rate chosen at the edge of its grid is not bracketed: the rule may have stopped short of a better
rate beyond it. :func:`bracketed_selection` then adds one more step in that direction (the grid's own
factor, ×/÷3 here) and selects again, up to ``extend`` times, for every model alike.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Hashable, Mapping, Sequence, TypeVar

from .tables import round_sig

__all__ = ["tail_mean", "GRID_FACTOR", "beyond_edge", "bracketed_selection", "grid_label", "diverged"]

GRID_FACTOR = 3.0  # the studies' grids step ×/÷3 around each model's reference rate

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


def tail_mean(rows: list[dict[str, Any]], key: str, k: int) -> float:
    """The mean of ``key`` over the last ``k`` rows, skipping missing and non-finite values (NaN when
    none is left)."""
    values = [float(r[key]) for r in rows[-k:] if r.get(key) is not None and math.isfinite(float(r[key]))]
    return sum(values) / len(values) if values else math.nan


def diverged(record: Any) -> bool:
    """Whether a run stopped on a non-finite loss (its manifest says failed, with the trainer's
    ``NonFiniteLossError`` and the step): training diverged at its learning rate, which a selection
    then ranks last instead of stopping the study; any other failure is not a verdict on the rate."""
    manifest = record.manifest
    return manifest.get("status") == "failed" and str(manifest.get("error", "")).startswith("NonFiniteLossError")


def beyond_edge(lrs: Sequence[float], chosen: float, factor: float = GRID_FACTOR) -> float | None:
    """The next rate past the edge of ``lrs`` that ``chosen`` sits on (``chosen / factor`` below the
    lowest, ``chosen * factor`` above the highest, to two significant figures), or ``None`` when
    ``chosen`` lies inside the grid or the grid has one rate (no direction to extend in)."""
    if chosen not in lrs:
        raise ValueError(f"the chosen rate {chosen:g} is not in the grid {sorted(lrs)}")
    if len(set(lrs)) < 2:
        return None
    if chosen == min(lrs):
        return round_sig(chosen / factor)
    if chosen == max(lrs):
        return round_sig(chosen * factor)
    return None


def bracketed_selection(grids: Mapping[K, Sequence[float]],
                        train: Callable[[list[tuple[K, float]]], Mapping[tuple[K, float], R]],
                        pick: Callable[[Mapping[float, R]], float], extend: int,
                        factor: float = GRID_FACTOR) -> tuple[dict[K, float], dict[tuple[K, float], R]]:
    """Select a rate for every group (a model, or a model on one mixture) from its grid, extending the
    grid past an edge that wins.

    ``train(jobs)`` finishes the selection runs ``[(group, lr), ...]`` (all at once, so that they can
    share workers) and returns their records by ``(group, lr)``; ``pick(records_by_lr)`` is the
    study's rule. After the grids, every group whose pick is at an edge gets one rate more past it
    (:func:`beyond_edge`) and is picked again; this repeats until no pick is at an edge or ``extend``
    rounds are spent. Returns the chosen rate of each group and every selection record."""
    if extend < 0:
        raise ValueError(f"extend = {extend} must be >= 0")
    lrs = {g: sorted(set(v)) for g, v in grids.items()}
    records = dict(train([(g, lr) for g, v in lrs.items() for lr in v]))

    def choose(g: K) -> float:
        return pick({lr: records[g, lr] for lr in lrs[g]})

    chosen = {g: choose(g) for g in lrs}
    for _ in range(extend):
        new = [(g, lr) for g in lrs if (lr := beyond_edge(lrs[g], chosen[g], factor)) is not None]
        if not new:
            break
        records.update(train(new))
        for g, lr in new:
            lrs[g] = sorted(lrs[g] + [lr])
            chosen[g] = choose(g)
    return chosen, records


def grid_label(lr: float, grid: Sequence[float]) -> str:
    """How a selection table says where ``lr`` came from: the given ``grid``, or a step past its edge."""
    return "yes" if lr in grid else "added past the edge that won"
