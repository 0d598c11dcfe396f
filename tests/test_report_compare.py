"""The compare page's summary: one row per model, FID with its N, no false precision, sources linked."""

import json
from pathlib import Path

import pytest

from repro.report import compare
from repro.report.tables import MISSING


def _run(root, name, data_n, n, fid, params):
    run = root / name
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"kind": "gan", "data": {"label": "Fashion-MNIST", "n": data_n},
                                                   "hardware": {"device": "cpu"}}))
    (run / "metrics.csv").write_text("epoch\n0\n")
    result = {"n": n, "n_reference": n, "reference": "Fashion-MNIST, train split", "fid": fid,
              "extractor": "inception-v3-tf-2015-12-05 (offline TorchScript default_1.pt)",
              "precision": 0.40799999237060547, "recall": 0.47099998593330383, "density": 0.366,
              "coverage": 0.544, "classifier_score": 5.880480689653726, "classes_hit": 10}
    (run / "evaluation.json").write_text(json.dumps({"params": params, "result": result}))


def test_summary_has_one_row_per_model_with_n_beside_each_fid(tmp_path):
    _run(tmp_path, "train_gan", 20000, 1000, 50.770896753742846, {"n": 1000})
    _run(tmp_path, "train_ddpm", 2048, 500, 228.9985017937094, {"n": 500, "steps": 50, "eta": 0.0})
    rows = [{k: v.replace("\u00a0", " ") for k, v in r.items()} for r in compare.summary_rows(tmp_path)]
    assert len(rows) == len(compare.ANCHORS) + 2
    gan, ddpm = rows[-2:]
    assert gan["FID"] == "50.8 (N = 1,000)" and ddpm["FID"] == "229 (N = 500)"
    assert gan["precision / recall"] == "0.41 / 0.47" and gan["density / coverage"] == "0.37 / 0.54"
    assert gan["IS or classifier score"] == "classifier score 5.88; 10 classes hit"
    assert ddpm["model"].endswith("DDIM 50 steps, η = 0") and ddpm["data"] == "Fashion-MNIST, 2,048 training images"
    assert f"our run train_gan (CPU), [evaluation.json]({tmp_path / 'train_gan' / 'evaluation.json'})" \
        in gan["source and protocol"]
    assert "1,000 samples vs 1,000 real images" in gan["source and protocol"]
    assert "offline TorchScript" not in gan["source and protocol"]


def test_paper_rows_cite_their_source_and_say_when_n_is_not_stated():
    rows = [{k: v.replace("\u00a0", " ") for k, v in r.items()} for r in compare.summary_rows(None)]
    assert [r["model"] for r in rows] == [a["model"] for a in compare.ANCHORS]
    seed, _, ddpm, _ = rows
    assert seed["FID"] == "20 (N not stated)" and ddpm["FID"] == "3.17 (N = 50,000)"
    assert "{cite:p}`ho2020ddpm`" in ddpm["source and protocol"]
    assert seed["density / coverage"] == MISSING


def test_no_cell_shows_nan_none_or_false_precision(tmp_path):
    _run(tmp_path, "train_gan", 20000, 1000, 50.770896753742846, {"n": 1000})
    cells = [c for r in compare.summary_rows(tmp_path) for k, c in r.items() if k != "source and protocol"]
    for bad in ("nan", "none", "50.77", "0.408", "20.0"):
        assert not any(bad in c.lower() for c in cells), bad


def test_fid_and_its_n_do_not_break_inside_n_equals():
    assert compare.summary_rows(None)[2]["FID"] == "3.17 (N\u00a0=\u00a050,000)"


def test_ddim_steps_table_keeps_the_papers_digits_one_row_per_sampler():
    rows = compare.ddim_steps_table().rows
    assert [r["CIFAR-10 FID, 50k samples"] for r in rows] == list(compare.DDIM_STEPS)
    assert rows[0]["S = 10"] == "13.36" and rows[1]["S = 1000"] == "4.73"


def _sweep(runs: Path, metrics: str) -> Path:
    """A finished ``sample_ddim`` sweep of 250 samples under ``runs``, its ``metrics.csv`` as given."""
    run = runs / "sample_ddim"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"kind": "sampling-sweep", "params": {"n_samples": 250}}))
    (run / "metrics.csv").write_text(metrics)
    return run


def test_sweep_table_has_one_row_per_sampler_and_a_dash_where_none_was_run(tmp_path):
    _sweep(tmp_path, "sampler,nfe,fd_classifier\ngan,1,2.8464870569380736\nancestral,5,26.714445097362603\n"
                     "ancestral,100,15.33\n")
    rows = compare.sweep_table(tmp_path).rows
    assert rows == [{"classifier FD, N = 250": "DCGAN", "K = 1": "2.85", "K = 5": MISSING, "K = 100": MISSING},
                    {"classifier FD, N = 250": "ancestral", "K = 1": MISSING, "K = 5": "26.7", "K = 100": "15.3"}]
    assert "No `sample_ddim` run" in compare.sweep_table(None)._repr_markdown_()


