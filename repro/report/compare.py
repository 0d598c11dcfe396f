"""The ``compare`` notebook: our measurements beside the seed report's Table 1 and published anchors.

Every row says where its numbers come from: a run of this repository (the path of its record, whose
manifest gives commit, parameters, data, hardware and wall time) or a paper (with its table), and
the protocol behind them (data, number of samples, reference split, feature extractor).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..records import load_record
from .evaluation import EVALUATION
from .params import Rule, setup_for

__all__ = ["NOTEBOOK", "RULES", "ANCHORS", "DDIM_STEPS", "setup", "our_rows", "sampling_rows", "toy_rows"]

NOTEBOOK = "compare"
RULES = {"runs_dir": Rule(str, optional=True, exists=True,
                         help="run the other notebooks first (python -m repro.report run --profile cpu --out DIR) "
                              "and pass DIR/runs")}

_SEED = "seed report, Table 1 (protocol not stated)"
ANCHORS: list[dict[str, Any]] = [
    {"model": "DCGAN", "data": "CIFAR-10 (as reported)", "FID": 20.0, "IS": 2.50, "precision": 0.64, "recall": 0.60,
     "protocol": "not stated", "source": _SEED},
    {"model": "diffusion", "data": "CIFAR-10 (as reported)", "FID": 30.0, "IS": 1.75, "precision": 0.78,
     "recall": 0.56, "protocol": "not stated", "source": _SEED},
    {"model": "DDPM (L_simple, 1000 steps)", "data": "CIFAR-10", "FID": 3.17, "IS": 9.46,
     "protocol": "50k samples vs training set, TF Inception", "source": "Ho et al. 2020, Table 1"},
    {"model": "DCGAN", "data": "CIFAR-10", "FID": 37.0,
     "protocol": "TF Inception; figure rounded to the nearest integer", "source": "Heusel et al. 2017 (TTUR)"},
]
# Song et al. 2021, Table 1, CIFAR-10 FID of a DDPM-trained model sampled with S steps
DDIM_STEPS: dict[str, dict[int, float]] = {
    "DDIM eta = 0": {10: 13.36, 20: 6.84, 50: 4.67, 100: 4.16, 1000: 4.04},
    "DDIM eta = 1": {10: 41.07, 20: 18.36, 50: 8.01, 100: 5.78, 1000: 4.73},
}


setup = setup_for(NOTEBOOK, RULES)  # experiment.setup(globals()) in the notebook; runs_dir must exist


def _evaluation(run: Path) -> dict[str, Any] | None:
    path = run / EVALUATION
    return json.loads(path.read_text()) if path.exists() else None


def our_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """One row per evaluated model of ``runs_dir`` (``train_gan``, ``train_ddpm``), with its protocol."""
    rows: list[dict[str, Any]] = []
    if runs_dir is None:
        return rows
    for name, model in (("train_gan", "DCGAN (ours)"), ("train_ddpm", "DDPM, hybrid loss (ours)")):
        run = Path(runs_dir) / name
        ev = _evaluation(run)
        if ev is None:
            continue
        r, p = ev["result"], ev["params"]
        rec = load_record(run)
        sampler = f", DDIM {p['steps']} steps" if "steps" in p else ""
        rows.append({
            "model": model + sampler, "data": rec.manifest["data"]["label"], "FID": r.get("fid"),
            "classifier score": r.get("classifier_score"), "precision": r.get("precision"), "recall": r.get("recall"),
            "density": r.get("density"), "coverage": r.get("coverage"), "classes hit": r.get("classes_hit"),
            "protocol": f"{r['n']} samples vs {r['n_reference']} of the {r['reference']}, {r.get('extractor')}",
            "source": f"our run: {run.name}/evaluation.json ({rec.manifest.get('hardware', {}).get('gpu') or 'CPU'}"
                      + (f", profile {p['profile']})" if "profile" in p else ")"),
        })
    return rows


def sampling_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """The ``sample_ddim`` sweep of ``runs_dir`` (empty when absent)."""
    if runs_dir is None or not (Path(runs_dir) / "sample_ddim" / "manifest.json").exists():
        return []
    return load_record(Path(runs_dir) / "sample_ddim").rows


def toy_rows(runs_dir: str | Path | None) -> list[dict[str, Any]]:
    """Last-epoch mode coverage of every ``toy_modes`` run in ``runs_dir``."""
    rows: list[dict[str, Any]] = []
    root = Path(runs_dir) / "toy_modes" if runs_dir is not None else None
    if root is None or not root.is_dir():
        return rows
    for manifest in sorted(root.glob("*/*/manifest.json")):
        rec = load_record(manifest.parent)
        if rec.rows:
            mixture, (model, seed) = manifest.parent.parent.name, manifest.parent.name.split("-seed")
            rows.append({"mixture": mixture, "model": model, "seed": int(seed),
                         "modes_hit": rec.rows[-1]["modes_hit"],
                         "high_quality_fraction": rec.rows[-1]["high_quality_fraction"]})
    return rows
