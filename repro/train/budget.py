"""A training budget in FLOPs, and the rule that says a quality curve has flattened.

Two models compared at matched compute each get the same budget ``B`` FLOPs of training (counted per
example by :func:`repro.train.compute.training_flops_per_example`): a model whose step costs ``f``
FLOPs per example trains at most ``B / (f N)`` epochs of ``N`` examples (:func:`epochs_for_budget`).
It stops earlier when its quality curve has flattened (:func:`flattened`: the mean of its last
evaluations no longer beats the mean of those before by a set share), so that neither side is stopped
while still improving, and neither spends budget past the point where it stopped improving.
A run stopped at a fixed length reports whether its last epochs still improved: :func:`window_change`
and :func:`trend` compare the mean of its last values with the mean of those before (a window's mean,
not its best value: the minimum of a noisy curve keeps falling by chance after the curve has flattened).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["epochs_for_budget", "flattened", "window_gain", "window_change", "trend"]


def epochs_for_budget(budget_flops: float, flops_per_example: float, examples_per_epoch: int) -> int:
    """The most whole epochs that fit in ``budget_flops`` (at least 1)."""
    if budget_flops <= 0 or flops_per_example <= 0 or examples_per_epoch <= 0:
        raise ValueError(f"budget ({budget_flops}), FLOPs per example ({flops_per_example}) and examples per "
                         f"epoch ({examples_per_epoch}) must all be > 0")
    return max(1, math.floor(budget_flops / (flops_per_example * examples_per_epoch)))


def _window_means(rows: Sequence[dict[str, Any]], key: str, window: int, mode: str) -> tuple[float, float] | None:
    """The mean of the last ``window`` finite values of ``key`` and of the ``window`` before them (rows
    without it skipped); ``None`` with fewer than ``2 window`` values."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    values = [float(r[key]) for r in rows if r.get(key) is not None and math.isfinite(float(r[key]))]
    if len(values) < 2 * window:
        return None
    return sum(values[-window:]) / window, sum(values[-2 * window:-window]) / window


def flattened(rows: Sequence[dict[str, Any]], key: str, window: int, min_improvement: float,
              mode: str = "min") -> bool:
    """Whether the mean of the last ``window`` values of ``key`` (rows without it skipped) failed to beat
    the mean of the ``window`` values before them by a relative ``min_improvement`` (e.g. 0.02: 2%).
    ``mode`` "min" for a distance, "max" for a score. Fewer than ``2 window`` values: ``False``.

    Window means, not the best value so far: a noisy curve's minimum keeps falling by chance, so a rule
    that asks the last values to beat it stops curves that are still improving (a DCGAN whose FD fell
    by a third over its next 20 epochs read as flat after 20)."""
    means = _window_means(rows, key, window, mode)
    if means is None:
        return False
    recent, before = means
    if mode == "min":
        return recent > before * (1 - min_improvement)
    return recent < before * (1 + min_improvement)


def window_gain(rows: Sequence[dict[str, Any]], key: str, window: int, mode: str = "min") -> float:
    """What :func:`flattened` compares with its ``min_improvement``: the relative gain of the mean of the
    last ``window`` values of ``key`` over the mean of the ``window`` before them (0.05: 5% better, lower
    for a distance with ``mode`` "min"; negative: worse); NaN with fewer than ``2 window`` values or an
    earlier mean of 0."""
    means = _window_means(rows, key, window, mode)
    if means is None:
        return math.nan
    recent, before = means
    if before == 0:  # no relative gain over nothing
        return math.nan
    return (before - recent) / before if mode == "min" else (recent - before) / before


def window_change(values: Sequence[float | None], k: int) -> tuple[float, float]:
    """The mean of the last ``k`` values minus the mean of the ``k`` before them, and the standard error
    of that difference, sqrt(s1^2 / k + s2^2 / k) with each window's sample variance (the values taken as
    independent draws around each window's mean). Values that are ``None`` or not finite are skipped;
    fewer than ``2 k`` values, or ``k`` < 2, give ``(nan, nan)``."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if k < 2 or len(vals) < 2 * k:
        return math.nan, math.nan
    recent, before = vals[-k:], vals[-2 * k:-k]

    def mean_var(xs: list[float]) -> tuple[float, float]:
        m = sum(xs) / len(xs)
        return m, sum((x - m) ** 2 for x in xs) / (len(xs) - 1)

    (m1, v1), (m0, v0) = mean_var(recent), mean_var(before)
    return m1 - m0, math.sqrt(v1 / k + v0 / k)


def trend(values: Sequence[float | None], k: int, tol: float = 0.0, z: float = 2.0, mode: str = "max") -> str:
    """What :func:`window_change` says of a score's last ``2 k`` values: "improving" or "worsening" when
    the change exceeds both ``z`` standard errors and ``tol`` (the smallest change that matters, in the
    score's units) in that direction (``mode`` "max" for a score, "min" for a distance), "flat"
    otherwise, and "too short" with fewer than ``2 k`` values. Consecutive epochs of one run are
    correlated, so the standard error is too small: past ``tol`` the rule errs towards "improving"."""
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    delta, se = window_change(values, k)
    if math.isnan(delta):
        return "too short"
    if abs(delta) <= max(z * se, tol):
        return "flat"
    return "improving" if (delta > 0) == (mode == "max") else "worsening"
