"""Run records: one folder per training or evaluation run.

A run folder holds

- ``manifest.json``: git commit and dirty flag, all parameters, the data set (name, label, checksum),
  library versions, hardware, start/end time, wall time and status;
- ``metrics.csv``: one row per epoch (or per evaluation), columns in first-seen order;
- ``grids/*.png``: sample grids;
- ``checkpoints/``: ``last.pt`` (and ``best.pt`` where a trainer keeps one).

Every file is written atomically (see :mod:`repro.io`). :func:`load_record` reads a folder back in
one call; the notebooks and the book use it.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import io
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .io import atomic_torch_save, atomic_write, atomic_write_json

__all__ = ["RunRecord", "Record", "load_record", "environment_info", "cpu_model", "cpu_isa", "git_info", "utc_now",
           "machine_name", "machines", "at_once", "jsonable"]

MANIFEST = "manifest.json"
METRICS = "metrics.csv"
GRIDS = "grids"
SAMPLES = "samples"
CHECKPOINTS = "checkpoints"


def utc_now() -> str:
    """The current UTC time as ISO 8601 to the second, as every record stores it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def git_info(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Commit hash and dirty flag of the git checkout holding ``path`` (the package by default). Where
    the ``git`` program is missing, the commit is read from the checkout's ``.git`` folder and the dirty
    flag is ``None`` (unknown)."""
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
            ).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except FileNotFoundError:  # no git program
        return {"commit": _head_commit(cwd), "dirty": None}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _head_commit(path: Path) -> str | None:
    """The commit ``HEAD`` names in the ``.git`` folder of ``path`` or a folder above it, read without the
    git program (a loose or packed ref, or a detached ``HEAD``); ``None`` when there is none."""
    for folder in (path, *path.parents):
        git = folder / ".git"
        if not git.is_dir():
            continue
        try:
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref: "):
                return head or None
            ref = head[5:]
            if (git / ref).is_file():
                return (git / ref).read_text().strip() or None
            packed = (git / "packed-refs").read_text().splitlines() if (git / "packed-refs").is_file() else []
            return next((line.split()[0] for line in packed if line.endswith(" " + ref)), None)
        except OSError:
            return None
    return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows: wall times are only
    comparable between runs on the same model."""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        model = ""
    return model or platform.processor() or platform.machine()


def cpu_isa(flags: set[str] | None = None) -> str:
    """The vector instructions torch's CPU kernels dispatch to here (``"AVX2"``, ``"AVX512"``, ...), and
    the bf16 instructions the CPU has (``"AVX512 + avx512_bf16 + amx_bf16"``): two machines with the same
    model name can differ in both, and bf16 autocast is fast only with the latter. ``flags`` are the
    CPU's flags (default: ``/proc/cpuinfo``)."""
    import torch

    if flags is None:
        try:
            with open("/proc/cpuinfo") as f:
                flags = set(next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []))
        except OSError:
            flags = set()
    bf16 = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return " + ".join([torch.backends.cpu.get_cpu_capability(), *bf16])


def machine_name(hardware: Mapping[str, Any]) -> str:
    """A manifest's ``hardware`` in words: the GPU, else the CPU model with its instruction set where the
    manifest names one (``"AMD EPYC (AVX2)"``), else the processor."""
    name = str(hardware.get("gpu") or hardware.get("cpu_model") or hardware.get("processor") or "unknown")
    isa = hardware.get("cpu_isa")
    return f"{name} ({isa})" if isa and not hardware.get("gpu") else name


def machines(records: Iterable[Record]) -> list[str]:
    """The machines ``records`` trained on, from each manifest and each resume (``resumed_on``), sorted:
    wall times compare between runs only when this is one machine."""
    found = set()
    for rec in records:
        found.add(machine_name(rec.manifest.get("hardware", {})))
        found.update(machine_name(r.get("hardware", {})) for r in rec.manifest.get("resumed_on", []))
    return sorted(found)


def at_once(records: Iterable[Record]) -> int:
    """The most of ``records`` that were training at the same moment, by each manifest's ``start_time`` and
    ``end_time`` (a run resumed later spans the gap too, so this is an upper bound): above 1, the runs
    shared their machine and each wall time is a shared-machine time."""
    events = []
    for rec in records:
        m = rec.manifest
        if m.get("start_time") and m.get("end_time"):
            events += [(_dt.datetime.fromisoformat(m["start_time"]), 1), (_dt.datetime.fromisoformat(m["end_time"]), -1)]
    most = running = 0
    for _, step in sorted(events):  # an end sorts before a start at the same moment
        running += step
        most = max(most, running)
    return most


