"""The GAN trainer's simultaneous update (PacGAN's) and its 2D preset."""

from __future__ import annotations

import copy

import pytest
import torch

from repro.data import DeviceBatches, load_dataset
from repro.models.gan_mlp import MaxoutDiscriminator
from repro.train.checkpoint import load_checkpoint
from repro.train.gan import GANTrainConfig, PRESETS, build_gan, gan_epoch, preset, setup_training, train_gan
from repro.train.gan_losses import discriminator_loss, generator_loss

SMALL = dict(arch="mlp", nz=2, mlp_hidden=16, mlp_hidden_D=8, mlp_depth_G=2, mlp_depth_D=2, g_norm="batch",
             d_arch="maxout", maxout_pieces=3, init_std=0.02, batch_size=64, epochs=2, grid_samples=50, seed=4)


@pytest.fixture(scope="module")
def ring():
    return load_dataset("ring8_r1", subset=256, seed=0)


def test_simultaneous_update_takes_both_gradients_at_the_same_parameters(ring):
    cfg = GANTrainConfig(**{**SMALL, "update": "simultaneous", "lr_G": 1e-2, "lr_D": 1e-2})
    s = setup_training(cfg, torch.device("cpu"))
    G, D = copy.deepcopy(s.G), copy.deepcopy(s.D)
    optG, optD = (torch.optim.Adam(m.parameters(), lr=1e-2, betas=(0.5, 0.999)) for m in (G, D))
    batches = DeviceBatches(ring.points, None, 256, "cpu", seed=cfg.seed)
    x = next(batches.epoch(0))[0]
    z = torch.randn(256, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed))  # the trainer's first draw
    fake = G(z)
    real_logits, fake_logits = D(x), D(fake)
    gD = torch.autograd.grad(discriminator_loss(real_logits, fake_logits), list(D.parameters()), retain_graph=True)
    gG = torch.autograd.grad(generator_loss(fake_logits, cfg.g_loss), list(G.parameters()))
    for p, g in zip(list(D.parameters()) + list(G.parameters()), gD + gG):
        p.grad = g
    optD.step()
    optG.step()

    gan_epoch(s, DeviceBatches(ring.points, None, 256, "cpu", seed=cfg.seed), 0, 0)
    for mine, ref in ((s.G, G), (s.D, D)):
        for a, b in zip(mine.parameters(), ref.parameters()):
            assert torch.allclose(a, b, atol=1e-7)
    # an alternating step differs: G's gradient would be taken through the updated D
    alt = setup_training(GANTrainConfig(**{**SMALL, "lr_G": 1e-2, "lr_D": 1e-2}), torch.device("cpu"))
    gan_epoch(alt, DeviceBatches(ring.points, None, 256, "cpu", seed=cfg.seed), 0, 0)
    assert not all(torch.allclose(a, b, atol=1e-7) for a, b in zip(alt.G.parameters(), s.G.parameters()))


def test_pacgan_preset_builds_its_networks():
    cfg = PRESETS["mixture-pacgan"]
    G, D = build_gan(cfg)
    assert isinstance(D, MaxoutDiscriminator)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in G.modules()) == 4
    assert (cfg.nz, cfg.batch_size, cfg.betas_G, cfg.update) == (2, 100, (0.8, 0.999), "simultaneous")
    linears = [m for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(400, 2), (400, 400), (400, 400), (400, 400), (2, 400)]


def test_simultaneous_training_resumes_bit_for_bit(ring, tmp_path):
    cfg = preset("mixture-pacgan", **{k: v for k, v in SMALL.items() if k not in ("epochs",)}, epochs=3)
    full = train_gan(cfg, ring, tmp_path / "full", device="cpu")
    train_gan(GANTrainConfig(**{**cfg.__dict__, "epochs": 1}), ring, tmp_path / "split", device="cpu")
    split = train_gan(cfg, ring, tmp_path / "split", resume=True, device="cpu")
    assert [r["loss_D"] for r in split.rows] == [r["loss_D"] for r in full.rows]
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt", "gan")
    b = load_checkpoint(tmp_path / "split" / "checkpoints" / "last.pt", "gan")
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])


def test_unknown_update_rule_is_refused_before_any_folder(ring, tmp_path):
    with pytest.raises(ValueError, match="update"):
        train_gan(GANTrainConfig(**{**SMALL, "update": "unrolled"}), ring, tmp_path / "x", device="cpu")
    assert not (tmp_path / "x").exists()
