"""The guidance study: which models it guides, what its twin changes, and that a killed sweep continues."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from repro.records import load_record
from repro.report import guidance
from repro.report.params import ParameterError
from repro.report.runs import study_run
from repro.train import diffusion


def test_outside_smoke_the_study_needs_the_cpu_studys_ddpm(tmp_path):
    with pytest.raises(ParameterError, match="pass ddpm_run .* or runs_dir"):
        guidance.setup({"profile": "cpu"})
    with pytest.raises(ParameterError, match="pass ddpm_run .* or runs_dir"):
        guidance.setup({"profile": "cpu", "runs_dir": str(tmp_path)})  # no images study in it
    (tmp_path / "images" / "ddpm" / "lr0.0005-seed0").mkdir(parents=True)
    (tmp_path / "images" / "ddpm" / "lr0.0005-seed1").mkdir(parents=True)
    (tmp_path / "images" / "ddpm" / "lr0.0005-seed0-fp32").mkdir(parents=True)  # the float32 twin is not a seed
    assert guidance.setup({"profile": "cpu", "runs_dir": str(tmp_path)})["runs_dir"] == str(tmp_path)
    assert study_run(tmp_path, "ddpm").name == "lr0.0005-seed0"
    assert study_run(tmp_path, "gan") is None


def test_the_study_run_passes_over_a_seed_that_diverged(tmp_path):
    from repro.records import RunRecord
    from repro.train.checkpoint import NonFiniteLossError

    root = tmp_path / "images" / "ddpm"
    RunRecord(root / "lr0.0005-seed0", "diffusion", {"lr": 5e-4}).fail(NonFiniteLossError("non-finite loss at step 9"))
    RunRecord(root / "lr0.0005-seed1", "diffusion", {"lr": 5e-4}).finish()
    assert study_run(tmp_path, "ddpm").name == "lr0.0005-seed1"
    RunRecord(root / "lr0.0005-seed10", "diffusion", {"lr": 5e-4}).finish()  # seeds sort as numbers
    assert study_run(tmp_path, "ddpm").name == "lr0.0005-seed1"
    (root / "lr0.0015-seed0").mkdir()  # seeds of two rates: not one study's
    assert study_run(tmp_path, "ddpm") is None


@pytest.mark.parametrize("change, message", [
    ({"scales": [1.0, -2.0]}, "'scales'.*numbers >= 0"),
    ({"weights": ["x"]}, "'weights'.*numbers >= 0"),
    ({"p_uncond": 0.0}, "'p_uncond' = 0.0 must be in \\(0, 1\\)"),
    ({"accuracy_ts": [-1]}, "'accuracy_ts'"),
])
def test_bad_sweep_parameters_are_named(change, message):
    with pytest.raises(ParameterError, match=message):
        guidance.setup({"profile": "smoke", **change})


def test_the_twin_adds_only_class_conditioning_and_label_dropout(tmp_path):
    config = diffusion.preset("fashion-mnist-32-cpu", epochs=7, lr=3e-4, seed=2)
    run = tmp_path / "ddpm"
    run.mkdir()
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(config).items()}
    (run / "manifest.json").write_text(json.dumps({"kind": "diffusion", "params": params}))
    twin = guidance.twin_config(load_record(run), 10, 0.1)
    changed = {k for k in vars(config) if getattr(config, k) != getattr(twin, k)}
    assert changed == {"num_classes", "p_uncond"} and (twin.num_classes, twin.p_uncond) == (10, 0.1)


def test_a_killed_sweep_continues_after_its_last_finished_point(tmp_path):
    cfg = {**guidance.setup({"profile": "smoke", "out_dir": str(tmp_path)}), "scales": [0.0, 2.0], "weights": [],
           "n_samples": 20, "batch_size": 20, "steps": 2}
    first = guidance.run(cfg)
    rows = first.sweep.rows
    assert [(r["guidance"], r["scale"]) for r in rows] == [("real", None), ("classifier", 0.0), ("classifier", 2.0)]
    assert all(r["n"] == 20 for r in rows) and rows[0]["label_accuracy"] > 0.5
    sweep = Path(first.sweep.path)
    manifest = json.loads((sweep / "manifest.json").read_text())
    (sweep / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))  # killed at the last point
    with open(sweep / "metrics.csv") as f:
        kept = list(csv.reader(f))[:-1]
    with open(sweep / "metrics.csv", "w", newline="") as f:
        csv.writer(f).writerows(kept)
    again = guidance.run(cfg)
    assert again.sweep.manifest["status"] == "finished" and len(again.sweep.rows) == 3
    assert again.sweep.rows[:2] == rows[:2]
    assert again.sweep.rows[2]["fd_classifier"] == pytest.approx(rows[2]["fd_classifier"], rel=1e-6)


def test_a_seed_the_study_is_still_training_is_not_handed_on(tmp_path):
    from repro.records import RunRecord
    from repro.report.runs import stopped_study_run
    from repro.report.sample_ddim import model_runs

    run = tmp_path / "images" / "ddpm" / "lr0.0005-seed0"
    RunRecord(run, "diffusion", {"lr": 5e-4, "epochs": 2}).finish()  # a chunk's end reads "finished"
    with pytest.raises(ParameterError, match="lr0.0005-seed0 is still being trained by the images study"):
        stopped_study_run(tmp_path, "ddpm")
    with pytest.raises(ParameterError, match="still being trained"):
        model_runs(tmp_path)  # the sampler sweep asks the same before sampling
    assert stopped_study_run(tmp_path, "gan") is None  # no study of that model: the caller's fallback
    (run / "stop.json").write_text(json.dumps({"reason": "budget spent"}))
    assert stopped_study_run(tmp_path, "ddpm") == run == model_runs(tmp_path)["ddpm"]