def environment_info(device: Any = None) -> dict[str, Any]:
    """Library versions and hardware, for the manifest."""
    import numpy
    import torch
    import torchvision

    from . import __version__

    info: dict[str, Any] = {
        "versions": {
            "python": platform.python_version(),
            "repro": __version__,
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "numpy": numpy.__version__,
        },
        "hardware": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_model": cpu_model(),
            "cpu_isa": cpu_isa(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }
    dev = torch.device(device) if device is not None else torch.device("cpu")
    info["hardware"]["device"] = str(dev)
    if dev.type == "cuda" and torch.cuda.is_available():
        info["hardware"]["gpu"] = torch.cuda.get_device_name(dev)
        info["versions"]["cuda"] = torch.version.cuda
    return info


def jsonable(obj: Any) -> Any:
    """Parameters as JSON: paths and devices as strings, dataclasses as dicts."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


class RunRecord:
    """Writer for one run folder.

    ``RunRecord(path, kind, params, data)`` starts a new run (the folder must be empty or absent);
    ``RunRecord.resume(path)`` reopens one to continue it. ``log(row)`` appends a row to
    ``metrics.csv``; ``truncate(after_epoch)`` drops rows written after the checkpoint a resumed run
    starts from, so that a killed run's extra rows are not duplicated.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        kind: str,
        params: Mapping[str, Any],
        data: Mapping[str, Any] | None = None,
        device: Any = None,
        *,
        _manifest: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self._t0 = time.perf_counter()
        if _manifest is not None:
            self.manifest = _manifest
            self.rows = _read_csv(self.path / METRICS)
            self.manifest.setdefault("resumed_at", []).append(utc_now())
            # where each resume ran: a run continued on another machine or commit says so
            hardware = {k: v for k, v in environment_info()["hardware"].items() if k != "device"}
            self.manifest.setdefault("resumed_on", []).append({"git": git_info(), "hardware": hardware})
            self.manifest["status"] = "running"
            if "error" in self.manifest:  # the failure this resume continues from is history now
                self.manifest.setdefault("earlier_errors", []).append(self.manifest.pop("error"))
            self._wall_before = float(self.manifest.get("wall_time_s") or 0.0)
        else:
            if (self.path / MANIFEST).exists():
                raise FileExistsError(
                    f"{self.path} already holds a run (manifest.json). Pass resume=True to continue it, "
                    "or choose another output folder."
                )
            self.path.mkdir(parents=True, exist_ok=True)
            self.manifest = {
                "kind": kind,
                "status": "running",
                "git": git_info(),
                "params": jsonable(dict(params)),
                "data": jsonable(dict(data or {})),
                **environment_info(device),
                "start_time": utc_now(),
                "end_time": None,
                "wall_time_s": 0.0,
            }
            self.rows = []
            self._wall_before = 0.0
        self._write_manifest()

    @classmethod
    def resume(cls, path: str | os.PathLike) -> "RunRecord":
        path = Path(path)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"no run to resume in {path}: manifest.json is missing") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path / MANIFEST} is not valid JSON ({e}); the run folder is damaged") from None
        return cls(path, manifest["kind"], manifest["params"], _manifest=manifest)

    # -- paths ---------------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def grid_dir(self) -> Path:
        return self.path / GRIDS

    # -- writing -------------------------------------------------------------------------------
    def _write_manifest(self, in_place_if_full: bool = False) -> None:
        """Rewrite ``manifest.json`` atomically. With ``in_place_if_full``, a disk too full for the
        atomic copy gets the manifest as compact JSON over the old file's own blocks, when it fits."""
        self.manifest["wall_time_s"] = round(self._wall_before + time.perf_counter() - self._t0, 3)
        try:
            atomic_write_json(self.path / MANIFEST, self.manifest)
        except OSError as e:
            if not (in_place_if_full and e.errno in (errno.ENOSPC, errno.EDQUOT)):
                raise
            if not _overwrite_in_place(self.path / MANIFEST, json.dumps(self.manifest, default=str) + "\n"):
                raise

    def update(self, **fields: Any) -> None:
        """Set top-level manifest fields (e.g. a summary) and rewrite the manifest."""
        self.manifest.update(jsonable(fields))
        self._write_manifest()

    def log(self, row: Mapping[str, Any]) -> None:
        """Append one row to ``metrics.csv`` (the whole file is rewritten atomically)."""
        self.rows.append({k: _scalar(v) for k, v in row.items()})
        _write_csv(self.path / METRICS, self.rows)
        self._write_manifest()

    def write_table(self, name: str, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
        """Write another CSV of the run folder (e.g. ``iterations.csv``) atomically; :meth:`Record.table` reads it."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)
        atomic_write(self.path / name, buf.getvalue())

    def truncate(self, after_epoch: int, key: str = "epoch") -> None:
        """Drop rows whose ``key`` is greater than ``after_epoch``."""
        self.rows = [r for r in self.rows if r.get(key) is None or float(r[key]) <= after_epoch]
        _write_csv(self.path / METRICS, self.rows)

    def save_grid(self, images: Any, name: str, nrow: int = 8) -> Path:
        """Save a batch of images in [-1, 1] (N x C x H x W) as ``grids/<name>.png``."""
        import torchvision.utils as vutils

        buf = io.BytesIO()
        x = images.detach().float().cpu().clamp(-1, 1) * 0.5 + 0.5
        vutils.save_image(x, buf, nrow=nrow, padding=2, format="png")
        out = self.grid_dir / f"{name}.png"
        atomic_write(out, buf.getvalue())
        return out

    def save_snapshot(self, samples: Any, name: str) -> Path:
        """One epoch's samples: images (N x C x H x W, in [-1, 1]) as ``grids/<name>.png`` in a square grid,
        points (N x dim) as the tensor ``samples/<name>.pt``."""
        if samples.ndim == 4:
            return self.save_grid(samples, name, nrow=max(1, int(math.sqrt(samples.shape[0]))))
        out = self.path / SAMPLES / f"{name}.pt"
        atomic_torch_save(samples.detach().float().cpu(), out)
        return out

    def finish(self, **summary: Any) -> None:
        """Mark the run finished, record end time, wall time and an optional summary."""
        self.manifest["status"] = "finished"
        self.manifest["end_time"] = utc_now()
        if summary:
            self.manifest.setdefault("summary", {}).update(jsonable(summary))
        self._write_manifest()

    def fail(self, error: BaseException) -> None:
        """Mark the run failed with the error's message (checkpoints are left as they were).

        Never raises for a write that fails, so the caller can re-raise ``error`` itself: on a full
        disk the record is squeezed into the manifest's own space; if even that fails, ``error`` gets
        a note (and stderr a line) saying the manifest could not be updated and still says "running".
        """
        self.manifest["status"] = "failed"
        self.manifest["error"] = f"{type(error).__name__}: {error}"
        self.manifest["end_time"] = utc_now()
        try:
            self._write_manifest(in_place_if_full=True)
        except OSError as e:
            note = (f"the failure could not be recorded in {self.path / MANIFEST}, which still says "
                    f"status 'running' ({e.strerror or e}); free space there and resume, or delete the run")
            if hasattr(error, "add_note"):
                error.add_note(note)
            print(f"repro: {note}", file=sys.stderr)


def _overwrite_in_place(path: Path, text: str) -> bool:
    """Write ``text`` over ``path``'s existing bytes, padded with spaces to its length (valid JSON
    still); this needs no new disk blocks. False if ``text`` is longer than the file or it fails."""
    data = text.encode()
    try:
        size = path.stat().st_size
        if len(data) > size:
            return False
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, data + b" " * (size - len(data)), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def _scalar(v: Any) -> Any:
    if hasattr(v, "item") and getattr(v, "numel", lambda: 1)() == 1:
        v = v.item()
    return v


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(path, buf.getvalue())


def _parse(v: str) -> Any:
    if v == "":
        return None
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(v, v)


def _read_csv(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(f)]


@dataclass
class Record:
    """A run folder read back: its manifest, per-epoch rows and grid images."""

    path: Path
    manifest: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def grids(self) -> list[Path]:
        return sorted((self.path / GRIDS).glob("*.png"))

    @property
    def params(self) -> dict[str, Any]:
        return self.manifest.get("params", {})

    def column(self, name: str) -> list[Any]:
        """One column of ``metrics.csv`` as a list (``None`` where a row lacks it)."""
        return [r.get(name) for r in self.rows]

    def table(self, name: str) -> list[dict[str, Any]]:
        """Another CSV of the run folder (e.g. ``iterations.csv``) as a list of rows."""
        return _read_csv(self.path / name)

    def frame(self):
        """``metrics.csv`` as a pandas DataFrame (pandas is a report dependency)."""
        import pandas as pd

        return pd.DataFrame(self.rows)


# Training settings renamed since older records were written (one vocabulary for both trainers):
# old name -> the trainers' name today. Applied to the manifests of training runs only.
RENAMED_PARAMS = {"n_grid": "grid_samples", "grid_size": "grid_samples", "sampler": "track_sampler",
                  "sampler_steps": "track_steps", "ddim_eta": "track_eta", "eval_every": "track_every",
                  "sample_batch_size": "track_batch_size", "nan_check_every": "check_every",
                  "adam_betas": "betas"}
TRAINING_KINDS = ("gan", "diffusion")


def load_record(path: str | os.PathLike) -> Record:
    """Read a run folder written by :class:`RunRecord`; settings written under an older name
    (:data:`RENAMED_PARAMS`) are read under today's."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is not a run record: {MANIFEST} is missing. Run the experiment that writes it first."
        ) from None
    params = manifest.get("params")
    if isinstance(params, dict) and manifest.get("kind") in TRAINING_KINDS:
        for old_name, name in RENAMED_PARAMS.items():
            if old_name in params and name not in params:
                params[name] = params.pop(old_name)
    return Record(path=path, manifest=manifest, rows=_read_csv(path / METRICS))
