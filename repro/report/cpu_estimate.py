"""How long a notebook's configuration would take on this project's reference CPU.

The throughputs are the fp32 rows of ``book/results/bench/cpu.json`` (``make bench`` on a 2-thread AMD
EPYC); :func:`cpu_estimate` turns them into training time for ``train_gan`` and ``train_ddpm`` and a
lower bound for ``sample_ddim``. It is what :func:`repro.report.params.setup` quotes when the
paper-scale ``gpu`` profile would run on a CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

__all__ = ["cpu_estimate", "BENCH", "TRAIN_SIZES"]

BENCH = Path(__file__).resolve().parents[2] / "book" / "results" / "bench" / "cpu.json"
TRAIN_SIZES = {"cifar10": 50_000, "cifar10-jpeg": 50_000, "fashion-mnist": 60_000}


def _rate(rows: list[dict], prefix: str, key: str | None = None) -> float | None:
    """The fp32 row whose workload starts with ``prefix``: its value, or ``details[key]``."""
    for r in rows:
        if r.get("workload", "").startswith(prefix) and r.get("precision") == "fp32":
            return float(r["details"][key]) if key else float(r["value"])
    return None


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"


def cpu_estimate(notebook: str, cfg: Mapping[str, Any], bench: Path = BENCH) -> str | None:
    """A sentence with the estimated CPU time of ``cfg``, or ``None`` when no measurement covers it."""
    try:
        rows = json.loads(Path(bench).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return None
    source = "book/results/bench/cpu.json"
    if notebook in ("train_gan", "train_ddpm"):
        n = cfg.get("subset") or TRAIN_SIZES.get(cfg.get("dataset"))
        if notebook == "train_gan":
            size = cfg.get("image_size")
            rate, what = _rate(rows, f"DCGAN training {size}x{size}"), f"DCGAN {size}x{size}"
        else:
            rate, what = _rate(rows, f"DDPM U-Net training, {cfg.get('model')} ("), f"U-Net '{cfg.get('model')}'"
        if not (n and rate and cfg.get("epochs")):
            return None
        s = n * cfg["epochs"] / rate
        return (f"about {_duration(s)} of training steps alone ({cfg['epochs']} epochs x {n:,} images at "
                f"{rate:.3g} images/s for the {what}, {source})")
    if notebook == "sample_ddim":
        per = _rate(rows, "sampling, ddim 10 steps, tiny", key="s_per_image_per_step")
        steps, samplers = cfg.get("steps") or [], cfg.get("samplers") or []
        if not (per and steps and samplers and cfg.get("n_samples")):
            return None
        s = per * cfg["n_samples"] * sum(steps) * len(samplers)
        return (f"at least {_duration(s)} ({cfg['n_samples']:,} samples x {sum(steps)} steps x {len(samplers)} "
                f"samplers at {per * 1e3:.3g} ms per image per step for the smallest U-Net, {source})")
    return None
