"""The shared run loop: refused resumes change nothing, checkpoints run no code, evaluation is float32."""

from __future__ import annotations

import hashlib
import pickle

import pytest
import torch

from repro import precision
from repro.data import ImageDataset, load_dataset
from repro.records import load_record
from repro.train import TrainedDiffusion, TrainedGAN, load_run
from repro.train.checkpoint import CheckpointError, load_checkpoint
from repro.train.diffusion import DiffusionTrainConfig, train_diffusion
from repro.train.gan import GANTrainConfig, preset, train_gan

GAN = dict(arch="mlp", epochs=2, batch_size=128, nz=8, mlp_hidden=16, grid_samples=100, seed=1)
DDPM = dict(model="mlp", model_kwargs=dict(hidden=16, depth=1), schedule="cosine", num_timesteps=20,
            variance="learned_range", loss_type="hybrid", epochs=2, batch_size=128, lr=1e-3, warmup_steps=2,
            ema_decay=0.9, track_steps=5, grid_samples=50)
TRAINERS = {"gan": (train_gan, GANTrainConfig, GAN, "lr_D"), "diffusion": (train_diffusion, DiffusionTrainConfig, DDPM, "lr")}


@pytest.fixture(scope="module")
def ring8():
    return load_dataset("ring8", subset=512, seed=0)


def _snapshot(folder):
    """Every file of a run folder with its bytes' digest (the lock file included)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class _RunsCode:
    """A pickle that would create ``marker`` when loaded (as a code-running checkpoint would)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _malicious(path, marker):
    with open(path, "wb") as f:
        pickle.dump({"format": "repro-checkpoint-v1", "kind": "gan", "payload": _RunsCode(marker)}, f, protocol=2)


@pytest.mark.parametrize("trainer", sorted(TRAINERS))
@pytest.mark.parametrize("refusal", ["other data", "other settings", "corrupt checkpoint", "foreign checkpoint",
                                     "fewer epochs"])
def test_a_refused_resume_leaves_every_file_of_the_run_unchanged(trainer, refusal, ring8, tmp_path):
    train, Config, base, lr_key = TRAINERS[trainer]
    run = tmp_path / "run"
    train(Config(**base), ring8, run, device="cpu")
    ckpt = run / "checkpoints" / "last.pt"
    cfg, data = Config(**{**base, "epochs": 3}), ring8
    if refusal == "other data":
        data = load_dataset("ring8", subset=512, seed=5)
    elif refusal == "other settings":
        cfg = Config(**{**base, "epochs": 3, lr_key: 0.5})
    elif refusal == "corrupt checkpoint":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    elif refusal == "foreign checkpoint":
        _malicious(ckpt, tmp_path / "ran")
    else:
        cfg = Config(**{**base, "epochs": 1})
    before = _snapshot(run)
    with pytest.raises(CheckpointError):
        train(cfg, data, run, resume=True, device="cpu")
    assert _snapshot(run) == before
    assert load_record(run).manifest["status"] == "finished"
    assert not (tmp_path / "ran").exists()


def test_a_checkpoint_whose_pickle_would_run_code_is_refused_and_runs_nothing(tmp_path):
    path, marker = tmp_path / "last.pt", tmp_path / "ran"
    _malicious(path, marker)
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(path, "gan")
    assert not marker.exists()
    with pytest.raises(Exception):  # the same file unpickled without the guard does run its code
        torch.load(path, weights_only=False)
    assert marker.exists()


def test_resume_of_a_finished_run_with_its_own_epochs_writes_nothing(ring8, tmp_path):
    run = tmp_path / "run"
    train_gan(GANTrainConfig(**GAN), ring8, run, device="cpu")
    before = _snapshot(run)
    again = train_gan(GANTrainConfig(**GAN), ring8, run, resume=True, device="cpu")
    assert _snapshot(run) == before and len(again.rows) == GAN["epochs"]


def test_resume_may_change_a_named_setting_and_the_manifest_records_it(ring8, tmp_path):
    run = tmp_path / "run"
    train_diffusion(DiffusionTrainConfig(**DDPM), ring8, run, device="cpu")
    lower = DiffusionTrainConfig(**{**DDPM, "epochs": 3, "lr": 1e-4})
    with pytest.raises(CheckpointError, match="lr"):
        train_diffusion(lower, ring8, run, resume=True, device="cpu")
    rec = train_diffusion(lower, ring8, run, resume=True, device="cpu", overrides=("lr",))
    assert rec.manifest["resume_overrides"] == [{"epoch": 2, "lr": {"checkpoint": 1e-3, "now": 1e-4}}]
    assert rec.params["lr"] == 1e-4 and rec.rows[-1]["lr"] == pytest.approx(1e-4) and len(rec.rows) == 3


