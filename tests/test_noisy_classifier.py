"""The noisy-classifier trainer and class-conditional DDPM training (Dhariwal & Nichol 2021; Ho & Salimans 2022)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from repro.data import ImageDataset
from repro.diffusion import ancestral_sample_loop, ddim_sample_loop
from repro.diffusion.guidance import ClassifierFreeGuidance
from repro.records import load_record
from repro.train import load_diffusion
from repro.train.checkpoint import CheckpointError
from repro.train.diffusion import DiffusionTrainConfig, train_diffusion
from repro.train.noisy_classifier import (NoisyClassifierTrainConfig, accuracy_by_t, load_noisy_classifier,
                                          train_noisy_classifier)

T = 50
CLASSIFIER = dict(model="tiny", model_kwargs=dict(model_channels=8, channel_mult=[1, 2], norm_groups=4,
                                                  attention_resolutions=[]),
                  schedule="cosine", num_timesteps=T, epochs=2, batch_size=32, lr=2e-3, val_size=64)
DDPM = dict(model="tiny", model_kwargs=dict(model_channels=8, channel_mult=[1, 2], norm_groups=4,
                                            attention_resolutions=[], dropout=0.0),
            schedule="cosine", num_timesteps=20, variance="learned_range", loss_type="hybrid", epochs=1,
            batch_size=32, lr=1e-3, warmup_steps=2, ema_decay=0.9, track_steps=4, grid_samples=4,
            track_batch_size=4)


def _halves(n: int = 256, seed: int = 0, size: int = 8) -> ImageDataset:
    """Two labelled classes a classifier separates at a glance: the bright half is the left (0) or right (1)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.full((n, 1, size, size), 60.0)
    x[y == 0, :, :, : size // 2] = 200.0
    x[y == 1, :, :, size // 2:] = 200.0
    x = (x + 20 * torch.randn(x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    return ImageDataset("halves", "Toy halves", "train" if seed == 0 else "test", x, y, ["left", "right"], "test")


def _assert_same(a, b):
    """Tensors equal bit for bit, through nested dicts and lists."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    else:
        assert a == b


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("classifier") / "run"
    return train_noisy_classifier(NoisyClassifierTrainConfig(**CLASSIFIER), _halves(), run, device="cpu")


def test_noisy_classifier_learns_separable_toy_images_far_above_chance(classifier_run):
    rec = classifier_run
    assert rec.manifest["kind"] == "noisy-classifier" and rec.manifest["status"] == "finished"
    assert rec.manifest["train_size"] == 256 - 64 and rec.manifest["num_classes"] == 2
    last = rec.rows[-1]
    assert {"loss", "acc", "lr", "val_loss", "val_acc", "val_acc_clean"} <= set(last)
    assert last["val_acc_clean"] > 0.95          # chance: 0.5
    assert last["val_acc"] > 0.7                 # t uniform over all T steps, the noisiest ones unguessable
    assert rec.rows[-1]["lr"] < rec.rows[0]["lr"]  # annealed towards 0
    assert (rec.path / "checkpoints" / "best.pt").exists()


def test_accuracy_by_t_falls_from_clean_to_chance_as_noise_grows(classifier_run):
    classifier, process = load_noisy_classifier(classifier_run)
    test = _halves(400, seed=1)
    acc = accuracy_by_t(classifier, process, test, [0, 25, 40, T - 1], 400, torch.Generator().manual_seed(0))
    assert acc[0] > 0.95
    assert acc[0] >= acc[25] >= acc[40] >= acc[T - 1] - 0.05
    assert abs(acc[T - 1] - 0.5) < 0.1           # x_{T-1} is nearly pure noise: two balanced classes


def test_accuracy_by_t_of_a_respaced_process_hands_the_classifier_the_original_timestep(classifier_run):
    classifier, process = load_noisy_classifier(classifier_run)
    respaced = process.respace(10)
    assert int(respaced.timestep_map[-1]) == T - 1
    test = _halves(200, seed=1)
    full = accuracy_by_t(classifier, process, test, [T - 1], 200, torch.Generator().manual_seed(3))
    short = accuracy_by_t(classifier, respaced, test, [9], 200, torch.Generator().manual_seed(3))
    assert short[9] == full[T - 1]               # same images, noise, abar and timestep


@pytest.mark.parametrize("refusal", ["other data", "other settings", "fewer epochs", "annealed over other epochs"])
def test_a_refused_classifier_resume_leaves_every_file_of_the_run_unchanged(refusal, classifier_run, tmp_path):
    run = tmp_path / "run"
    for p in classifier_run.path.rglob("*"):     # a copy of the finished run
        if p.is_file() and p.name != ".lock":
            dest = run / p.relative_to(classifier_run.path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(p.read_bytes())
    cfg, data = dict(CLASSIFIER, epochs=3), _halves()
    if refusal == "other data":
        data = _halves(seed=5)
    elif refusal == "other settings":
        cfg["lr"] = 0.5
    elif refusal == "fewer epochs":
        cfg["epochs"] = 1
    before = _snapshot(run)
    with pytest.raises(CheckpointError, match="anneals" if refusal.startswith("annealed") else None):
        train_noisy_classifier(NoisyClassifierTrainConfig(**cfg), data, run, resume=True, device="cpu")
    assert _snapshot(run) == before
    assert load_record(run).manifest["status"] == "finished"


def test_classifier_resume_gives_the_same_weights_and_rows_as_an_uninterrupted_run(tmp_path):
    data = _halves(96)
    cfg = dict(CLASSIFIER, val_size=32, anneal_lr=False)  # an annealed run may not change its epochs
    train_noisy_classifier(NoisyClassifierTrainConfig(**cfg), data, tmp_path / "straight", device="cpu")
    train_noisy_classifier(NoisyClassifierTrainConfig(**dict(cfg, epochs=1)), data, tmp_path / "resumed", device="cpu")
    train_noisy_classifier(NoisyClassifierTrainConfig(**cfg), data, tmp_path / "resumed", resume=True, device="cpu")
    states = [torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=True)
              for name in ("straight", "resumed")]
    for key in ("model", "optimizer", "rng"):
        _assert_same(states[0][key], states[1][key])
    timing = ("epoch_time_s", "epoch_cpu_s", "examples_per_s", "eval_time_s")
    rows = [[{k: v for k, v in r.items() if k not in timing} for r in load_record(tmp_path / name).rows]
            for name in ("straight", "resumed")]
    assert rows[0] == rows[1] and len(rows[0]) == 2


def test_class_conditional_ddpm_trains_and_samples_with_classifier_free_guidance(tmp_path):
    data = _halves(64)
    rec = train_diffusion(DiffusionTrainConfig(**DDPM, num_classes=2, p_uncond=0.2), data, tmp_path / "run",
                          device="cpu")
    assert rec.params["num_classes"] == 2 and rec.params["p_uncond"] == 0.2
    trained = load_diffusion(rec)
    model = trained.model
    assert model.null_label == 2 and model.label_embed.weight.shape[0] == 3
    y = torch.tensor([0, 1, 0, 1])
    guided = ClassifierFreeGuidance(model, y, guidance_weight=2.0, null_label=model.null_label)
    process = trained.process(5)
    for loop in (ddim_sample_loop, ancestral_sample_loop):
        x = loop(process, guided, (4, 1, 8, 8), generator=torch.Generator().manual_seed(0), device="cpu")
        assert x.shape == (4, 1, 8, 8) and torch.isfinite(x).all() and x.abs().max() <= 1.0
    with pytest.raises(ValueError, match="needs num_classes"):
        train_diffusion(DiffusionTrainConfig(**DDPM, p_uncond=0.1), data, tmp_path / "other", device="cpu")
    with pytest.raises(ValueError, match="num_classes = 1"):
        train_diffusion(DiffusionTrainConfig(**DDPM, num_classes=1), data, tmp_path / "other", device="cpu")
    assert not (tmp_path / "other").exists()


def test_unconditional_ddpm_ignores_the_labels_of_its_data(tmp_path):
    a = _halves(64)
    b = ImageDataset(a.name, a.label, a.split, a.images, torch.zeros_like(a.labels), a.classes, a.source)
    states = []
    for name, data in (("a", a), ("b", b)):
        train_diffusion(DiffusionTrainConfig(**DDPM), data, tmp_path / name, device="cpu")
        states.append(torch.load(tmp_path / name / "checkpoints" / "last.pt", weights_only=True))
    for key in ("model", "optimizer", "ema"):
        _assert_same(states[0][key], states[1][key])
    assert torch.equal(states[0]["rng"]["torch"], states[1]["rng"]["torch"])  # no label dropout was drawn
