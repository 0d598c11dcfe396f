"""The GAN trainer: records, checkpoints, exact resume, non-finite losses, best checkpoint, ring8 modes."""

import csv
import hashlib
import math

import pytest
import torch

import repro.train.gan as gan_module
from repro.data import ImageDataset, load_dataset
from repro.metrics.modes import mode_coverage
from repro.metrics.tracking import ModeCoverageTracker
from repro.models.gan_mlp import MLPGenerator
from repro.records import load_record
from repro.train.checkpoint import CheckpointError, NonFiniteLossError, load_checkpoint
from repro.train import load_gan
from repro.train.gan import PRESETS, GANTrainConfig, preset, train_gan
from repro.train.trained import TrainedGAN

RING = dict(epochs=4, batch_size=256, nz=16, mlp_hidden=32, grid_samples=1000, seed=3)
TIMES = ("epoch_time_s", "epoch_cpu_s", "eval_time_s")


@pytest.fixture(scope="module")
def ring8():
    return load_dataset("ring8", subset=2048, seed=1)


@pytest.fixture(scope="module")
def tiny_images():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (96, 1, 32, 32), generator=g, dtype=torch.uint8)
    return ImageDataset("tiny", "tiny random images", "train", images, torch.zeros(96, dtype=torch.long),
                        ["x"], "generated in the test")


TINY_DCGAN = dict(image_size=32, nz=8, ngf=4, ndf=4, batch_size=32, epochs=4, grid_samples=16, seed=5)


def _without_times(rows):
    """Rows without wall times, NaN (e.g. kl_to_uniform with no mode hit) replaced by a marker."""
    return [{k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items() if k not in TIMES}
            for r in rows]


def _iterations(path):
    with open(path / "iterations.csv", newline="") as f:
        return list(csv.reader(f))


def test_presets_hold_the_seed_report_and_dcgan_paper_hyperparameters():
    s = PRESETS["seed-report"]
    assert (s.batch_size, s.nz, s.ngf, s.ndf, s.lr_G, s.lr_D, s.betas_G[0], s.betas_D[0], s.image_size) == \
        (128, 100, 64, 64, 1e-4, 4e-4, 0.5, 0.5, 64)
    p = PRESETS["dcgan-paper"]
    assert (p.lr_G, p.lr_D, p.betas_G[0], p.batch_size) == (2e-4, 2e-4, 0.5, 128)
    assert s.g_loss == p.g_loss == "non-saturating"
    assert preset("seed-report", epochs=2).epochs == 2


@pytest.mark.parametrize("which", ["ring8", "dcgan"])
def test_two_epochs_plus_resume_two_equals_four_epochs(which, ring8, tiny_images, tmp_path):
    data, base = (ring8, preset("mixture-mlp", **RING)) if which == "ring8" else (tiny_images, GANTrainConfig(**TINY_DCGAN))
    full = train_gan(base, data, tmp_path / "full", device="cpu")
    train_gan(GANTrainConfig(**{**base.__dict__, "epochs": 2}), data, tmp_path / "split", device="cpu")
    split = train_gan(base, data, tmp_path / "split", resume=True, device="cpu")

    assert _without_times(split.rows) == _without_times(full.rows) and len(full.rows) == 4
    assert _iterations(tmp_path / "split") == _iterations(tmp_path / "full")
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt", "gan")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt", "gan")
    for key in ("G", "D"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key])
    assert torch.equal(a["optG"]["state"][0]["exp_avg"], b["optG"]["state"][0]["exp_avg"])
    assert split.manifest["status"] == "finished" and len(split.manifest["resumed_at"]) == 1


def test_resume_drops_rows_written_after_the_checkpoint(ring8, tmp_path):
    cfg = preset("mixture-mlp", **RING)
    full = train_gan(cfg, ring8, tmp_path / "full", device="cpu")
    out = tmp_path / "killed"
    train_gan(preset("mixture-mlp", **{**RING, "epochs": 2}), ring8, out, device="cpu")
    ckpt2 = (out / "checkpoints" / "last.pt").read_bytes()
    train_gan(preset("mixture-mlp", **{**RING, "epochs": 3}), ring8, out, resume=True, device="cpu")
    (out / "checkpoints" / "last.pt").write_bytes(ckpt2)  # as if killed after epoch 2's rows, before its checkpoint
    resumed = train_gan(cfg, ring8, out, resume=True, device="cpu")
    assert [r["epoch"] for r in resumed.rows] == [0, 1, 2, 3]
    assert _without_times(resumed.rows) == _without_times(full.rows)


def test_resume_with_other_settings_is_refused(ring8, tmp_path):
    train_gan(preset("mixture-mlp", **{**RING, "epochs": 1}), ring8, tmp_path, device="cpu")
    with pytest.raises(CheckpointError, match="lr_D"):
        train_gan(preset("mixture-mlp", **{**RING, "lr_D": 1e-3}), ring8, tmp_path, resume=True, device="cpu")


