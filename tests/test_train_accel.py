"""Speed options of the trainers: optimiser choice, and torch.compile giving the same training."""

import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from repro.data import load_dataset
from repro.train.accel import adam, compiled
from repro.train.checkpoint import load_checkpoint
from repro.train.diffusion import DiffusionTrainConfig, train_diffusion
from repro.train.gan import GANTrainConfig, train_gan

POINT_CFG = dict(model="mlp", model_kwargs=dict(hidden=32, depth=2), schedule="cosine", num_timesteps=20,
                 variance="learned_range", loss_type="hybrid", batch_size=128, lr=1e-3, warmup_steps=5,
                 ema_decay=0.9, track_sampler="ddim", track_steps=5, grid_samples=200, epochs=1)
RING = dict(arch="mlp", epochs=1, batch_size=256, nz=16, mlp_hidden=32, grid_samples=500, seed=3)


@pytest.fixture(scope="module")
def ring8():
    return load_dataset("ring8", subset=1024, seed=0)


def test_adam_picks_adamw_for_weight_decay_and_keeps_the_default_kernel_on_cpu():
    p = [nn.Parameter(torch.zeros(3))]
    a, w = adam(p, torch.device("cpu"), 1e-3, (0.5, 0.999)), adam(p, torch.device("cpu"), 1e-3, (0.9, 0.99), 0.1)
    assert type(a) is torch.optim.Adam and type(w) is torch.optim.AdamW
    assert a.defaults["betas"] == (0.5, 0.999) and w.defaults["weight_decay"] == 0.1
    assert not a.defaults.get("fused")  # CPU runs stay bit-identical to the default implementation


def test_compiled_is_the_module_itself_when_disabled():
    m = nn.Linear(2, 2)
    assert compiled(m, False) is m
    assert compiled(m, True) is not m


def _compile_works() -> bool:
    return sys.platform.startswith("linux") and torch._dynamo.is_dynamo_supported()


@pytest.mark.skipif(not _compile_works(), reason="torch.compile is not supported here")
def test_diffusion_training_compiled_matches_eager_and_saves_plain_weights(tmp_path, ring8):
    eager = train_diffusion(DiffusionTrainConfig(**POINT_CFG), ring8, tmp_path / "eager", device="cpu")
    fast = train_diffusion(DiffusionTrainConfig(**POINT_CFG, compile=True), ring8, tmp_path / "fast", device="cpu")
    assert math.isclose(fast.rows[0]["loss"], eager.rows[0]["loss"], rel_tol=1e-4)
    state = load_checkpoint(tmp_path / "fast" / "checkpoints" / "last.pt", "diffusion")
    assert not any(k.startswith("_orig_mod") for k in state["model"])
    # compile is a speed setting: resuming without it is allowed
    train_diffusion(DiffusionTrainConfig(**{**POINT_CFG, "epochs": 2}), ring8, tmp_path / "fast", resume=True,
                    device="cpu")


@pytest.mark.skipif(not _compile_works(), reason="torch.compile is not supported here")
def test_gan_training_compiled_matches_eager(tmp_path, ring8):
    eager = train_gan(GANTrainConfig(**RING), ring8, tmp_path / "eager", device="cpu")
    fast = train_gan(GANTrainConfig(**RING, compile=True), ring8, tmp_path / "fast", device="cpu")
    for key in ("loss_D", "loss_G", "D_x"):
        assert math.isclose(fast.rows[0][key], eager.rows[0][key], rel_tol=1e-4), key
    state = load_checkpoint(Path(tmp_path / "fast" / "checkpoints" / "last.pt"), "gan")
    assert not any(k.startswith("_orig_mod") for k in state["G"])