def test_toy_rows_summarise_the_seeds_of_each_model_and_leave_out_selection_runs(tmp_path):
    import csv
    import json as _json

    def run(path, modes, status="finished"):
        path.mkdir(parents=True)
        (path / "manifest.json").write_text(_json.dumps({"kind": "gan", "status": status, "params": {}}))
        with open(path / "metrics.csv", "w", newline="") as f:
            csv.writer(f).writerows([["epoch", "modes_hit", "high_quality_fraction"], [0, modes, 0.9]])

    root = tmp_path / "toy_modes" / "ring8_r1"
    run(root / "gan-lr3e-05-seed0", 8)
    run(root / "gan-lr3e-05-seed1", 6)
    run(root / "gan-lr3e-05-seed2", 1, status="running")   # unfinished: left out
    run(root / "select" / "gan-lr0.0001", 2)                 # selection run: left out
    (row,) = compare.toy_rows(tmp_path)
    assert (row["model"], row["lr"], row["seeds"], row["modes hit (>= 20 of 2,500)"]) == ("GAN", "3e-5", 2, "7.0 ± 1.0")


def test_the_images_studys_models_are_rows_over_their_seeds_beside_the_real_floor(tmp_path, images_run):
    fid = {"n": 1000, "n_reference": 1000, "reference": "Fashion-MNIST, train split", "precision": 0.6,
           "recall": 0.5, "density": 0.9, "coverage": 0.7, "classifier_score": 8.0, "classes_hit": 10,
           "extractor": "inception-v3-tf-2015-12-05 (offline TorchScript default_1.pt)"}
    stop = {"flops_per_example": 1e8, "budget_flops": 1e15, "training_flops": 1e15, "reason": "budget spent"}
    data = {"label": "Fashion-MNIST", "n": 60000}
    root = tmp_path / "images"
    for seed, value in enumerate((40.0, 44.0, 48.0)):
        images_run(root / "gan" / f"lr0.0002-seed{seed}", "gan", 2e-4, [9.0], stop, {**fid, "fid": value}, data=data)
    ddpm = images_run(root / "ddpm" / "lr0.0005-seed0", "diffusion", 5e-4, [9.0], stop, {**fid, "fid": 30.0}, data=data)
    manifest = json.loads((ddpm / "manifest.json").read_text())
    manifest["params"]["track_steps"] = 20
    (ddpm / "manifest.json").write_text(json.dumps(manifest))
    (root / "real-baseline.json").write_text(json.dumps({"result": {**fid, "fid": 2.5}}))
    rows = [{k: v.replace("\u00a0", " ") for k, v in r.items()} for r in compare.summary_rows(tmp_path)]
    gan, ddpm_row, real = rows[-3:]
    assert gan["model"] == "DCGAN (ours, matched compute)" and gan["FID"] == "44 ± 4 (N = 1,000, 3 seeds)"
    assert gan["data"] == "Fashion-MNIST, 60,000 training images"
    assert "mean over 3 seeds" in gan["source and protocol"] and "images/gan/lr0.0002-seed0" in gan["source and protocol"]
    assert ddpm_row["model"].endswith("DDIM 20 steps, η = 0)") and ddpm_row["FID"] == "30 (N = 1,000)"
    assert real["FID"] == "2.50 (N = 1,000)" and real["data"] == "Fashion-MNIST, test split"
    assert "[real-baseline.json]" in real["source and protocol"]


def test_the_sampling_sweeps_tables_name_samplers_for_people_and_the_montage_pairs_fewest_and_most_steps(tmp_path):
    from repro.records import load_record
    from repro.report import sample_ddim

    rec = load_record(_sweep(tmp_path, "sampler,steps,nfe,seconds_per_image,fd_classifier,classes_hit,class_kl\n"
                                       "gan,1,1,0.00021,2.85,10,0.018\nddim-eta0,5,5,0.0289,21.87,9,0.48\n"))
    assert sample_ddim.quality_rows(rec)[1] == {"sampler": "DDIM η = 0", "K": 5, "FD (classifier)": 21.87,
                                                "classes hit": 9, "class KL": 0.48}
    assert sample_ddim.time_rows(rec)[0] == {"sampler": "DCGAN", "K": 1, "ms per image": pytest.approx(0.21)}
    paths, titles = sample_ddim.montage(rec, ["ancestral", "ddim-eta1"], [10, 5, 100])
    assert [p.name for p in paths] == ["ancestral-0005.png", "ancestral-0100.png", "ddim-eta1-0005.png",
                                       "ddim-eta1-0100.png"]
    assert titles == ["ancestral, K = 5", "ancestral, K = 100", "DDIM η = 1, K = 5", "DDIM η = 1, K = 100"]


@pytest.mark.parametrize("first", ["repro.report.images_results", "repro.report.images", "repro.report.claims"])
def test_the_images_modules_import_in_any_order(first):
    """``images`` offers the page's functions of ``images_results``, which reads ``images``' records: a fresh
    interpreter must import either first (a module-level re-export made that circular)."""
    import subprocess
    import sys

    code = f"import {first}; from repro.report.images import curves, summary_rows; print(curves.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "repro.report.images_results"