def test_ring8_records_modes_covered_as_computed_from_its_own_samples(ring8, tmp_path):
    tracker = ModeCoverageTracker.for_dataset(ring8, n_samples=1000)
    cfg = preset("mixture-mlp", **RING, best_metric="modes_hit", best_mode="max")
    run = train_gan(cfg, ring8, tmp_path, device="cpu", evaluate=tracker)
    assert len(run.rows) == 4
    for row in run.rows:
        snapshot = torch.load(tmp_path / "samples" / f"epoch{row['epoch']:04d}.pt", weights_only=True)
        assert snapshot.shape == (1000, 2)
    # the last row's modes are those of the generator stored in last.pt, on the evaluation noise stream
    trained = load_gan(tmp_path, checkpoint="last")
    again = trained.sample(1000, generator=torch.Generator().manual_seed(cfg.seed + 1))
    cov = mode_coverage(again, ring8.centers, ring8.std)
    assert run.rows[-1]["modes_hit"] == cov["modes_hit"]
    assert run.rows[-1]["high_quality_fraction"] == pytest.approx(cov["high_quality_fraction"], abs=1e-12)
    # best.pt holds the first epoch with the most modes
    modes = [r["modes_hit"] for r in run.rows]
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt", "gan")
    assert best["epoch"] == modes.index(max(modes)) and run.manifest["summary"]["best_epoch"] == best["epoch"]


def test_per_epoch_rows_and_per_iteration_series_agree(ring8, tmp_path):
    run = train_gan(preset("mixture-mlp", **{**RING, "epochs": 2}), ring8, tmp_path, device="cpu")
    its = _iterations(tmp_path)
    assert its[0] == ["epoch", "step", "loss_D", "loss_G", "D_x", "D_G_z", "D_G_z2"]
    per_epoch = len(ring8) // RING["batch_size"]
    assert len(its) - 1 == 2 * per_epoch and [int(r[1]) for r in its[1:]] == list(range(1, 2 * per_epoch + 1))
    for row in run.rows:
        mine = [r for r in its[1:] if int(r[0]) == row["epoch"]]
        for j, col in enumerate(("loss_D", "loss_G", "D_x", "D_G_z"), start=2):
            assert row[col] == pytest.approx(sum(float(r[j]) for r in mine) / len(mine), rel=1e-5)
        assert row["step"] == int(mine[-1][1])


def test_image_run_writes_grids_and_merges_evaluate_into_rows(tiny_images, tmp_path):
    seen = []

    def evaluate(sample_fn):
        x = sample_fn(40)
        seen.append(x)
        assert x.shape == (40, 1, 32, 32) and x.abs().max() <= 1
        return {"fd_fake": float(x.mean())}

    run = train_gan(GANTrainConfig(**{**TINY_DCGAN, "epochs": 2}), tiny_images, tmp_path, device="cpu", evaluate=evaluate)
    assert [p.name for p in run.grids] == ["epoch0000.png", "epoch0001.png"]
    assert [r["fd_fake"] for r in run.rows] == pytest.approx([float(x.mean()) for x in seen])
    for col in ("epoch", "step", "loss_D", "loss_G", "D_x", "D_G_z", "epoch_time_s", "epoch_cpu_s", "diversity"):
        assert col in run.rows[0]
    assert run.manifest["params"]["channels"] == 1 and run.manifest["data"]["name"] == "tiny"


def test_best_checkpoint_follows_the_chosen_metric(tiny_images, tmp_path):
    series = iter([5.0, 3.0, 4.0, 6.0, 7.0])
    cfg = GANTrainConfig(**{**TINY_DCGAN, "epochs": 5, "best_metric": "fd_fake", "best_mode": "min"})
    run = train_gan(cfg, tiny_images, tmp_path, device="cpu", evaluate=lambda f: {"fd_fake": next(series)})
    assert load_checkpoint(tmp_path / "checkpoints" / "best.pt", "gan")["epoch"] == 1
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt", "gan")["epoch"] == 4
    summary = run.manifest["summary"]
    assert summary["best_epoch"] == 1 and summary["best_value"] == 3.0
    assert "collapse" not in summary  # a verdict is analysis of the rows, made where results are shown


def test_missing_best_metric_column_is_an_error(tiny_images, tmp_path):
    cfg = GANTrainConfig(**{**TINY_DCGAN, "epochs": 1, "best_metric": "fd_classifier"})
    with pytest.raises(ValueError, match="fd_classifier"):
        train_gan(cfg, tiny_images, tmp_path, device="cpu")
    assert load_record(tmp_path).manifest["status"] == "failed"


