"""What the studies' learning-rate selection rules compare: a metric averaged over a run's last evaluations."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["tail_mean"]


def tail_mean(rows: list[dict[str, Any]], key: str, k: int) -> float:
    """The mean of ``key`` over the last ``k`` rows, skipping missing and non-finite values (NaN when
    none is left)."""
    values = [float(r[key]) for r in rows[-k:] if r.get(key) is not None and math.isfinite(float(r[key]))]
    return sum(values) / len(values) if values else math.nan
