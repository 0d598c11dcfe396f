"""The record of a sampling sweep (``sample_ddim``, ``guidance``): one row per point, continued where a
killed sweep stopped, reused when finished, and never mixed with a sweep of other settings or models.

A sweep samples trained models that it does not train. Each point (a sampler and its steps, a guidance
scale) draws from a random stream seeded for that point alone, so a sweep resumed after its last logged
row gives the rows an uninterrupted sweep would have, on the same kind of device (a CUDA generator's
stream is not a CPU generator's, and a timing is of one machine). What must match for a folder's sweep
to be continued or reused:

- its settings: the parameters that define its points (``keys``, given by each notebook);
- the kind of device it samples on (``cpu``, ``cuda``);
- its models: each model run's folder name and ``start_time`` (the same run, wherever its folder is now)
  and its number of epochs (a run trained further is another model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from ..records import Record, RunRecord, jsonable, load_record
from .params import ParameterError

__all__ = ["model_identity", "open_sweep"]


def model_identity(records: Mapping[str, Record | None]) -> dict[str, Any]:
    """``{name: {"run", "start_time", "epochs"}}`` of each model run the sweep samples: its folder's name and
    start time (together, the same run wherever the folder is now; runs started at once by parallel
    workers differ by name) and its number of epochs; ``None``: no such model."""
    return {name: None if rec is None else {"run": rec.path.name, "start_time": rec.manifest.get("start_time"),
                                            "epochs": len(rec.rows)}
            for name, rec in records.items()}


def _plain(value: Any) -> Any:
    """``value`` as it reads back from a manifest (tuples as lists, non-finite floats as strings)."""
    return json.loads(json.dumps(jsonable(value)))


def _differences(record: Record, cfg: Mapping[str, Any], keys: Iterable[str], models: dict[str, Any],
                 device: torch.device) -> list[str]:
    found = [f"{k}: {record.params.get(k)!r} there, {_plain(cfg.get(k))!r} now" for k in sorted(keys)
             if _plain(record.params.get(k)) != _plain(cfg.get(k))]
    there = str(record.manifest.get("hardware", {}).get("device", "")).split(":")[0]
    if there != device.type:
        found.append(f"device: {there!r} there, {device.type!r} now")
    had = record.manifest.get("data", {}).get("models")
    if had != _plain(models):
        found.append(f"models: {had!r} there, {_plain(models)!r} now")
    return found


def open_sweep(path: Path, kind: str, cfg: Mapping[str, Any], keys: Iterable[str], data: Mapping[str, Any],
               models: Mapping[str, Record | None], device: torch.device) -> Record:
    """The sweep record in ``path``: a new :class:`RunRecord` (``data`` with the ``models``' identity), the
    sweep there continued (a :class:`RunRecord`: skip the points its ``rows`` hold), or, when that sweep
    finished, its :class:`Record` as it is (``manifest["status"] == "finished"``). A folder holding a sweep of
    other settings (``keys`` of ``cfg``), device or models is a :class:`ParameterError` naming each
    difference, before anything is sampled."""
    identity = model_identity(models)
    if not (path / "manifest.json").exists():
        return RunRecord(path, kind, dict(cfg), data={**data, "models": identity}, device=device)
    record = load_record(path)
    if record.manifest.get("kind") != kind:
        raise ParameterError(f"{path} holds a {record.manifest.get('kind')!r} run, not a {kind!r}; choose another "
                             "out_dir")
    if "models" not in record.manifest.get("data", {}):
        raise ParameterError(f"{path} holds a sweep recorded before sweeps named the models they sample, so it "
                             "cannot be continued or reused: delete that folder to sweep again there, or choose "
                             "another out_dir")
    found = _differences(record, cfg, keys, identity, device)
    if found:
        raise ParameterError(f"{path} holds a sweep of other settings or models ({'; '.join(found)}): delete that "
                             "folder to sweep again there, or choose another out_dir")
    return record if record.manifest.get("status") == "finished" else RunRecord.resume(path)
