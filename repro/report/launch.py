"""A notebook's training on several processes: ``torchrun -m repro.train``, launched and waited for.

The training notebooks' ``gpus`` parameter (``papermill ... -p gpus 8``) hands the run to this module:
it writes the trainer's full configuration to a temporary JSON file, starts ``torchrun
--nproc_per_node=gpus -m repro.train <trainer> --config ...`` on the same data, run folder and tracker,
streams its output into the notebook and returns the finished run's record. Each process drives one
GPU (NCCL); on a machine without one, each is a CPU worker (gloo). What the ranks do is in
:mod:`repro.train.distributed`; a failed rank stops them all, and the error here carries torchrun's
summary, which names the rank and the cause.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any, Mapping

import torch

from ..records import Record, load_record
from ..train.loop import config_dict
from .params import ParameterError

__all__ = ["check_processes", "torchrun"]

ROOT = Path(__file__).resolve().parents[2]


def check_processes(gpus: int, device: torch.device) -> None:
    """One process per visible GPU at most (a CPU run may start any number of gloo workers)."""
    if device.type == "cuda" and gpus > torch.cuda.device_count():
        raise ParameterError(f"parameter 'gpus' = {gpus}, but {torch.cuda.device_count()} CUDA GPU(s) are visible; "
                             "use at most that many (one process per GPU)")


def torchrun(trainer: str, config: Any, cfg: Mapping[str, Any], out: Path, device: torch.device) -> Record:
    """Train ``config`` (a trainer config dataclass) with ``cfg["gpus"]`` processes into ``out``.

    ``trainer`` is ``"gan"`` or ``"ddpm"``; ``cfg`` gives the data (``dataset``, ``subset``,
    ``image_size``), ``track_samples`` and ``resume`` as the notebook resolved them.
    """
    check_processes(cfg["gpus"], device)
    with tempfile.TemporaryDirectory(prefix="repro-launch-") as tmp:
        config_file = Path(tmp) / "config.json"
        config_file.write_text(json.dumps(config_dict(config)))
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={cfg['gpus']}", "--standalone",
               "-m", "repro.train", trainer, "--config", str(config_file), "--dataset", cfg["dataset"],
               "--image-size", str(cfg["image_size"]), "--out", str(out), "--device", device.type,
               "--track-samples", str(cfg["track_samples"])]
        if cfg.get("subset"):
            cmd += ["--subset", str(cfg["subset"])]
        if cfg.get("resume"):
            cmd.append("--resume")
        if cfg.get("overrides"):
            cmd += ["--overrides", ",".join(cfg["overrides"])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        tail: deque[str] = deque(maxlen=40)
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            for line in proc.stdout:
                tail.append(line.rstrip())
                print(line, end="")
        if proc.returncode != 0:
            raise RuntimeError(f"torchrun with {cfg['gpus']} processes failed (exit code {proc.returncode}); the end "
                               "of its output, whose summary names the failed rank and its error:\n" + "\n".join(tail))
    return load_record(out)
