"""A rank killed mid-run under torchrun: every rank exits, the failure names the rank and the signal, and
``--resume`` continues from the last checkpoint to the weights of an uninterrupted 2-rank run, exactly.

Both runs are the command line a user types (``torchrun --nproc_per_node=2 -m repro.train ddpm ...``),
two gloo ranks on the CPU, a 2D mixture and the small MLP denoiser so that each takes seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

EPOCHS = 3


def _launch(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           "--monitor-interval=0.2", "-m", "repro.train", "ddpm", "--preset", "mixture-mlp", "--dataset", "ring8_r1",
           "--subset", "2048", "--epochs", str(EPOCHS), "--batch-size", "16", "--device", "cpu", "--out", str(out),
           "--set", "grid_samples=16", "--set", "track_batch_size=16", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _worker_pid(launcher: subprocess.Popen, rank: int) -> int:
    """The pid of the worker of ``rank`` that ``launcher`` (torchrun) started."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == launcher.pid and f"RANK={rank}".encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no worker of rank {rank} under pid {launcher.pid}")


def _finish(launcher: subprocess.Popen) -> tuple[int, str]:
    output, _ = launcher.communicate(timeout=300)
    return launcher.returncode, output


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_a_killed_rank_stops_every_rank_and_the_run_resumes_to_the_uninterrupted_weights(tmp_path):
    killed = _launch(tmp_path / "killed")
    whole = _launch(tmp_path / "whole")
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 240
    while not checkpoint.exists():  # epoch 0 is saved; epoch 1 is under way
        assert killed.poll() is None and time.monotonic() < deadline, _finish(killed)[1][-3000:]
        time.sleep(0.05)
    os.kill(_worker_pid(killed, 1), signal.SIGKILL)
    code, output = _finish(killed)
    assert code != 0
    assert "rank      : 1" in output and "SIGKILL" in output, output[-3000:]  # torchrun's summary
    assert len((tmp_path / "killed" / "metrics.csv").read_text().splitlines()) - 1 < EPOCHS
    assert json.loads((tmp_path / "killed" / "manifest.json").read_text())["status"] != "finished"

    code, output = _finish(_launch(tmp_path / "killed", "--resume"))
    assert code == 0, output[-3000:]
    code, output = _finish(whole)
    assert code == 0, output[-3000:]
    a = torch.load(tmp_path / "killed" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == EPOCHS * 2048 // 16
    for k in ("model", "ema", "optimizer"):
        torch.testing.assert_close(a[k], b[k], atol=0, rtol=0)
    assert json.loads((tmp_path / "killed" / "manifest.json").read_text())["status"] == "finished"


def test_the_notebooks_gpus_parameter_trains_on_that_many_processes(tmp_path):
    """``papermill notebooks/train_ddpm.ipynb ... -p gpus 2``: the report module launches torchrun with the
    notebook's full config and returns its record; on 2 gloo ranks the weights are the 1-process ones up
    to float summation order (the tolerance of tests/test_distributed.py)."""
    from repro.report import train_ddpm

    records = {}
    for gpus in (1, 2):
        cfg = train_ddpm.setup({"profile": "smoke", "gpus": gpus, "track_samples": 0, "epochs": 1,
                                "out_dir": str(tmp_path / f"gpus{gpus}")})
        records[gpus] = train_ddpm.run(cfg)
    one, two = (torch.load(records[g].path / "checkpoints" / "last.pt", weights_only=True) for g in (1, 2))
    assert records[2].params == records[1].params and records[2].manifest["status"] == "finished"
    assert one["step"] == two["step"] > 0
    for k in one["model"]:
        torch.testing.assert_close(one["model"][k], two["model"][k], atol=1e-4, rtol=1e-4)


def test_more_processes_than_gpus_is_refused_before_launching(monkeypatch):
    from repro.report.launch import check_processes
    from repro.report.params import ParameterError

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ParameterError, match="'gpus' = 3, but 2 CUDA GPU"):
        check_processes(3, torch.device("cuda"))
    check_processes(3, torch.device("cpu"))  # gloo workers: any number
