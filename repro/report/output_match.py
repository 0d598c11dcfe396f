"""Stored notebook outputs compared with a tolerance on their numbers.

``pytest --nbval`` compares each cell's output with the one stored in the notebook, character by
character. The smoke runs behind those outputs train for seconds, and torch's CPU kernels (ATen, oneDNN,
MKL) sum in a different order on an AVX2 machine than on an AVX-512 one, so a loss or a distance can
differ in its third significant figure between two machines that run the same commit. :func:`same_text`
treats two texts as the same when everything but their numbers is identical and each pair of numbers
agrees within a relative tolerance: a changed label, row, column, unit or count of numbers still
fails, and so does a number that moved by more than the tolerance.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REL_TOL", "ABS_TOL", "same_text", "reconcile_outputs"]

REL_TOL = 0.05  # a smoke number may move this much between CPUs
ABS_TOL = 1e-3  # and this much near zero
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _value(token: str) -> float:
    return float(token.replace(",", ""))


def same_text(ref: str, test: str, rel: float = REL_TOL, abs_tol: float = ABS_TOL) -> bool:
    """Whether ``test`` reads as ``ref``: the same text between the numbers, and each number within
    ``rel`` of the larger of the pair in magnitude, or within ``abs_tol``."""
    if ref == test:
        return True
    if _NUMBER.split(ref) != _NUMBER.split(test):
        return False
    pairs = zip(_NUMBER.findall(ref), _NUMBER.findall(test))
    return all(abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_tol)
               for a, b in ((_value(x), _value(y)) for x, y in pairs))


def reconcile_outputs(ref: list[Any], test: list[Any], clean=lambda s: s) -> list[Any]:
    """``test`` (a cell's new outputs) with every string that :func:`same_text` finds equal to the stored
    one at the same place in ``ref`` replaced by the stored string, so that an exact comparison after it
    passes; ``clean`` (e.g. nbval's sanitiser) is applied to both strings before they are compared.
    Outputs are matched by position and by key; anything else is left as it was."""
    def merge(r: Any, t: Any) -> Any:
        if isinstance(r, str) and isinstance(t, str):
            return r if same_text(clean(r), clean(t)) else t
        if isinstance(r, dict) and isinstance(t, dict):
            return type(t)({k: merge(r[k], v) if k in r else v for k, v in t.items()})
        return t

    return [merge(r, t) for r, t in zip(ref, test)] + list(test[len(ref):])
