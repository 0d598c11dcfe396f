"""The record of a sampling sweep (``sample_ddim``, ``guidance``): one row per point, continued where a
killed sweep stopped, reused when finished, and never mixed with a sweep of other settings or models.

A sweep samples trained models that it does not train. Each point (a sampler and its steps, a guidance
scale) draws from a random stream seeded for that point alone, so a sweep resumed after its last logged
row gives the rows an uninterrupted sweep would have. What must match for a folder's sweep to be
continued or reused:

- its settings: every parameter but where things are (``out_dir``, ``runs_dir``, the model runs' paths),
  the device and the profile;
- its models: each model run's ``start_time`` (the same run, wherever its folder is now) and its number of
  epochs (a run trained further is another model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch

from ..records import Record, RunRecord, load_record
from .params import ParameterError

__all__ = ["LOCATION_KEYS", "model_identity", "open_sweep"]

# parameters that say where things are or what runs the sweep, not what it samples
LOCATION_KEYS = frozenset({"out_dir", "runs_dir", "ddpm_run", "gan_run", "device", "profile", "resume"})


def model_identity(records: Mapping[str, Record | None]) -> dict[str, Any]:
    """``{name: {"start_time", "epochs"}}`` of each model run the sweep samples (``None``: no such model)."""
    return {name: None if rec is None else {"start_time": rec.manifest.get("start_time"), "epochs": len(rec.rows)}
            for name, rec in records.items()}


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _differences(record: Record, cfg: Mapping[str, Any], models: dict[str, Any]) -> list[str]:
    old = {k: v for k, v in record.params.items() if k not in LOCATION_KEYS}
    new = {k: v for k, v in _plain(dict(cfg)).items() if k not in LOCATION_KEYS}
    found = [f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in sorted(old.keys() | new.keys())
             if old.get(k) != new.get(k)]
    had = record.manifest.get("data", {}).get("models")
    if had != _plain(models):
        found.append(f"models: {had!r} there, {_plain(models)!r} now")
    return found


def open_sweep(path: Path, kind: str, cfg: Mapping[str, Any], data: Mapping[str, Any],
               models: Mapping[str, Record | None], device: torch.device) -> Record:
    """The sweep record in ``path``: a new :class:`RunRecord` (``data`` with the ``models``' identity), the
    sweep there continued (a :class:`RunRecord`: skip the points its ``rows`` hold), or, when that sweep
    finished, its :class:`Record` as it is (``manifest["status"] == "finished"``). A folder holding a sweep of
    other settings or models is a :class:`ParameterError` naming each difference, before anything is sampled."""
    identity = model_identity(models)
    if not (path / "manifest.json").exists():
        return RunRecord(path, kind, dict(cfg), data={**data, "models": identity}, device=device)
    record = load_record(path)
    if record.manifest.get("kind") != kind:
        raise ParameterError(f"{path} holds a {record.manifest.get('kind')!r} run, not a {kind!r}; choose another "
                             "out_dir")
    found = _differences(record, cfg, identity)
    if found:
        raise ParameterError(f"{path} holds a sweep of other settings or models ({'; '.join(found)}): delete that "
                             "folder to sweep again there, or choose another out_dir")
    return record if record.manifest.get("status") == "finished" else RunRecord.resume(path)