def test_non_finite_loss_names_its_step_and_leaves_the_last_checkpoint_intact(ring8, tmp_path, monkeypatch):
    cfg = preset("mixture-mlp", **{**RING, "epochs": 1, "check_every": 4})
    train_gan(cfg, ring8, tmp_path, device="cpu")
    last = tmp_path / "checkpoints" / "last.pt"
    digest = hashlib.sha256(last.read_bytes()).hexdigest()

    per_epoch = len(ring8) // RING["batch_size"]
    bad_step = per_epoch + 3  # third iteration of the second epoch, between two checks (every 4 steps)
    calls = []

    def diverging_loss(real_logits, fake_logits):
        calls.append(1)
        loss = gan_module.discriminator_loss.__wrapped__(real_logits, fake_logits)
        return loss * float("nan") if per_epoch + len(calls) >= bad_step else loss

    diverging_loss.__wrapped__ = gan_module.discriminator_loss
    monkeypatch.setattr(gan_module, "discriminator_loss", diverging_loss)
    with pytest.raises(NonFiniteLossError, match=f"step {bad_step}:") as err:
        train_gan(preset("mixture-mlp", **{**RING, "epochs": 3, "check_every": 4}), ring8, tmp_path,
                  resume=True, device="cpu")
    assert len(calls) == 4  # found at the next check, named by the first bad step
    assert str(last) in str(err.value)
    assert hashlib.sha256(last.read_bytes()).hexdigest() == digest
    record = load_record(tmp_path)
    assert record.manifest["status"] == "failed" and f"step {bad_step}" in record.manifest["error"]
    assert [r["epoch"] for r in record.rows] == [0]
    # the advice names this trainer's settings (no clipping: the GAN has none), and following it works
    assert "here: 'lr_G', 'lr_D', 'bf16'" in str(err.value) and "clipping" not in str(err.value)
    monkeypatch.setattr(gan_module, "discriminator_loss", gan_module.discriminator_loss.__wrapped__)
    lower = preset("mixture-mlp", **{**RING, "epochs": 3, "check_every": 4, "lr_G": 1e-5, "lr_D": 1e-5})
    rec = train_gan(lower, ring8, tmp_path, resume=True, device="cpu", overrides=("lr_G", "lr_D"))
    assert rec.manifest["status"] == "finished" and "error" not in rec.manifest
    assert f"step {bad_step}" in rec.manifest["earlier_errors"][0]
    assert [set(o) for o in rec.manifest["resume_overrides"]] == [{"epoch", "lr_G", "lr_D"}]


def test_resume_on_other_data_is_refused(ring8, tmp_path):
    train_gan(preset("mixture-mlp", **{**RING, "epochs": 1}), ring8, tmp_path, device="cpu")
    other = load_dataset("ring8", subset=len(ring8), seed=2)
    with pytest.raises(CheckpointError, match="other data"):
        train_gan(preset("mixture-mlp", **RING), other, tmp_path, resume=True, device="cpu")


def test_sampler_continues_its_noise_stream_and_restarts_with_a_new_generator():
    torch.manual_seed(0)
    G = MLPGenerator(nz=4, hidden=8)
    trained, stream = TrainedGAN(G, 4), torch.Generator().manual_seed(7)
    a, b = trained.sample(5, generator=stream), trained.sample(5, generator=stream)
    assert not torch.equal(a, b)
    again = torch.Generator().manual_seed(7)
    assert torch.equal(trained.sample(5, generator=again), a) and torch.equal(trained.sample(5, generator=again), b)
    assert G.training  # left as it was


def test_evaluate_does_not_change_what_is_trained(tiny_images, tmp_path):
    def noisy_evaluate(sample_fn):
        sample_fn(8)
        return {"draw": float(torch.rand(1000).sum())}  # consumes the global RNG

    cfg = GANTrainConfig(**{**TINY_DCGAN, "epochs": 2})
    train_gan(cfg, tiny_images, tmp_path / "plain", device="cpu")
    train_gan(cfg, tiny_images, tmp_path / "evaluated", device="cpu", evaluate=noisy_evaluate)
    a = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.pt", "gan")
    b = load_checkpoint(tmp_path / "evaluated" / "checkpoints" / "last.pt", "gan")
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


def test_data_and_config_mismatches_are_refused(ring8, tiny_images, tmp_path):
    with pytest.raises(ValueError, match="image_size"):
        train_gan(GANTrainConfig(**{**TINY_DCGAN, "image_size": 64}), tiny_images, tmp_path / "a")
    with pytest.raises(ValueError, match="arch='mlp'"):
        train_gan(GANTrainConfig(), ring8, tmp_path / "b")
    with pytest.raises(ValueError, match="generator loss"):
        train_gan(GANTrainConfig(**{**TINY_DCGAN, "g_loss": "hinge"}), tiny_images, tmp_path / "c")
    with pytest.raises(TypeError):
        train_gan({"learning_rate": 1.0}, tiny_images, tmp_path / "d")
    assert not (tmp_path / "a").exists()


def test_minimax_loss_trains_and_is_recorded(tiny_images, tmp_path):
    run = train_gan({**TINY_DCGAN, "epochs": 1, "g_loss": "minimax"}, tiny_images, tmp_path, device="cpu")
    assert run.params["g_loss"] == "minimax" and run.rows[0]["loss_G"] < 0  # E[log(1 - D(G(z)))] <= 0
