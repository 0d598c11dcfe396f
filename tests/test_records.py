"""Run records, atomic writes and checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from repro import io as rio
from repro.records import RunRecord, load_record
from repro.train.checkpoint import (CheckpointError, NonFiniteLossError, check_finite, load_checkpoint,
                                    save_checkpoint)


def test_interrupted_write_leaves_previous_file_intact(tmp_path):
    target = tmp_path / "metrics.csv"
    rio.atomic_write(target, "old\n")
    with pytest.raises(KeyboardInterrupt):
        with rio.atomic_open(target, "w") as f:
            f.write("half of the new cont")
            raise KeyboardInterrupt  # the run is killed midway
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]  # no temporary file left behind


def test_atomic_writes_get_the_mode_open_would_give(tmp_path):
    plain, atomic = tmp_path / "plain.txt", tmp_path / "atomic.txt"
    plain.write_text("x")
    rio.atomic_write(atomic, "x")  # mkstemp alone would leave 0600
    assert oct(atomic.stat().st_mode & 0o777) == oct(plain.stat().st_mode & 0o777)


def test_interrupted_torch_save_keeps_last_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    rio.atomic_torch_save({"w": torch.ones(3)}, path)

    def dies(*a, **k):
        raise MemoryError("killed while serialising")

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(MemoryError):
        rio.atomic_torch_save({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path)["w"], torch.ones(3))


def test_run_record_writes_manifest_csv_grid_and_loads_back(tmp_path):
    rec = RunRecord(tmp_path / "run", "unit", {"lr": 1e-4, "epochs": 2, "path": tmp_path},
                    data={"name": "ring8", "sha256": "abc"})
    rec.log({"epoch": 1, "loss": torch.tensor(0.5)})
    rec.log({"epoch": 2, "loss": 0.25, "fid": 12.0})
    rec.save_grid(torch.rand(4, 3, 8, 8) * 2 - 1, "epoch_002")
    rec.finish(best_epoch=2)
    r = load_record(tmp_path / "run")
    m = r.manifest
    assert m["status"] == "finished" and m["summary"] == {"best_epoch": 2}
    assert m["params"]["lr"] == 1e-4 and m["params"]["path"] == str(tmp_path)
    assert m["data"]["sha256"] == "abc" and m["versions"]["torch"] == torch.__version__
    assert set(m["git"]) == {"commit", "dirty"} and m["wall_time_s"] >= 0
    assert m["start_time"] <= m["end_time"] and "hardware" in m
    assert r.column("loss") == [0.5, 0.25] and r.column("fid") == [None, 12.0]
    assert [p.name for p in r.grids] == ["epoch_002.png"]


def test_run_record_refuses_to_overwrite_and_resumes_with_truncation(tmp_path):
    rec = RunRecord(tmp_path / "run", "unit", {"epochs": 3})
    for e in (1, 2, 3):
        rec.log({"epoch": e, "loss": 1.0 / e})
    with pytest.raises(FileExistsError, match="resume"):
        RunRecord(tmp_path / "run", "unit", {"epochs": 3})
    again = RunRecord.resume(tmp_path / "run")
    again.truncate(after_epoch=2)  # the checkpoint was from epoch 2; row 3 is redone
    again.log({"epoch": 3, "loss": 0.3})
    r = load_record(tmp_path / "run")
    assert r.column("epoch") == [1, 2, 3] and r.column("loss")[-1] == 0.3
    assert len(r.manifest["resumed_at"]) == 1
    (where,) = r.manifest["resumed_on"]  # the machine and commit of each resume, beside its time
    assert set(where) == {"git", "hardware"} and where["hardware"]["cpu_model"] == r.manifest["hardware"]["cpu_model"]
    assert where["hardware"]["cpu_model"] and "device" not in where["hardware"]


def test_load_record_of_a_missing_run_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest.json is missing"):
        load_record(tmp_path)


def test_manifest_is_valid_json_after_every_step(tmp_path):
    rec = RunRecord(tmp_path / "r", "unit", {})
    rec.log({"epoch": 1, "x": float("nan")})
    json.loads((tmp_path / "r" / "manifest.json").read_text())


CONFIG = {"lr": 1e-3, "epochs": 4}


def test_checkpoint_round_trip_restores_rng(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "c.pt", "gan", CONFIG, epoch=2, weights=torch.arange(3))
    expected = torch.rand(2)
    ckpt = load_checkpoint(tmp_path / "c.pt", "gan", {**CONFIG, "epochs": 10})  # epochs may grow on resume
    from repro.train.checkpoint import set_rng_state

    set_rng_state(ckpt["rng"])
    assert torch.equal(torch.rand(2), expected) and ckpt["epoch"] == 2


def test_checkpoint_errors_name_the_problem(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt", "gan")
    (tmp_path / "bad.pt").write_bytes(b"\x80\x02garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad.pt", "gan")
    save_checkpoint(tmp_path / "c.pt", "gan", CONFIG)
    with pytest.raises(CheckpointError, match="'gan' checkpoint.*'diffusion'"):
        load_checkpoint(tmp_path / "c.pt", "diffusion")
    with pytest.raises(CheckpointError, match="lr: checkpoint 0.001 vs now 0.002"):
        load_checkpoint(tmp_path / "c.pt", "gan", {**CONFIG, "lr": 2e-3})
    torch.save({"state": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a repro checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt", "gan")


def test_truncated_checkpoint_is_reported_as_corrupt(tmp_path):
    save_checkpoint(tmp_path / "c.pt", "gan", CONFIG, w=torch.randn(1000))
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "c.pt", "gan")


def test_check_finite_names_the_step_and_checkpoint():
    check_finite(5, None, loss=torch.tensor(1.0))
    with pytest.raises(NonFiniteLossError, match=r"step 7.*loss_D.*last.pt"):
        check_finite(7, "runs/x/last.pt", loss_G=torch.tensor(1.0), loss_D=torch.tensor(float("nan")))
    with pytest.raises(NonFiniteLossError, match="inf"):
        check_finite(1, None, loss=float("inf"))


def test_a_setting_written_under_its_old_name_is_read_under_todays(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "gan", "params": {"n_grid": 64, "lr": 1e-4}}))
    (tmp_path / "metrics.csv").write_text("epoch\n0\n")
    assert load_record(tmp_path).manifest["params"] == {"grid_samples": 64, "lr": 1e-4}
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "diffusion", "params": {
        "grid_size": 16, "grid_samples": 64, "sampler_steps": 20, "sampler": "ddim"}}))
    assert load_record(tmp_path).manifest["params"] == {"grid_size": 16, "grid_samples": 64,  # today's name wins
                                                        "track_steps": 20, "track_sampler": "ddim"}
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "sample_ddim", "params": {"sampler": "ddim"}}))
    assert load_record(tmp_path).manifest["params"] == {"sampler": "ddim"}  # not a training run: as written


def test_the_cpu_isa_names_torchs_kernels_and_the_bf16_instructions(monkeypatch):
    import torch

    from repro.records import cpu_isa

    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    assert cpu_isa({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}) == "AVX512 + avx512_bf16 + amx_bf16"
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert cpu_isa({"avx2", "fma"}) == "AVX2"  # no bf16 instructions: autocast is emulated, and slow


def test_without_the_git_program_the_commit_is_read_from_the_git_folder(tmp_path, monkeypatch):
    """A checkout copied to a machine without git: the manifest still names its commit (loose ref, packed
    ref, detached HEAD), with the dirty flag unknown; a folder outside any checkout has none."""
    import subprocess

    from repro import records

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    a, b = "a" * 40, "b" * 40
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (tmp_path / "repo" / "pkg").mkdir()
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text(a + "\n")
    assert records.git_info(tmp_path / "repo" / "pkg") == {"commit": a, "dirty": None}
    (git / "refs" / "heads" / "main").unlink()
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{b} refs/heads/other\n{a} refs/heads/main\n")
    assert records.git_info(tmp_path / "repo" / "pkg")["commit"] == a
    (git / "HEAD").write_text(b + "\n")
    assert records.git_info(tmp_path / "repo")["commit"] == b
    assert records.git_info(tmp_path / "elsewhere") == {"commit": None, "dirty": None}
