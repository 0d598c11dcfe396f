"""Where a notebook's run writes, on which device, and whether it continues an earlier run.

A notebook's ``out_dir`` defaults to ``runs/<profile>/<notebook>`` (a fresh temporary folder for the
``smoke`` profile, so that validating the notebooks never touches earlier results; it is removed when
the process that made it exits). A folder that
already holds a run is only reused with ``resume=True``, which continues from its last checkpoint.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from ..records import Record, load_record
from .params import ParameterError, Rule

__all__ = ["DEVICE", "GPUS", "OVERRIDES", "WORKERS", "continue_run", "output_dir", "pick_device", "positive",
           "study_root", "study_run", "stopped_study_run", "STOP_NOTE", "in_workers", "finished_run", "pages_of", "read_timings"]

STOP_NOTE = "stop.json"  # written into an images-study seed's folder when the study stops training it
DEVICE = Rule(str, choices=("auto", "cpu", "cuda"))  # the notebooks' ``device`` parameter, see pick_device
# the training notebooks' ``gpus``: processes under torchrun (repro.report.launch); 1 trains in the notebook
GPUS = Rule(int, minimum=1, help="processes, one per GPU (gloo workers on a CPU); 1: train in this process")
# a study's ``workers``: runs trained at once, on a CPU or sharing a GPU (see in_workers)
WORKERS = Rule(int, minimum=1, help="runs trained at once, one process and thread each (on a GPU, sharing it)")
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
    smoke profile (removed when this process exits, so that validating the notebooks leaves nothing
    behind), else ``runs/<profile>/<notebook>``."""
    if cfg.get("out_dir"):
        return Path(cfg["out_dir"])
    if cfg["profile"] == "smoke":
        root = Path(tempfile.mkdtemp(prefix=f"{notebook}-smoke-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        return root
    return Path("runs") / cfg["profile"] / notebook


def read_timings(results: str | Path) -> dict[str, Any]:
    """``results/timings.json``, which ``python -m repro.report run`` writes (each page's profile, times and
    notebook; the checkout and machine); ``{}`` when there is none."""
    import json

    path = Path(results) / "timings.json"
    return json.loads(path.read_text()) if path.exists() else {}


def pages_of(results: str | Path, notebook: str) -> list[str]:
    """The book pages of ``notebook`` under ``results`` (its own, and any ``--as PAGE`` study of it), by
    :func:`read_timings`; each page's runs are in ``results/runs/<page>``. Empty when nothing is recorded."""
    pages = read_timings(results).get("notebooks", {})
    return sorted(page for page, entry in pages.items() if entry.get("notebook", page) == notebook)


def study_run(runs_dir: str | Path | None, model: str) -> Path | None:
    """The first seed's run of ``model`` ("ddpm" or "gan") at the learning rate the ``images`` study chose
    (the only one it trains seeds of), under ``runs_dir/images``, passing over seeds that diverged (seed 0
    unless it did); ``None`` when there is none, or the folder holds seeds of more than one rate."""
    from .selection import diverged

    if runs_dir is None:
        return None
    found = [p for p in (Path(runs_dir) / "images" / model).glob("lr*-seed*") if p.name.rsplit("-seed", 1)[1].isdigit()]
    if len({p.name.rsplit("-seed", 1)[0] for p in found}) != 1:
        return None
    kept = [p for p in sorted(found, key=lambda p: int(p.name.rsplit("-seed", 1)[1]))
            if not ((p / "manifest.json").exists() and diverged(load_record(p)))]
    return kept[0] if kept else None


def stopped_study_run(runs_dir: str | Path | None, model: str) -> Path | None:
    """:func:`study_run`, once the study has stopped that seed (its ``stop.json`` written: budget spent or
    curve flat). Between two chunks a seed's record reads "finished" for the chunk it trained, so a
    sweep or a twin built on it then would read a model the study is still training: that raises
    :class:`ParameterError`, naming the run, before any work."""
    path = study_run(runs_dir, model)
    if path is not None and not (path / STOP_NOTE).exists():
        raise ParameterError(f"{path} is still being trained by the images study (it has no stop.json yet): "
                             "run the images notebook until its first seed of each model has stopped, then this one")
    return path


def output_dir(notebook: str, cfg: Mapping[str, Any], checkpoint: str = "checkpoints/last.pt") -> Path:
    """The run folder for ``cfg`` (keys ``out_dir``, ``resume``, ``profile``), checked against ``resume``. A
    finished run may be resumed without its checkpoints (the notebook reuses it; see :func:`finished_run`)."""
    out = study_root(notebook, cfg)
    if not cfg.get("out_dir") and cfg["profile"] == "smoke":
        out = out / "run"
    if out.exists() and not out.is_dir():
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} is a file, not a folder; choose a folder")
    has_run = (out / "manifest.json").exists()
    # a finished run needs no checkpoint to be "resumed": the notebook shows it as it is (a published record)
    finished = has_run and load_record(out).manifest.get("status") == "finished"
    if has_run and not finished and not (out / checkpoint).exists():
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} holds a run that stopped before its first "
                             f"checkpoint ({_status(out)}): there is nothing to resume. Delete that folder to start "
                             "over there, or choose another out_dir")
    if cfg.get("resume"):
        if not finished and not (out / checkpoint).exists():
            raise ParameterError(f"parameter 'resume' = True, but {out / checkpoint} does not exist; "
                                 "run without resume to start, or set 'out_dir' to the folder of the run to continue")
    elif has_run:
        raise ParameterError(f"parameter 'out_dir' = {str(out)!r} already holds a run; pass -p resume True to "
                             "continue it from its last checkpoint, or choose another out_dir")
    return out


def finished_run(out: Path, epochs: int) -> Record | None:
    """The run in ``out`` when it has finished ``epochs`` epochs, else ``None``."""
    if not (out / "manifest.json").exists():
        return None
    record = load_record(out)
    return record if record.manifest.get("status") == "finished" and len(record.rows) >= epochs else None


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


def in_workers(fn: Callable[..., Any], calls: list[tuple], workers: int, device: torch.device) -> None:
    """``fn(*args)`` for each tuple of ``calls``, in order. With ``workers`` > 1 they run ``workers`` at a
    time, each in a process of its own with one thread (spawned; ``fn`` must be a module-level function):
    on a CPU, small models train fastest that way, and runs with two threads each fight on two cores; on
    a GPU, the processes share the device, which one small model's kernels leave mostly idle. A lone
    call goes to a worker too, so that a run resumed last keeps the one thread it trained with (a CPU's
    sums, and so the training, depend on the thread count). A failure in any call is raised here once
    the others are done or cancelled."""
    if workers <= 1 or not calls:
        for args in calls:
            fn(*args)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(min(workers, len(calls)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for done in [pool.submit(fn, *args) for args in calls]:
            done.result()
