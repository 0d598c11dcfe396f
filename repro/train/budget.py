"""A training budget in FLOPs, and the rule that says a quality curve has flattened.

Two models compared at matched compute each get the same budget ``B`` FLOPs of training (counted per
example by :func:`repro.train.compute.training_flops_per_example`): a model whose step costs ``f``
FLOPs per example trains at most ``B / (f N)`` epochs of ``N`` examples (:func:`epochs_for_budget`).
It stops earlier when its quality curve has flattened (:func:`flattened`), so that neither side is
stopped while still improving, and neither spends budget past the point where it stopped improving.
A run stopped at a fixed length reports how much its last epochs still improved (:func:`late_change`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["epochs_for_budget", "flattened", "late_change"]


def epochs_for_budget(budget_flops: float, flops_per_example: float, examples_per_epoch: int) -> int:
    """The most whole epochs that fit in ``budget_flops`` (at least 1)."""
    if budget_flops <= 0 or flops_per_example <= 0 or examples_per_epoch <= 0:
        raise ValueError(f"budget ({budget_flops}), FLOPs per example ({flops_per_example}) and examples per "
                         f"epoch ({examples_per_epoch}) must all be > 0")
    return max(1, math.floor(budget_flops / (flops_per_example * examples_per_epoch)))


def flattened(rows: Sequence[dict[str, Any]], key: str, patience: int, min_improvement: float,
              mode: str = "min") -> bool:
    """Whether the last ``patience`` values of ``key`` (rows without it skipped) failed to beat the best
    value before them by a relative ``min_improvement`` (e.g. 0.02: 2%). ``mode`` "min" for a distance,
    "max" for a score. Too few values to judge: ``False``."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    values = [float(r[key]) for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]
    if len(values) <= patience:
        return False
    before, recent = values[:-patience], values[-patience:]
    if mode == "min":
        return min(recent) > min(before) * (1 - min_improvement)
    return max(recent) < max(before) * (1 + min_improvement)


def late_change(values: Sequence[float | None], k: int) -> float:
    """How much the best (lowest) of the last ``k`` values beat the best before them, as a relative change
    (-0.1: 10% lower; for a distance, negative means still improving); values that are ``None`` or not
    finite are skipped, and ``k`` values or fewer give NaN."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if len(vals) <= k:
        return math.nan
    return min(vals[-k:]) / min(vals[:-k]) - 1
