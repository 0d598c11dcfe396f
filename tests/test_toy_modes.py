"""The 2D study's selection rule and its table beside PacGAN's (repro.report.toy_modes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro.records import Record
from repro.report import toy_modes


def _record(modes: list[float], hq: list[float], any_modes: int = 8, kl: float = 0.5) -> Record:
    rows = [{"epoch": i, "modes_hit": m, "modes_hit_any": any_modes, "high_quality_fraction": q,
             "kl_to_uniform": kl} for i, (m, q) in enumerate(zip(modes, hq))]
    return Record(path=Path("."), manifest={"wall_time_s": 1.0}, rows=rows)


def test_select_lr_keeps_the_most_modes_over_the_last_evaluations():
    runs = {1e-4: _record([8] * 2 + [3] * 10, [0.9] * 12),   # more modes early, fewer at the end
            3e-4: _record([2] * 2 + [6] * 10, [0.5] * 12)}
    assert toy_modes.select_lr(runs) == 3e-4


def test_select_lr_breaks_near_ties_by_high_quality_fraction():
    runs = {1e-4: _record([6.0] * 10, [0.9] * 10), 3e-4: _record([6.4] * 10, [0.6] * 10),
            3e-5: _record([5.0] * 10, [0.99] * 10)}
    assert toy_modes.select_lr(runs) == 1e-4  # within half a mode of 6.4; 3e-5 is a full mode behind
    with pytest.raises(ValueError):
        toy_modes.select_lr({})


def test_study_rows_give_mean_and_standard_error_over_seeds_beside_pacgan():
    cfg = {"mixtures": ["ring8_r1"], "gan_epochs": 2, "ddpm_epochs": 2, "seeds": 2, "eval_samples": 2500}
    study = toy_modes.Study(selection={("ring8_r1", "gan", 3e-4): _record([8], [1.0])},  # not in the table
                            chosen={("ring8_r1", "gan"): 1e-4},
                            runs={("ring8_r1", "gan", s): _record([m, m], [0.5, q], any_modes=m, kl=float("nan"))
                                  for s, (m, q) in enumerate([(4, 0.9), (6, 0.7)])})
    rows = toy_modes.study_rows(study, cfg)
    ours, paper, oracle = rows
    assert ours["seeds"] == 2 and ours["modes (>= 20 of 2,500)"] == "5.0 ± 1.0" and ours["high quality %"] == "80 ± 10"
    assert ours["reverse KL"] == "—"  # no finite value: no NaN in the table
    assert paper["source"].startswith("PacGAN") and paper["modes (>= 1)"] == "6.3 ± 0.5"
    assert toy_modes.study_rows(study, {**cfg, "seeds": 5})[0]["seeds"] == "2 of 5"  # a study still running


def test_train_false_reports_finished_runs_and_names_a_missing_selection_run(tmp_path):
    from repro.report.params import ParameterError

    cfg = {**toy_modes.setup({"profile": "smoke"}), "out_dir": str(tmp_path), "train": False}
    with pytest.raises(ParameterError, match="selection run .* has not finished; run the notebook with train=True"):
        toy_modes.run(cfg)
    trained = toy_modes.run({**cfg, "train": True})
    seed_run = next(iter(trained.runs.values())).path
    import shutil
    shutil.rmtree(seed_run)  # one seed missing: reported without it
    reported = toy_modes.run(cfg)
    assert len(reported.runs) == len(trained.runs) - 1 and reported.chosen == trained.chosen
    assert not seed_run.exists()  # nothing was trained


def test_runs_trained_by_worker_processes_match_runs_trained_in_process(tmp_path):
    import torch

    from repro.records import load_record

    base = {**toy_modes.setup({"profile": "smoke"}), "mixtures": ["ring8_r1"], "gan_lrs": [3e-4], "ddpm_lrs": [2e-3]}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each worker uses
    try:
        alone = toy_modes.run({**base, "out_dir": str(tmp_path / "one"), "workers": 1})
    finally:
        torch.set_num_threads(threads)
    pooled = toy_modes.run({**base, "out_dir": str(tmp_path / "two"), "workers": 2})
    assert set(pooled.runs) == set(alone.runs) and pooled.chosen == alone.chosen
    for key, rec in alone.runs.items():
        other = load_record(pooled.runs[key].path)
        assert [r["modes_hit"] for r in other.rows] == [r["modes_hit"] for r in rec.rows]
        assert [r["loss_G" if key[1] == "gan" else "loss"] for r in other.rows] == \
               [r["loss_G" if key[1] == "gan" else "loss"] for r in rec.rows]
        assert other.manifest["hardware"]["torch_threads"] == 1


def test_the_true_mixture_scores_every_mode_and_the_closed_form_high_quality_share():
    """A 2D isotropic Gaussian has 1 - exp(-9/2) = 98.89% of its mass within 3 std of its centre."""
    import math

    row = toy_modes.oracle_row("grid25", 2500, draws=5)
    assert row["modes (>= 1)"] == "25 ± 0" and row["modes (>= 20 of 2,500)"] == "25 ± 0"
    mean, se = (float(v) for v in row["high quality %"].split(" ± "))
    expected = 100 * (1 - math.exp(-4.5))
    assert abs(mean - expected) < 3 * max(se, 100 * math.sqrt(expected / 100 * (1 - expected / 100) / 12500))
    assert row["seeds"] == "5 draws" and row["source"] == "the true mixture, 2,500 points"


def test_selection_rows_count_modes_by_both_rules():
    study = toy_modes.Study(selection={("ring8_r1", "gan", 1e-4): _record([5, 6], [0.9, 0.9], any_modes=7)},
                            chosen={("ring8_r1", "gan"): 1e-4})
    (row,) = toy_modes.selection_rows(study, {"mixtures": ["ring8_r1"], "gan_lrs": [1e-4, 3e-4]})
    assert row["modes hit (>= 20), mean of last 10"] == 5.5  # ours
    assert row["modes hit (>= 1), mean of last 10"] == 7     # the papers' rule, which PacGAN's table counts
    assert row["chosen"] == "yes" and row["in the grid"] == "yes"


def test_the_gan_at_pacgans_own_setting_has_its_own_row_beside_pacgans():
    cfg = {"mixtures": ["ring8_r1"], "seeds": 2, "eval_samples": 2500}
    own = _record([7] * 400, [0.97] * 400, any_modes=7, kl=0.3)
    study = toy_modes.Study(runs={("ring8_r1", "gan", 0): _record([8], [0.9])}, pacgan={"ring8_r1": own})
    rows = toy_modes.study_rows(study, cfg)
    assert [r["source"] for r in rows][:3] == ["ours, GAN", "ours, GAN at PacGAN's lr 1e-4, 400 epochs",
                                               "PacGAN Table 1, GAN"]
    assert rows[1]["seeds"] == "1 (seed 0)" and rows[1]["modes (>= 1)"] == "7" and rows[1]["high quality %"] == "97"
    assert toy_modes.PACGAN_LR == 1e-4


def test_pacgans_numbers_are_shown_as_printed_in_its_table_1():
    cfg = {"mixtures": ["ring8_r1", "grid25"], "seeds": 2, "eval_samples": 2500}
    rows = [r for r in toy_modes.study_rows(toy_modes.Study(), cfg) if r["source"] == "PacGAN Table 1, GAN"]
    assert [(r["modes (>= 1)"], r["high quality %"], r["reverse KL"]) for r in rows] == [
        ("6.3 ± 0.5", "98.2 ± 0.2", "0.45 ± 0.09"), ("17.3 ± 0.8", "94.8 ± 0.7", "0.70 ± 0.07")]


def test_the_seeds_caption_names_each_mixture_and_models_seeds():
    rec = _record([8], [0.9])
    runs = {**{("ring8_r1", "gan", s): rec for s in range(4)}, **{("ring8_r1", "ddpm", s): rec for s in range(5)},
            **{("grid25", "gan", s): rec for s in range(2)}}
    study = toy_modes.Study(runs=runs)
    assert toy_modes.seeds_caption(study, ["ring8_r1", "grid25"]) == \
        "ring8_r1: GAN seeds 0-3, DDPM seeds 0-4; grid25: GAN seeds 0, 1"
    assert toy_modes.seeds_caption(toy_modes.Study(), ["ring8_r1"]) is None


def test_the_collapse_column_names_the_criterion_that_dated_a_collapse():
    hopping = ["0 1", "4 5", "2 3", "6 7", "0 1", "4 5"]
    rows = [{"epoch": i, "modes_hit": 2, "modes_hit_any": 2, "high_quality_fraction": 0.99, "mode_set": m}
            for i, m in enumerate(hopping)]
    rec = Record(path=Path("."), manifest={"wall_time_s": 1.0}, rows=rows)
    assert toy_modes._verdict(rec, "ring8_r1") == "collapse at epoch 1 (mode hopping)"


def test_the_trend_column_names_what_still_moved_in_the_last_epochs():
    k = 5
    flat = _record([8] * 2 * k, [0.9, 0.92] * k).rows
    assert toy_modes.trend_cell(flat, k) == "flat"
    rising = _record([8] * 2 * k, [0.80, 0.82] * (k // 2) + [0.80] + [0.90, 0.92] * (k // 2) + [0.90]).rows
    cell = toy_modes.trend_cell(rising, k)
    assert cell.startswith("improving: high-quality fraction +0.10") and "modes" not in cell
    losing = _record([8] * k + [5, 6] * (k // 2) + [5], [0.9] * 2 * k).rows
    assert toy_modes.trend_cell(losing, k).startswith("worsening: modes -2.")
    assert toy_modes.trend_cell(flat[:-1], k) == f"too short (< {2 * k} epochs)"


def test_the_compute_table_counts_each_models_flops_and_training_minutes(monkeypatch):
    import dataclasses
    import json

    from repro.train import diffusion, gan

    def run(kind, cfg, epoch_s, epochs=4, steps_per_epoch=10):
        rows = [{"epoch": e, "step": (e + 1) * steps_per_epoch, "epoch_time_s": epoch_s} for e in range(epochs)]
        params = json.loads(json.dumps(dataclasses.asdict(cfg)))
        return Record(path=Path("."), manifest={"kind": kind, "params": params, "data_shape": [2]}, rows=rows)

    g, d = toy_modes.gan_config(4, 0, 1e-4), toy_modes.ddpm_config(4, 0, 1e-3)
    per = {gan.KIND: 8e9, diffusion.KIND: 1e9}
    monkeypatch.setattr(toy_modes, "record_flops_per_example", lambda rec: per[rec.manifest["kind"]])
    study = toy_modes.Study(
        runs={("ring8_r1", "gan", 0): run(gan.KIND, g, 30.0), ("ring8_r1", "gan", 1): run(gan.KIND, g, 60.0),
              ("ring8_r1", "ddpm", 0): run(diffusion.KIND, d, 15.0)},
        selection={("ring8_r1", "gan", 1e-4): run(gan.KIND, g, 30.0, epochs=1),
                   ("ring8_r1", "gan", 3e-4): run(gan.KIND, g, 30.0, epochs=1)})
    rows = toy_modes.compute_rows(study)
    assert [(r["model"], r["seeds"], r["epochs"], r["steps × batch"]) for r in rows] == [("GAN", 2, 4, "40 × 100"),
                                                                                         ("DDPM", 1, 4, "40 × 512")]
    gan_row, ddpm_row = rows
    # 40 steps x batch 100 x 8 GFLOP = 0.032 PFLOP; minutes 2 and 4: mean 3, sd 1.4
    assert gan_row["MFLOP per example"] == "8,000" and gan_row["PFLOP per run"] == "0.0320 ± 0"
    assert gan_row["time per run"] == "3.0 ± 1.4 min"
    assert gan_row["selection runs"] == "2: 0.0160 PFLOP, 1 min"
    # 40 steps x batch 512 x 1 GFLOP
    assert ddpm_row["PFLOP per run"] == "0.0205" and ddpm_row["selection runs"] == "0"
