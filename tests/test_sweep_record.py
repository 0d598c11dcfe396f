"""A sweep's record: continued where it was killed, reused when finished, never mixed with another sweep."""

from __future__ import annotations

import json

import pytest
import torch

from repro.records import RunRecord, load_record
from repro.report import sample_ddim
from repro.report.params import ParameterError
from repro.report.sweep_record import open_sweep

CFG = {"steps": [2, 4], "n_samples": 8, "seed": 0, "out_dir": "a/sweep", "runs_dir": "a", "device": "cpu",
       "profile": "cpu", "resume": True}


def _model(path, epochs=2):
    rec = RunRecord(path, "diffusion", {"lr": 1e-3})
    for e in range(epochs):
        rec.log({"epoch": e})
    rec.finish()
    return load_record(path)


def test_a_new_sweep_records_which_models_it_samples(tmp_path):
    model = _model(tmp_path / "ddpm")
    rec = open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {"name": "fashion-mnist"}, {"ddpm": model, "gan": None},
                     torch.device("cpu"))
    models = load_record(tmp_path / "sweep").manifest["data"]["models"]
    assert isinstance(rec, RunRecord) and models == {"ddpm": {"start_time": model.manifest["start_time"], "epochs": 2},
                                                     "gan": None}


def test_a_finished_sweep_is_returned_as_it_is_and_a_killed_one_continues(tmp_path):
    model = _model(tmp_path / "ddpm")
    open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {}, {"ddpm": model}, torch.device("cpu")).finish()
    before = (tmp_path / "sweep" / "manifest.json").read_text()
    moved = {**CFG, "out_dir": "b/sweep", "runs_dir": "b", "device": "cuda", "resume": False}  # where, not what
    again = open_sweep(tmp_path / "sweep", "sampling-sweep", moved, {}, {"ddpm": model}, torch.device("cpu"))
    assert not isinstance(again, RunRecord) and again.manifest["status"] == "finished"
    assert (tmp_path / "sweep" / "manifest.json").read_text() == before  # not even marked as resumed
    manifest = json.loads(before)
    (tmp_path / "sweep" / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    resumed = open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {}, {"ddpm": model}, torch.device("cpu"))
    assert isinstance(resumed, RunRecord) and len(resumed.manifest["resumed_at"]) == 1


@pytest.mark.parametrize("change, named", [({"steps": [2, 8]}, "steps: [2, 4] there, [2, 8] now"),
                                           ({"n_samples": 16}, "n_samples: 8 there, 16 now")])
def test_a_sweep_of_other_settings_is_refused_with_the_difference(tmp_path, change, named):
    model = _model(tmp_path / "ddpm")
    open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {}, {"ddpm": model}, torch.device("cpu")).finish()
    with pytest.raises(ParameterError, match=r"holds a sweep of other settings or models \(" + named.replace("[", r"\[")
                       .replace("]", r"\]") + r"\): delete that folder"):
        open_sweep(tmp_path / "sweep", "sampling-sweep", {**CFG, **change}, {}, {"ddpm": model}, torch.device("cpu"))


def test_a_sweep_of_another_model_or_of_the_model_trained_further_is_refused(tmp_path):
    first, other = _model(tmp_path / "ddpm"), _model(tmp_path / "ddpm-other")
    open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {}, {"ddpm": first}, torch.device("cpu")).finish()
    with pytest.raises(ParameterError, match="models: "):
        open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {}, {"ddpm": other}, torch.device("cpu"))
    longer = RunRecord.resume(tmp_path / "ddpm")
    longer.log({"epoch": 2})
    longer.finish()
    with pytest.raises(ParameterError, match="'epochs': 2.*'epochs': 3"):
        open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, {}, {"ddpm": load_record(tmp_path / "ddpm")},
                   torch.device("cpu"))
    with pytest.raises(ParameterError, match="holds a 'sampling-sweep' run, not a 'guidance-sweep'"):
        open_sweep(tmp_path / "sweep", "guidance-sweep", CFG, {}, {"ddpm": first}, torch.device("cpu"))


def test_a_killed_sampling_sweep_continues_after_its_last_row_with_the_same_numbers(tmp_path):
    cfg = sample_ddim.setup({"profile": "smoke", "out_dir": str(tmp_path / "sweep"), "steps": [2, 3],
                             "samplers": ["ddim-eta0"], "n_samples": 16, "batch_size": 16})
    models = sample_ddim.load_models(cfg)
    first = sample_ddim.sweep(cfg, *models)
    assert [(r["sampler"], r["steps"]) for r in first.rows] == [("gan", 1), ("ddim-eta0", 2), ("ddim-eta0", 3)]
    manifest = json.loads((first.path / "manifest.json").read_text())
    (first.path / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))  # killed at the last row
    lines = (first.path / "metrics.csv").read_text().splitlines(keepends=True)
    (first.path / "metrics.csv").write_text("".join(lines[:-1]))
    with pytest.raises(ParameterError, match="pass -p resume True"):
        sample_ddim.sweep(cfg, *models)
    again = sample_ddim.sweep({**cfg, "resume": True}, *models)
    assert again.manifest["status"] == "finished" and len(again.rows) == 3 and again.rows[:2] == first.rows[:2]
    assert again.rows[2]["fd_classifier"] == pytest.approx(first.rows[2]["fd_classifier"], rel=1e-6)
    shown = sample_ddim.sweep({**cfg, "resume": True}, *models)  # finished: shown as it is, nothing sampled
    assert shown.manifest == again.manifest and shown.rows == again.rows
