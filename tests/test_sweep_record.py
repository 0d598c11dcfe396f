"""A sweep's record: continued where it was killed, reused when finished, never mixed with another sweep."""

from __future__ import annotations

import json

import pytest
import torch

from repro.records import RunRecord, load_record
from repro.report import sample_ddim
from repro.report.params import ParameterError
from repro.report.sweep_record import open_sweep

CFG = {"steps": [2, 4], "n_samples": 8, "seed": 0, "scales": [0.0, float("inf")], "out_dir": "a/sweep",
       "runs_dir": "a", "device": "auto", "profile": "cpu", "resume": True}
KEYS = ("steps", "n_samples", "seed", "scales")
CPU = torch.device("cpu")


def _model(path, epochs=2):
    rec = RunRecord(path, "diffusion", {"lr": 1e-3})
    for e in range(epochs):
        rec.log({"epoch": e})
    rec.finish()
    return load_record(path)


def _open(tmp_path, model, cfg=CFG, kind="sampling-sweep", device=CPU):
    return open_sweep(tmp_path / "sweep", kind, cfg, KEYS, {}, {"ddpm": model}, device)


def test_a_new_sweep_records_which_models_it_samples(tmp_path):
    model = _model(tmp_path / "ddpm")
    rec = open_sweep(tmp_path / "sweep", "sampling-sweep", CFG, KEYS, {"name": "fashion-mnist"},
                     {"ddpm": model, "gan": None}, CPU)
    models = load_record(tmp_path / "sweep").manifest["data"]["models"]
    assert isinstance(rec, RunRecord) and models == {
        "ddpm": {"run": "ddpm", "start_time": model.manifest["start_time"], "epochs": 2}, "gan": None}


def test_a_finished_sweep_is_returned_as_it_is_and_a_killed_one_continues(tmp_path):
    model = _model(tmp_path / "ddpm")
    _open(tmp_path, model).finish()
    before = (tmp_path / "sweep" / "manifest.json").read_text()
    moved = {**CFG, "out_dir": "b/sweep", "runs_dir": "b", "resume": False, "batch_size": 4}  # not in KEYS
    again = _open(tmp_path, model, moved)  # an infinite scale reads back as "inf" and still matches
    assert not isinstance(again, RunRecord) and again.manifest["status"] == "finished"
    assert (tmp_path / "sweep" / "manifest.json").read_text() == before  # not even marked as resumed
    manifest = json.loads(before)
    (tmp_path / "sweep" / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    resumed = _open(tmp_path, model)
    assert isinstance(resumed, RunRecord) and len(resumed.manifest["resumed_at"]) == 1


@pytest.mark.parametrize("change, named", [({"steps": [2, 8]}, "steps: [2, 4] there, [2, 8] now"),
                                           ({"n_samples": 16}, "n_samples: 8 there, 16 now")])
def test_a_sweep_of_other_settings_is_refused_with_the_difference(tmp_path, change, named):
    model = _model(tmp_path / "ddpm")
    _open(tmp_path, model).finish()
    with pytest.raises(ParameterError, match=r"holds a sweep of other settings or models \(" + named.replace("[", r"\[")
                       .replace("]", r"\]") + r"\): delete that folder"):
        _open(tmp_path, model, {**CFG, **change})


def test_a_sweep_on_another_kind_of_device_is_refused(tmp_path):
    model = _model(tmp_path / "ddpm")
    _open(tmp_path, model).finish()
    with pytest.raises(ParameterError, match="device: 'cpu' there, 'cuda' now"):
        _open(tmp_path, model, device=torch.device("cuda"))  # a CUDA stream draws other samples


def test_a_sweep_of_another_model_or_of_the_model_trained_further_is_refused(tmp_path):
    first, other = _model(tmp_path / "ddpm"), _model(tmp_path / "ddpm-other")  # started in the same second, maybe
    _open(tmp_path, first).finish()
    with pytest.raises(ParameterError, match="models: "):
        _open(tmp_path, other)
    longer = RunRecord.resume(tmp_path / "ddpm")
    longer.log({"epoch": 2})
    longer.finish()
    with pytest.raises(ParameterError, match="'epochs': 2.*'epochs': 3"):
        _open(tmp_path, load_record(tmp_path / "ddpm"))
    with pytest.raises(ParameterError, match="holds a 'sampling-sweep' run, not a 'guidance-sweep'"):
        _open(tmp_path, first, kind="guidance-sweep")


def test_a_sweep_recorded_before_sweeps_named_their_models_gets_its_own_fix(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "manifest.json").write_text(json.dumps(
        {"kind": "sampling-sweep", "status": "finished", "params": {}, "data": {"ddpm_run": "runs/train_ddpm"}}))
    with pytest.raises(ParameterError, match="recorded before sweeps named the models they sample.*delete that folder"):
        _open(tmp_path, _model(tmp_path / "ddpm"))


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
    (first.path / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    (first.path / "metrics.csv").unlink()  # killed before its first row: it starts its rows over
    untimed = lambda rows: [{k: v for k, v in r.items() if k != "seconds_per_image"} for r in rows]  # noqa: E731
    assert untimed(sample_ddim.sweep({**cfg, "resume": True}, *models).rows) == untimed(again.rows)