def test_evaluation_runs_in_float32_inside_a_bf16_training_run(ring8, tmp_path):
    seen = []

    def evaluate(sample_fn):
        sample_fn(4)
        seen.append((torch.is_autocast_enabled("cpu"), torch.backends.cuda.matmul.allow_tf32,
                     torch.backends.cudnn.allow_tf32))
        return {}

    cfg = preset("mixture-mlp", **{**GAN, "bf16": True})
    rec = train_gan(cfg, ring8, tmp_path / "run", device="cpu", evaluate=evaluate)
    assert seen == [(False, False, False)] * GAN["epochs"]
    assert rec.manifest["precision"] == "bf16-autocast"


def test_precision_policy_turns_tf32_and_autocast_off_for_evaluation_and_restores_them():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        with precision.autocast("cpu", True):
            assert torch.is_autocast_enabled("cpu")
            with precision.evaluation():
                assert not torch.is_autocast_enabled("cpu")
                assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
                assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32
            assert torch.is_autocast_enabled("cpu") and torch.backends.cuda.matmul.allow_tf32
        with precision.training("cuda"):
            assert torch.backends.cuda.matmul.allow_tf32
        with precision.training("cpu"):
            assert not torch.backends.cuda.matmul.allow_tf32
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    assert precision.describe("cpu", False) == "fp32" and precision.describe("cuda", False) == "tf32"


def test_load_run_samples_from_gan_and_diffusion_runs_with_settings_as_arguments(ring8, tmp_path):
    train_gan(GANTrainConfig(**GAN), ring8, tmp_path / "gan", device="cpu")
    train_diffusion(DiffusionTrainConfig(**DDPM), ring8, tmp_path / "ddpm", device="cpu")
    G, ddpm = load_run(tmp_path / "gan"), load_run(tmp_path / "ddpm")
    assert isinstance(G, TrainedGAN) and isinstance(ddpm, TrainedDiffusion)
    assert G.sample(7).shape == (7, 2)
    calls = []
    ddpm.model.register_forward_hook(lambda *a: calls.append(1))
    x = ddpm.sample(3, sampler="ancestral", steps=4, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 2) and len(calls) == 4
    a = ddpm.sample(3, sampler="ddim", steps=20, generator=torch.Generator().manual_seed(1))
    b = ddpm.sample(3, sampler="ddim", steps=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="T = 20"):
        ddpm.sample(3, steps=30)


def test_image_snapshots_are_grids_and_points_are_sample_files(ring8, tmp_path):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 1, 16, 16), generator=g, dtype=torch.uint8)
    tiny = ImageDataset("tiny", "tiny", "train", images, torch.zeros(64, dtype=torch.long), ["x"], "test")
    rec = train_gan(GANTrainConfig(image_size=16, nz=4, ngf=4, ndf=4, batch_size=16, epochs=1, grid_samples=9),
                    tiny, tmp_path / "img", device="cpu")
    assert [p.name for p in rec.grids] == ["epoch0000.png"]
    train_gan(GANTrainConfig(**GAN), ring8, tmp_path / "pts", device="cpu")
    pts = torch.load(tmp_path / "pts" / "samples" / "epoch0001.pt", weights_only=True)
    assert pts.shape == (GAN["grid_samples"], 2)


def test_a_fresh_run_whose_record_cannot_be_completed_leaves_no_folder(ring8, tmp_path, monkeypatch):
    """A disk that fills between the manifest's first write and its update: the error reaches the user
    and no manifest saying "running" is left behind (reliability review, row 77)."""
    import errno

    from repro.records import RunRecord

    def full(self, **fields):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.path / "manifest.json"))

    monkeypatch.setattr(RunRecord, "update", full)
    with pytest.raises(OSError, match="No space left"):
        train_diffusion(DiffusionTrainConfig(**DDPM), ring8, tmp_path / "run", device="cpu")
    assert not (tmp_path / "run").exists()
