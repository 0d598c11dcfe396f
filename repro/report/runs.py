"""Where a notebook's run writes, on which device, and whether it continues an earlier run.

A notebook's ``out_dir`` defaults to ``runs/<profile>/<notebook>`` (a fresh temporary folder for the
``smoke`` profile, so that validating the notebooks never touches earlier results). A folder that
already holds a run is only reused with ``resume=True``, which continues from its last checkpoint.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..records import Record, load_record
from .params import ParameterError, Rule

__all__ = ["DEVICE", "GPUS", "OVERRIDES", "continue_run", "output_dir", "pick_device", "positive", "study_root"]

DEVICE = Rule(str, choices=("auto", "cpu", "cuda"))  # the notebooks' ``device`` parameter, see pick_device
# the training notebooks' ``gpus``: processes under torchrun (repro.report.launch); 1 trains in the notebook
GPUS = Rule(int, minimum=1, help="processes, one per GPU (gloo workers on a CPU); 1: train in this process")
# the training notebooks' ``overrides``: settings a resume may change, recorded in the manifest
OVERRIDES = Rule(list, help="names of settings a resume may change, e.g. [lr]")


def positive(*names: str):
    """A constraint: each of ``names`` (when set) is > 0."""
    def check(cfg: Mapping[str, Any]) -> str | None:
        bad = [f"parameter {n!r} = {cfg[n]} must be > 0" for n in names if cfg.get(n) is not None and cfg[n] <= 0]
        return "; ".join(bad) or None
    return check


def study_root(notebook: str, cfg: Mapping[str, Any]) -> Path:
    """The folder a notebook writes its runs into: ``out_dir``, else a fresh temporary folder for the
    smoke profile, else ``runs/<profile>/<notebook>``."""
    if cfg.get("out_dir"):
        return Path(cfg["out_dir"])
    if cfg["profile"] == "smoke":
        return Path(tempfile.mkdtemp(prefix=f"{notebook}-smoke-"))
    return Path("runs") / cfg["profile"] / notebook


def output_dir(notebook: str, cfg: Mapping[str, Any], checkpoint: str = "checkpoints/last.pt") -> Path:
    """The run folder for ``cfg`` (keys ``out_dir``, ``resume``, ``profile``), checked against ``resume``."""
    out = study_root(notebook, cfg)
    if not cfg.get("out_dir") and cfg["profile"] == "smoke":
        out = out / "run"
    if out.exists() and not out.is_dir():
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} is a file, not a folder; choose a folder")
    has_run = (out / "manifest.json").exists()
    if has_run and not (out / checkpoint).exists() and "resume" in cfg:
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} holds a run that stopped before its first "
                             f"checkpoint ({_status(out)}): there is nothing to resume. Delete that folder to start "
                             "over there, or choose another out_dir")
    if cfg.get("resume"):
        if not (out / checkpoint).exists():
            raise ParameterError(f"parameter 'resume' = True, but {out / checkpoint} does not exist; "
                                 "run without resume to start, or set 'out_dir' to the folder of the run to continue")
    elif has_run and "resume" in cfg:
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} already holds a run; pass -p resume True to "
                             "continue it from its last checkpoint, or choose another out_dir")
    elif has_run:  # a notebook without a resume parameter (e.g. sample_ddim) starts over elsewhere
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} already holds a run; choose another out_dir, "
                             "or delete that folder to redo the run there")
    return out


def continue_run(train: Callable[..., Record], config: Any, data: Any, out: Path, **kw: Any) -> Record:
    """A finished run of ``config.epochs`` epochs in ``out``: the record as it is when it has them, else
    ``train(config, data, out, resume=..., **kw)``, continuing from the last checkpoint when there is one
    (a run resumed with more epochs continues exactly). A run that stopped before its first checkpoint
    is named, with the fix."""
    if (out / "manifest.json").exists():
        record = load_record(out)
        if record.manifest.get("status") == "finished" and len(record.rows) >= config.epochs:
            return record
    resume = (out / "checkpoints" / "last.pt").exists()
    if (out / "manifest.json").exists() and not resume:
        raise ParameterError(f"{out} holds a run that stopped before its first checkpoint ({_status(out)}); "
                             "delete that folder and run again")
    return train(config, data, out, resume=resume, **kw)


def _status(out: Path) -> str:
    """The manifest's status and error, in words."""
    import json

    try:
        m = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return "its manifest cannot be read"
    return f"status {m.get('status')!r}" + (f", error {m['error']!r}" if m.get("error") else "")


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"``: the GPU when there is one, else the CPU; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"parameter 'device' = {name!r}, but no CUDA GPU is visible; use 'auto' or 'cpu'")
    return torch.device(name)
