"""Notebook parameters: profiles, overrides and the errors a wrong papermill parameter gets."""

from __future__ import annotations

import json

import pytest

from repro.report import compare, sample_ddim, toy_modes, train_ddpm, train_gan
from repro.report.params import PROFILES, ParameterError, load_profiles, resolve
from repro.report.runs import output_dir, pick_device
from repro.report.summary import summary_markdown


@pytest.mark.parametrize("module", [train_gan, train_ddpm, toy_modes, sample_ddim, compare])
def test_every_profile_of_every_notebook_is_valid(module, tmp_path):
    for name in ("train_ddpm", "train_gan"):  # what sample_ddim and compare read outside the smoke profile
        (tmp_path / name / "checkpoints").mkdir(parents=True)
    profiles = load_profiles()[module.NOTEBOOK]
    assert set(profiles) == set(PROFILES)
    for profile in PROFILES:
        params = {"profile": profile}
        if "runs_dir" in module.RULES and profiles[profile]["runs_dir"] is not None:
            params["runs_dir"] = str(tmp_path)
        cfg = resolve(module.NOTEBOOK, params, module.RULES, getattr(module, "CONSTRAINTS", ()))
        assert cfg["profile"] == profile and set(cfg) == set(module.RULES) | {"profile"}


def test_default_profile_is_the_paper_scale_run(monkeypatch):
    monkeypatch.delenv("REPRO_PROFILE", raising=False)
    cfg = resolve("train_gan", {"epochs": 100}, train_gan.RULES)
    assert cfg["profile"] == "gpu" and cfg["epochs"] == 100
    assert (cfg["dataset"], cfg["image_size"], cfg["preset"]) == ("cifar10", 64, "seed-report")


def test_environment_selects_the_profile_and_explicit_values_override_it(monkeypatch):
    monkeypatch.setenv("REPRO_PROFILE", "smoke")
    cfg = resolve("train_gan", {"epochs": 3, "subset": None}, train_gan.RULES)
    assert cfg["profile"] == "smoke" and cfg["epochs"] == 3 and cfg["subset"] == 256


@pytest.mark.parametrize("params, message", [
    ({"dataset": "mnist"}, r"'dataset' = 'mnist' is not allowed; choose one of \['cifar10', 'cifar10-jpeg', 'fashion-mnist'\]"),
    ({"epochs": -1}, r"'epochs' = -1 must be >= 1"),
    ({"epochs": 2.5}, r"'epochs' = 2.5 must be int"),
    ({"image_size": 48}, r"'image_size' = 48 is not allowed; choose one of \[32, 64\]"),
    ({"profile": "laptop"}, r"'profile' = 'laptop' is not allowed"),
    ({"epoch": 3}, r"unknown parameter 'epoch'"),
])
def test_bad_parameters_name_the_parameter_and_the_allowed_values(params, message):
    with pytest.raises(ParameterError, match=message):
        resolve("train_gan", {"profile": "smoke", **params}, train_gan.RULES)


def test_all_bad_parameters_are_reported_at_once():
    with pytest.raises(ParameterError) as err:
        resolve("train_gan", {"profile": "smoke", "dataset": "x", "epochs": 0}, train_gan.RULES)
    assert "'dataset'" in str(err.value) and "'epochs'" in str(err.value)


def test_unknown_mixture_and_sampler_are_rejected():
    with pytest.raises(ParameterError, match=r"'mixtures' has \['ring9'\]"):
        toy_modes.setup({"profile": "smoke", "mixtures": ["ring9"]})
    with pytest.raises(ParameterError, match=r"'samplers' has \['plms'\]"):
        sample_ddim.setup({"profile": "smoke", "samplers": ["plms"]})
    with pytest.raises(ParameterError, match="ema_decay"):
        train_ddpm.setup({"profile": "smoke", "ema_decay": 1.0})


def test_missing_runs_are_named(tmp_path):
    with pytest.raises(ParameterError, match=r"lacks trained runs \['train_ddpm', 'train_gan'\]"):
        sample_ddim.setup({"profile": "cpu", "runs_dir": str(tmp_path)})
    with pytest.raises(ParameterError, match="no such folder"):
        compare.setup({"profile": "smoke", "runs_dir": str(tmp_path / "none")})


def test_output_dir_refuses_to_overwrite_and_resume_needs_a_checkpoint(tmp_path):
    cfg = {"profile": "cpu", "out_dir": str(tmp_path / "run"), "resume": False}
    assert output_dir("train_gan", cfg) == tmp_path / "run"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "manifest.json").write_text("{}")
    with pytest.raises(ParameterError, match="already holds a run; pass -p resume True"):
        output_dir("train_gan", cfg)
    with pytest.raises(ParameterError, match="checkpoints/last.pt does not exist"):
        output_dir("train_gan", {**cfg, "resume": True})
    (tmp_path / "run" / "checkpoints").mkdir()
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"")
    assert output_dir("train_gan", {**cfg, "resume": True}) == tmp_path / "run"


def test_cuda_without_a_gpu_is_a_parameter_error(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    with pytest.raises(ParameterError, match="no CUDA GPU"):
        pick_device("cuda")


def test_summary_lists_every_notebook_and_run(tmp_path):
    run = tmp_path / "runs" / "train_gan"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"kind": "gan", "status": "finished", "wall_time_s": 61.0,
                                                   "data": {"label": "Fashion-MNIST", "n": 2000},
                                                   "hardware": {"torch_threads": 2}}))
    (run / "metrics.csv").write_text("epoch,loss\n0,1\n1,0.5\n")
    (tmp_path / "timings.json").write_text(json.dumps({"notebooks": {"train_gan": {
        "profile": "cpu", "start_time": "2026-01-01T00:00:00+00:00", "wall_time_s": 120.0}}, "git": {}}))
    md = summary_markdown(tmp_path)
    assert "| `train_gan` | cpu | 2026-01-01T00:00:00+00:00 | 2.0 min | 0.0 min |" in md
    assert "| `train_gan` | gan | Fashion-MNIST, 2,000 | CPU (2 threads) | 2 | 61 s | finished |" in md
