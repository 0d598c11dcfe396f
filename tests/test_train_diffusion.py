"""The diffusion trainer: exact resume, NaN stop, checkpoint errors, evaluation hook, a short 2D run."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from repro.data import ImageDataset, load_dataset
from repro.diffusion import GaussianDiffusion
from repro.metrics.tracking import ModeCoverageTracker
from repro.records import load_record
from repro.train.checkpoint import CheckpointError, NonFiniteLossError
from repro.train import load_diffusion
from repro.train.diffusion import DiffusionTrainConfig, train_diffusion

ROW_COLUMNS = {"epoch", "step", "loss", "mse", "vb", "lr", "grad_norm", "epoch_time_s", "epoch_cpu_s"}


def _images(n: int = 24, channels: int = 1, size: int = 8) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)
    return ImageDataset("random", "Random 8x8", "train", images, torch.zeros(n, dtype=torch.long), ["x"], "test")


def _points(n: int = 512):
    return load_dataset("ring8", subset=n, seed=0)


IMAGE_CFG = dict(model="tiny", model_kwargs=dict(model_channels=8, channel_mult=[1, 2], norm_groups=4,
                                                 attention_resolutions=[4], dropout=0.1),
                 schedule="cosine", num_timesteps=50, variance="learned_range", loss_type="hybrid", batch_size=8,
                 lr=1e-3, warmup_steps=5, ema_decay=0.9, track_sampler="ddim", track_steps=5, grid_samples=4,
                 track_batch_size=4)
POINT_CFG = dict(model="mlp", model_kwargs=dict(hidden=32, depth=2), schedule="cosine", num_timesteps=20,
                 variance="learned_range", loss_type="vlb", timestep_sampler="loss-second-moment", batch_size=64,
                 lr=1e-3, warmup_steps=5, ema_decay=0.9, track_sampler="ancestral", track_steps=10,
                 check_every=2)


def _cfg(base: dict, **kw) -> DiffusionTrainConfig:
    return DiffusionTrainConfig(**{**base, **kw})


def _state(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=False)


def _assert_same_tensors(a, b, path="state"):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_tensors(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_tensors(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


@pytest.mark.parametrize("kind", ["images", "points"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path, kind):
    data, base = (_images(), IMAGE_CFG) if kind == "images" else (_points(), POINT_CFG)
    full = train_diffusion(_cfg(base, epochs=3), data, tmp_path / "full", device="cpu")
    train_diffusion(_cfg(base, epochs=1), data, tmp_path / "split", device="cpu")
    split = train_diffusion(_cfg(base, epochs=3), data, tmp_path / "split", resume=True, device="cpu")
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    for key in ("model", "ema", "optimizer", "timestep_sampler", "epoch", "step"):
        _assert_same_tensors(a[key], b[key], key)
    assert [r["loss"] for r in full.rows] == [r["loss"] for r in split.rows]
    assert [r["epoch"] for r in load_record(tmp_path / "split").rows] == [0, 1, 2]
    assert load_record(tmp_path / "split").manifest["status"] == "finished"
    if kind == "images":
        assert len(load_record(tmp_path / "full").grids) == 3


def test_resume_after_a_kill_between_row_and_checkpoint_drops_the_extra_row(tmp_path):
    data, run = _points(), tmp_path / "run"
    train_diffusion(_cfg(POINT_CFG, epochs=1), data, run, device="cpu")
    epoch0 = tmp_path / "epoch0.pt"
    shutil.copy(run / "checkpoints" / "last.pt", epoch0)
    train_diffusion(_cfg(POINT_CFG, epochs=2), data, run, resume=True, device="cpu")
    shutil.copy(epoch0, run / "checkpoints" / "last.pt")  # as if killed after logging epoch 1
    train_diffusion(_cfg(POINT_CFG, epochs=2), data, run, resume=True, device="cpu")
    assert [r["epoch"] for r in load_record(run).rows] == [0, 1]
    train_diffusion(_cfg(POINT_CFG, epochs=2), data, tmp_path / "ref", device="cpu")
    _assert_same_tensors(_state(run)["model"], _state(tmp_path / "ref")["model"])


def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    data, run = _points(), tmp_path / "run"
    train_diffusion(_cfg(POINT_CFG, epochs=1), data, run, device="cpu")
    steps_per_epoch = len(data) // POINT_CFG["batch_size"]
    before = (run / "checkpoints" / "last.pt").read_bytes()
    original, calls = GaussianDiffusion.training_losses, []

    def poisoned(self, *args, **kwargs):
        terms = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    monkeypatch.setattr(GaussianDiffusion, "training_losses", poisoned)
    with pytest.raises(NonFiniteLossError, match=f"step {steps_per_epoch + 3}") as err:
        train_diffusion(_cfg(POINT_CFG, epochs=3), data, run, resume=True, device="cpu")
    assert "last.pt" in str(err.value)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    manifest = load_record(run).manifest
    assert manifest["status"] == "failed" and "NonFiniteLossError" in manifest["error"]
    assert [r["epoch"] for r in load_record(run).rows] == [0]


def test_corrupt_mismatched_or_missing_checkpoint_is_an_error_not_a_restart(tmp_path):
    data, run = _points(), tmp_path / "run"
    train_diffusion(_cfg(POINT_CFG, epochs=1), data, run, device="cpu")
    ckpt = run / "checkpoints" / "last.pt"
    good = ckpt.read_bytes()
    with pytest.raises(CheckpointError, match="other settings.*lr"):
        train_diffusion(_cfg(POINT_CFG, epochs=2, lr=5e-4), data, run, resume=True, device="cpu")
    ckpt.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        train_diffusion(_cfg(POINT_CFG, epochs=2), data, run, resume=True, device="cpu")
    ckpt.unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        train_diffusion(_cfg(POINT_CFG, epochs=2), data, run, resume=True, device="cpu")
    with pytest.raises(FileExistsError, match="resume=True"):
        train_diffusion(_cfg(POINT_CFG, epochs=2), data, run, device="cpu")
    with pytest.raises(CheckpointError, match="other data"):
        train_diffusion(_cfg(POINT_CFG, epochs=2), _points(256), run, resume=True, device="cpu")


def test_evaluate_joins_the_epoch_row_without_changing_training(tmp_path):
    data, shapes = _images(), []

    def evaluate(sample_fn):
        x = sample_fn(5)
        shapes.append(tuple(x.shape))
        return {"fake_fid": float(x.abs().max()), "in_range": float(x.abs().max() <= 1)}

    with_eval = train_diffusion(_cfg(IMAGE_CFG, epochs=2), data, tmp_path / "a", evaluate=evaluate, device="cpu")
    train_diffusion(_cfg(IMAGE_CFG, epochs=2), data, tmp_path / "b", device="cpu")
    assert shapes == [(5, 1, 8, 8)] * 2
    assert all(r["in_range"] == 1.0 and "fake_fid" in r for r in with_eval.rows)
    assert ROW_COLUMNS <= set(with_eval.rows[0])
    _assert_same_tensors(_state(tmp_path / "a")["model"], _state(tmp_path / "b")["model"])


def test_rows_record_warmup_learning_rate_and_manifest_records_config(tmp_path):
    data = _points()
    rec = train_diffusion(_cfg(POINT_CFG, epochs=1, warmup_steps=100), data, tmp_path / "r", device="cpu",
                          evaluate=ModeCoverageTracker.for_dataset(data, n_samples=200))
    steps = len(data) // POINT_CFG["batch_size"]
    assert rec.rows[0]["lr"] == pytest.approx(1e-3 * steps / 100)
    assert rec.rows[0]["step"] == steps and "modes_hit" in rec.rows[0]
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["params"]["loss_type"] == "vlb" and manifest["model_parameters"] > 0
    assert manifest["params"]["decoder"] == "continuous" and manifest["precision"] == "fp32"
    assert manifest["params"]["point_scale"] == pytest.approx(float(data.points.double().pow(2).mean().sqrt()))


def test_short_cpu_training_of_the_mlp_covers_all_ring8_modes(tmp_path):
    data = load_dataset("ring8", subset=8192, seed=0)
    cfg = DiffusionTrainConfig(model="mlp", schedule="linear", num_timesteps=1000, loss_type="simple",
                               epochs=12, batch_size=256, lr=2e-3, warmup_steps=20, ema_decay=0.99,
                               track_sampler="ddim", track_steps=50)
    rec = train_diffusion(cfg, data, tmp_path / "ring", device="cpu",
                          evaluate=ModeCoverageTracker.for_dataset(data, n_samples=1000))
    last = rec.rows[-1]
    assert last["modes_hit"] == 8, rec.rows
    assert last["high_quality_fraction"] > 0.3
    trained = load_diffusion(tmp_path / "ring")
    pts = trained.sample(100, generator=torch.Generator().manual_seed(0))
    assert pts.shape == (100, 2) and pts.norm(dim=1).median().item() == pytest.approx(2.0, abs=0.1)
