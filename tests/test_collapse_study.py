"""The collapse study: the seed's setting and its control differ only in lr_D, and the tables say what
the collapse rule found, run by run and per setting."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from repro.records import load_record
from repro.report import collapse_study
from repro.report.params import ParameterError
from repro.train import gan


def test_settings_differ_only_in_the_discriminators_rate():
    cfg = collapse_study.setup({"profile": "cpu"})
    seed, control = (collapse_study.config(cfg, r, 0) for r in cfg["ratios"])
    base = gan.PRESETS["seed-report"]
    assert (seed.lr_G, seed.lr_D) == (base.lr_G, 4 * base.lr_G) == (1e-4, 4e-4)  # the seed report's rates
    assert (control.lr_G, control.lr_D) == (1e-4, 1e-4)
    assert seed.betas_G == seed.betas_D == (0.5, 0.999) and seed.batch_size == 128
    assert (seed.ngf, seed.ndf, seed.image_size, seed.epochs) == (32, 32, 32, 60)
    differing = {k for k in vars(seed) if getattr(seed, k) != getattr(control, k)}
    assert differing == {"lr_D"}


@pytest.mark.parametrize("ratios", [[], [0.0], [4.0, -1.0], ["4"]])
def test_bad_ratios_are_refused_with_the_fix(ratios):
    with pytest.raises(ParameterError, match="ratios.*non-empty list of numbers > 0"):
        collapse_study.setup({"profile": "smoke", "ratios": ratios})


def _record(root: Path, ratio: float, seed: int, fd: list[float]) -> Path:
    path = root / f"ratio{ratio:g}-seed{seed}"
    (path / "grids").mkdir(parents=True)
    best = min(range(len(fd)), key=fd.__getitem__)
    (path / "manifest.json").write_text(json.dumps({
        "kind": "gan", "status": "finished", "params": {"lr_G": 1e-4, "lr_D": ratio * 1e-4, "seed": seed,
                                                        "best_metric": "fd_classifier", "best_mode": "min"},
        "summary": {"best_epoch": best}}))
    with open(path / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "step", "loss_D", "loss_G", "D_x", "D_G_z", "fd_classifier", "classes_hit"])
        w.writerows([e, 10 * (e + 1), 1.0, 1.0, 0.7, 0.3, v, 10] for e, v in enumerate(fd))
    return path


RISE = [30.0, 20.0, 10.0, 9.0, 30.0, 40.0, 45.0, 50.0]   # best at epoch 3, then > 25 % worse from epoch 4
STEADY = [30.0, 20.0, 10.0, 9.0, 8.5, 8.4, 8.3, 8.2]


def test_tables_count_collapses_per_setting_and_date_them(tmp_path):
    study = {(4.0, 0): load_record(_record(tmp_path, 4.0, 0, RISE)),
             (4.0, 1): load_record(_record(tmp_path, 4.0, 1, STEADY)),
             (1.0, 0): load_record(_record(tmp_path, 1.0, 0, STEADY))}
    rows = collapse_study.run_rows(study)
    assert [(r["setting"], r["collapse rule"], r["at epoch"]) for r in rows] == [
        ("lr_D = 4 lr_G", "collapse", 4), ("lr_D = 4 lr_G", "no collapse", None), ("lr_D = lr_G", "no collapse", None)]
    assert rows[0]["best FD"] == 9.0 and rows[0]["best epoch"] == 3 and rows[0]["last FD"] == 50.0
    summary = {r["setting"]: r for r in collapse_study.summary_rows(study)}
    assert summary["lr_D = 4 lr_G"]["collapsed"] == "1 of 2 (epochs 4)"
    assert summary["lr_D = lr_G"]["collapsed"] == "0 of 1"
    assert summary["lr_D = 4 lr_G"]["best FD"] == "8.6 ± 0.4"  # best 9.0 and 8.2
    *_, real = collapse_study.summary_rows(study, {"fd_classifier": 0.4321, "classes_hit": 10})
    assert real["setting"] == "real training images (the floor)" and real["best FD"] == real["last FD"] == "0.432"
    assert collapse_study.grid_epochs(study[4.0, 0]) == [0, 3, 4, 7]
    bands = collapse_study.curves(study, "fd_classifier")
    assert set(bands) == {"lr_D = 4 lr_G", "lr_D = lr_G"} and bands["lr_D = 4 lr_G"][0][1] == RISE


def test_runs_go_to_the_workers_seed_by_seed_and_finished_ones_are_kept(monkeypatch, tmp_path):
    cfg = {**collapse_study.setup({"profile": "smoke"}), "seeds": 2, "ratios": [4.0, 1.0], "out_dir": str(tmp_path),
           "workers": 2}
    _record(tmp_path, 1.0, 1, [3.0, 2.0])  # finished with the smoke profile's 2 epochs
    given = []
    monkeypatch.setattr(collapse_study, "in_workers", lambda fn, calls, workers, device: given.extend(
        (ratio, seed) for _, ratio, seed, _, _ in calls))
    monkeypatch.setattr(collapse_study, "load_record", lambda out: out.name)
    study = collapse_study.run(cfg)
    assert given == [(4.0, 0), (1.0, 0), (4.0, 1)]
    assert list(study) == [(4.0, 0), (4.0, 1), (1.0, 0), (1.0, 1)]  # the tables keep setting by setting


def test_the_run_table_for_readers_dates_the_collapse_and_the_best_fd(tmp_path):
    study = {(4.0, 0): load_record(_record(tmp_path, 4.0, 0, RISE)), (1.0, 0): load_record(_record(tmp_path, 1.0, 0, STEADY))}
    collapsed, steady = collapse_study.run_table(study)
    assert collapsed["collapse rule"] == "collapse at epoch 4" and collapsed["best FD (epoch)"] == "9 (3)"
    assert steady["collapse rule"] == "no collapse" and steady["D(x) / D(G(z)) (last)"] == "0.70 / 0.30"
    assert collapsed[collapse_study.TREND] == "too short"  # 8 epochs: too short to judge
    assert len(collapsed) == 9  # narrow enough for the page


def test_the_fd_trend_compares_window_means_not_the_noisy_best():
    noisy_flat = [30.0, 20.0, 10.0] + [1.0, 1.2] * 10 + [0.9]   # a new best by chance in the last epoch
    verdict, delta, se = collapse_study.fd_trend(noisy_flat, k=10)
    assert verdict == "flat" and abs(delta) <= 2 * se
    falling = [10.0 - 0.1 * e for e in range(20)]
    assert collapse_study.fd_trend(falling, k=10)[0] == "improving"
    assert collapse_study.fd_trend(falling[::-1], k=10)[0] == "worsening"
    assert collapse_study.fd_trend(falling[:19], k=10)[0] == "too short"


def test_the_summary_counts_the_seeds_still_improving_at_the_end(tmp_path):
    falling = [30.0, 20.0, 10.0] + [9.0 - 0.1 * e for e in range(20)]  # last 10 below the 10 before
    flat = [30.0, 20.0, 10.0] + [8.0, 8.2] * 10                        # window means equal
    study = {(4.0, 0): load_record(_record(tmp_path, 4.0, 0, falling)), (4.0, 1): load_record(_record(tmp_path, 4.0, 1, flat))}
    (summary,) = collapse_study.summary_rows(study)
    assert summary["still improving"] == "1 of 2"
    assert [r[collapse_study.TREND] for r in collapse_study.run_table(study)] == [
        "improving: -1.00 ± 0.14", "flat: +0.00 ± 0.05"]


def _timed(path: Path, start: str, end: str, gpu: str | None = None) -> Path:
    m = json.loads((path / "manifest.json").read_text())
    m.update(start_time=start, end_time=end, wall_time_s=600.0,
             data={"label": "CIFAR-10 (JPEG q75)", "n": 50000},
             hardware={"gpu": gpu} if gpu else {"cpu_model": "AMD EPYC"})
    m["params"].update(image_size=32, ngf=64)
    (path / "manifest.json").write_text(json.dumps(m))
    return path


def test_the_runs_note_says_when_runs_shared_their_machine(tmp_path):
    """Four runs trained at once on one GPU: the note says so, since each wall time is then a shared time;
    runs one after another are not called shared."""
    day = "2026-12-04T15:{:02d}:00+00:00"
    together = {(r, s): load_record(_timed(_record(tmp_path / "gpu", r, s, STEADY), day.format(0), day.format(10),
                                           "NVIDIA H200"))
                for r in (4.0, 1.0) for s in (0, 1)}
    note = collapse_study.runs_note(together)
    assert "trained on NVIDIA H200, for a mean of 10.0 min per run, up to 4 at a time on one machine" in note
    assert note.startswith("The runs on this page: CIFAR-10 (JPEG q75), 50,000 training images at 32 × 32")
    assert "2 seeds per setting" in note and "8 epochs" in note
    after = {(4.0, s): load_record(_timed(_record(tmp_path / "cpu", 4.0, s, STEADY), day.format(10 * s),
                                          day.format(10 * s + 10)))
             for s in (0, 1)}  # the second starts when the first ends
    note = collapse_study.runs_note(after)
    assert "for a mean of 10.0 min per run. Where they differ" in note and "at a time" not in note


def test_runs_at_the_same_time_on_different_machines_did_not_share_one(tmp_path):
    day = "2026-12-04T15:{:02d}:00+00:00"
    apart = {(4.0, s): load_record(_timed(_record(tmp_path, 4.0, s, STEADY), day.format(0), day.format(10), gpu))
             for s, gpu in ((0, "NVIDIA H200"), (1, None))}
    note = collapse_study.runs_note(apart)
    assert "trained on AMD EPYC and NVIDIA H200" in note and "at a time" not in note
