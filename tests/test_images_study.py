"""The matched-compute image study: its selection rule, its stopping rule and runs that continue."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from repro.report import images
from repro.report.params import ParameterError
from repro.report.runs import continue_run


def _run(*fds, status="finished", error=None, lead=9):
    """A run of ``lead`` early evaluations (FD 99) then ``fds``: long enough that the rule averages its last three."""
    return SimpleNamespace(rows=[{"fd_classifier": v} for v in [99.0] * lead + list(fds)],
                           manifest={"status": status, "error": error})


def test_a_short_selection_run_is_judged_on_its_last_quarter_only():
    """A two-epoch run (the DDPM's selection) is judged on its last epoch, not on the mean with its first."""
    assert [images.tail_k(n) for n in (1, 2, 4, 8, 12, 40)] == [1, 1, 1, 2, 3, 3]
    runs = {1.5e-3: _run(9.6, 6.2, lead=0), 4.5e-3: _run(10.2, 6.0, lead=0)}
    assert images.select_lr(runs) == 4.5e-3  # 6.0 < 6.2; the means of both epochs (8.1 > 7.9) would pick 1.5e-3


def test_the_rate_with_the_lowest_recent_fd_is_chosen_ties_to_the_lower_rate():
    runs = {1e-4: _run(9, 5, 5, 5), 3e-4: _run(3, 6, 6, 6), 1e-3: _run(9, 4, 4, float("nan"))}
    assert images.select_lr(runs) == 1e-3          # last 3: 4, 4 and a NaN, which is skipped
    runs[1e-3] = _run(9, 9, 9, 9)
    assert images.select_lr(runs) == 1e-4          # 5 < 6 < 9; the early 3 of 3e-4 does not count
    assert images.select_lr({2e-4: _run(5, 5, 5), 1e-4: _run(5, 5, 5)}) == 1e-4


def test_a_rate_whose_run_diverged_ranks_last_whatever_it_scored_before():
    nan = "NonFiniteLossError: non-finite loss at step 1200: {'loss_D': nan}"
    runs = {1e-4: _run(9, 8, 8), 3e-4: _run(2, 2, 2, status="failed", error=nan)}
    assert images.select_lr(runs) == 1e-4
    # any other failure is not a verdict on the rate: its scores count as they are
    runs[3e-4] = _run(2, 2, 2, status="failed", error="KeyboardInterrupt: ")
    assert images.select_lr(runs) == 3e-4


def _diverged_run(path: Path, lr: float, fds: list[float]) -> Path:
    """A GAN selection run that failed as the training loop fails a run on a non-finite loss."""
    from repro.records import RunRecord
    from repro.train.checkpoint import NonFiniteLossError

    record = RunRecord(path, "gan", {"lr_G": lr, "lr_D": lr, "batch_size": 64})
    for e, v in enumerate(fds):
        record.log({"epoch": e, "step": 100 * (e + 1), "fd_classifier": v})
    record.fail(NonFiniteLossError("non-finite loss at step 7: {'loss_G': inf}"))
    return path


def test_a_selection_run_that_diverges_leaves_its_record_and_the_others_go_on(monkeypatch, tmp_path):
    from repro.train.checkpoint import NonFiniteLossError

    def diverge(model, train_cfg, data, out, tracker, device):
        _diverged_run(out, train_cfg.lr_G, [5.0])
        raise NonFiniteLossError("non-finite loss at step 7")

    monkeypatch.setattr(images, "_inputs", lambda cfg, device: (None, None))
    monkeypatch.setattr(images, "_train", diverge)
    cfg = images.setup({"profile": "smoke"})
    images._select_job("gan", cfg, 3e-4, 1, str(tmp_path / "lr0.0003"), "cpu")  # no error escapes
    assert images._failed_on_nan(str(tmp_path / "lr0.0003"))
    # a record that could not say it diverged (still "running"): the error is not swallowed
    monkeypatch.setattr(images, "_train", lambda *a: (_ for _ in ()).throw(NonFiniteLossError("at step 3")))
    with pytest.raises(NonFiniteLossError):
        images._select_job("gan", cfg, 1e-3, 1, str(tmp_path / "lr0.001"), "cpu")


def test_a_run_that_diverged_in_its_first_epoch_is_read_back_and_ranked_last(tmp_path, images_run):
    _diverged_run(tmp_path / "gan" / "select" / "lr0.0006", 6e-4, [])  # no epoch finished
    images_run(tmp_path / "gan" / "select" / "lr0.0002", "gan", 2e-4, [9.0, 8.0])
    images_run(tmp_path / "gan" / "lr0.0002-seed0", "gan", 2e-4, [9.0, 7.0],
               {"flops_per_example": 1e8, "training_flops": 1e13, "reason": "budget spent"})
    study = images.load_study(tmp_path)
    assert set(study.selection) == {("gan", 2e-4), ("gan", 6e-4)}
    assert images.select_lr({lr: rec for (_, lr), rec in study.selection.items()}) == 2e-4
    cfg = {**images.setup({"profile": "smoke"}), "gan_lrs": [2e-4, 6e-4]}
    rows = {r["lr"]: r for r in images.selection_rows(study, cfg)}
    assert rows[6e-4]["FD at the end"] == "diverged" and rows[6e-4]["epochs"] == 0


def test_a_grid_whose_every_rate_diverged_is_refused_with_the_fix(monkeypatch, tmp_path):
    cfg = {**images.setup({"profile": "smoke"}), "gan_lrs": [1e-3], "ddpm_lrs": [5e-4], "out_dir": str(tmp_path)}
    _diverged_run(tmp_path / "gan" / "select" / "lr0.001", 1e-3, [3.0])
    real = images.load_record
    monkeypatch.setattr(images, "load_record", lambda out: real(out) if (out / "manifest.json").exists() else
                        SimpleNamespace(path=out, rows=[{"fd_classifier": 5.0}], manifest={"status": "finished"}))
    monkeypatch.setattr(images, "in_workers", lambda fn, calls, workers, device: None)
    with pytest.raises(ParameterError, match="every learning rate of the GAN's grid diverged.*give gan_lrs lower rates"):
        images.run(cfg)


def test_a_diverged_selection_run_is_not_trained_again_and_ranks_last(monkeypatch, tmp_path, images_run):
    cfg = {**images.setup({"profile": "smoke"}), "gan_lrs": [1e-4, 3e-4], "ddpm_lrs": [5e-4], "extend": 2,
           "out_dir": str(tmp_path), "workers": 2}
    _diverged_run(tmp_path / "gan" / "select" / "lr0.0003", 3e-4, [1.0])
    real = images.load_record
    fd = {"lr0.0001": 5.0, "lr3.3e-05": 6.0}  # past the lower edge is worse: 1e-4 is bracketed
    monkeypatch.setattr(images, "load_record", lambda out: real(out) if (out / "manifest.json").exists() else
                        SimpleNamespace(path=out, rows=[{"fd_classifier": fd.get(out.name, 5.0), "step": 10}],
                                        manifest={"status": "finished"}, params={"batch_size": 64}))
    pools = []

    def pool(fn, calls, workers, device):
        pools.append([c[4] if fn is images._select_job else c[1][4] for c in calls])
        for c in calls:
            if fn is images._call:
                Path(c[1][4]).mkdir(parents=True, exist_ok=True)
                Path(c[1][4], "stop.json").write_text("{}")

    monkeypatch.setattr(images, "in_workers", pool)
    study = images.run(cfg)
    assert pools[0] == [str(tmp_path / "gan" / "select" / "lr0.0001"), str(tmp_path / "ddpm" / "select" / "lr0.0005")]
    # 3e-4 scored 1.0 against 1e-4's 5.0 before it diverged: it ranks last, so 1e-4 wins at the lower edge
    assert study.chosen["gan"] == 1e-4 and pools[1] == [str(tmp_path / "gan" / "select" / "lr3.3e-05")]
    rows = {r["lr"]: r for r in images.selection_rows(study, cfg) if r["model"] == "GAN"}
    assert rows[3e-4]["FD at the end"] == "diverged"


def test_bad_study_parameters_are_named():
    with pytest.raises(ParameterError, match="'chunk_fraction' = 0.0 must be in"):
        images.setup({"profile": "smoke", "chunk_fraction": 0.0})
    with pytest.raises(ParameterError, match="'budget_pflop' = 0.0 must be > 0"):
        images.setup({"profile": "smoke", "budget_pflop": 0.0})


def test_continue_run_keeps_finished_runs_and_names_one_that_stopped_before_a_checkpoint(tmp_path):
    calls = []

    def train(config, data, out, resume, **kw):
        calls.append(resume)
        return "trained"

    cfg = SimpleNamespace(epochs=2)
    assert continue_run(train, cfg, None, tmp_path / "new") == "trained" and calls == [False]
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"status": "failed", "error": "KeyboardInterrupt: "}))
    with pytest.raises(ParameterError, match=r"stopped before its first checkpoint \(status 'failed'"):
        continue_run(train, cfg, None, run)
    (run / "checkpoints" / "last.pt").write_bytes(b"")
    assert continue_run(train, cfg, None, run) == "trained" and calls == [False, True]


def test_the_real_baseline_is_scored_once_with_its_interval(tmp_path):
    """Real test images against the training split at the models' N and size, with Inception (tiny N)."""
    import warnings

    from repro.metrics import SampleSizeWarning

    cfg = {**images.setup({"profile": "smoke"}), "fid_samples": 6, "bootstrap": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleSizeWarning)  # N = 6: the point is the plumbing
        first = images.real_baseline(cfg, tmp_path, "cpu")
    saved = json.loads((tmp_path / "real-baseline.json").read_text())
    assert saved["params"]["real_split"] == "test" and first["n"] == 6 and first["image_size"] == 32
    lo, hi = first["fid_interval"]
    assert lo <= first["fid"] <= hi
    assert images.real_baseline(cfg, tmp_path, "cpu") == first  # read back, not measured again
    (row,) = images.baseline_rows(images.Study(baseline=first))
    assert row["N"] == 6 and row["FID"].startswith(f"{first['fid']:.3g} [")
    assert row["FD (classifier)"].startswith(f"{first['fd_classifier']:.3g} [")
    near_zero = {**first, "fd_classifier": 0.1, "fd_classifier_interval": [-0.02, 0.22]}  # a normal interval below 0
    assert images.baseline_rows(images.Study(baseline=near_zero))[0]["FD (classifier)"] == "0.100 [0, 0.220]"
    assert row["KID x 1000"].endswith("(subsets of 3)")  # half of N: the subsets differ


def test_inception_fid_comes_after_chunks_one_two_four_eight():
    assert [c for c in range(1, 17) if images.fid_due(c)] == [1, 2, 4, 8, 16]


def test_bf16_rows_set_the_fp32_twin_beside_the_bf16_seeds_at_its_epoch(tmp_path):
    def rec(values):
        return SimpleNamespace(rows=[{"epoch": e, "fd_classifier": v} for e, v in enumerate(values)], manifest={"status": "finished"})

    study = images.Study(fp32={"ddpm": rec([30.0, 20.0])},
                         runs={("ddpm", 0): rec([31.0, 21.0, 15.0]), ("ddpm", 1): rec([29.0, 19.0, 14.0])})
    (row,) = images.bf16_rows(study)
    assert row["epoch"] == 1 and row["FD fp32 (seed 0)"] == "20" and row["FD bf16 (seeds)"] == "20.0 ± 1.4"
    assert row["fp32 within the bf16 seeds' spread"] == "yes"
    study.fp32["ddpm"] = rec([30.0, 26.0])
    assert images.bf16_rows(study)[0]["fp32 within the bf16 seeds' spread"] == "no"


def test_every_selection_run_comes_first_then_every_seed_and_twin_in_workers(monkeypatch, tmp_path):
    """The study's schedule: one pool for the selection runs of both models, one for each round of rates
    past an edge that won, one for the seeds (seed by seed across the models) and the float32 twins; what
    is finished is not given to the workers again."""
    cfg = {**images.setup({"profile": "smoke"}), "gan_seeds": 2, "ddpm_seeds": 1, "gan_lrs": [1e-4, 2e-4],
           "ddpm_lrs": [5e-4], "out_dir": str(tmp_path), "workers": 2}
    fd = {"lr0.0001": 5.0, "lr0.0002": 3.0, "lr0.0006": 4.0}  # 2e-4 wins at the edge; 6e-4, past it, loses
    monkeypatch.setattr(images, "load_record", lambda out: SimpleNamespace(
        path=out, rows=[{"fd_classifier": fd.get(out.name, 1.0)}], manifest={"status": "finished"}))
    pools = []

    def pool(fn, calls, workers, device):
        pools.append([(c[0].__name__, c[1][0], c[1][4]) if fn is images._call else (fn.__name__, c[0], c[4])
                      for c in calls])
        for c in calls:
            if fn is images._call and c[0] is images._seed_job:
                Path(c[1][4]).mkdir(parents=True)
                Path(c[1][4], "stop.json").write_text("{}")
        assert workers == 2

    monkeypatch.setattr(images, "in_workers", pool)
    study = images.run(cfg)
    select, past_edge, seeds = pools
    root = str(tmp_path)
    assert select == [("_select_job", "gan", f"{root}/gan/select/lr0.0001"), ("_select_job", "gan", f"{root}/gan/select/lr0.0002"),
                      ("_select_job", "ddpm", f"{root}/ddpm/select/lr0.0005")]
    assert past_edge == [("_select_job", "gan", f"{root}/gan/select/lr0.0006")]  # the DDPM's grid has one rate
    assert study.chosen == {"gan": 2e-4, "ddpm": 5e-4}
    assert seeds == [("_seed_job", "gan", f"{root}/gan/lr0.0002-seed0"), ("_seed_job", "ddpm", f"{root}/ddpm/lr0.0005-seed0"),
                     ("_seed_job", "gan", f"{root}/gan/lr0.0002-seed1"),
                     ("_twin_job", "gan", f"{root}/gan/lr0.0002-seed0-fp32"),
                     ("_twin_job", "ddpm", f"{root}/ddpm/lr0.0005-seed0-fp32")]
    assert sorted(study.runs) == [("ddpm", 0), ("gan", 0), ("gan", 1)] and set(study.fp32) == {"gan", "ddpm"}
    pools.clear()
    images.run(cfg)  # the seeds have their stop.json now: only the (fake, unfinished) other runs are left
    assert [name for name, _, _ in pools[2]] == ["_twin_job", "_twin_job"]


def test_the_float32_twin_must_fit_in_the_first_chunk():
    with pytest.raises(ParameterError, match=r"'bf16_check' = 0.5 must be in \[0, chunk_fraction = 0.25\]"):
        images.setup({"profile": "smoke", "chunk_fraction": 0.25, "bf16_check": 0.5})


def test_the_selection_rules_average_skips_missing_and_non_finite_values():
    from repro.report.selection import tail_mean

    rows = [{"m": 1.0}, {"m": 9.0}, {"m": float("nan")}, {}, {"m": 3.0}]
    assert tail_mean(rows, "m", 4) == 6.0 and tail_mean(rows, "m", 1) == 3.0
    assert tail_mean(rows[2:4], "m", 2) != tail_mean(rows[2:4], "m", 2)  # NaN: nothing to average
    assert images.select_lr({1e-4: _run(float("inf")), 2e-4: _run(7.0)}) == 2e-4


def test_the_study_is_read_back_from_its_records_alone(tmp_path, images_run):
    assert images.load_study(tmp_path) is None
    stop = {"flops_per_example": 1e8, "training_flops": 1e13, "reason": "budget spent"}
    images_run(tmp_path / "gan" / "select" / "lr0.0002", "gan", 2e-4, [9.0, 8.0])
    images_run(tmp_path / "gan" / "select" / "lr0.0006", "gan", 6e-4, [9.0], status="running")  # not finished
    images_run(tmp_path / "gan" / "lr0.0002-seed0", "gan", 2e-4, [9.0, 7.0], stop, fid={"fid": 50.0, "n": 1000})
    images_run(tmp_path / "gan" / "lr0.0002-seed1", "gan", 2e-4, [9.0, 6.0], stop, fid={"fid": 40.0, "n": 1000})
    images_run(tmp_path / "gan" / "lr0.0002-seed2", "gan", 2e-4, [9.0])  # still training: no stop.json
    images_run(tmp_path / "gan" / "lr0.0002-seed0-fp32", "gan", 2e-4, [9.0])
    images_run(tmp_path / "ddpm" / "lr0.0005-seed0", "diffusion", 5e-4, [30.0, 20.0, 10.0],
                {**stop, "flops_per_example": 1.5e9})
    study = images.load_study(tmp_path)
    assert list(study.selection) == [("gan", 2e-4)] and study.chosen == {"gan": 2e-4, "ddpm": 5e-4}
    assert sorted(study.runs) == [("ddpm", 0), ("gan", 0), ("gan", 1)] and set(study.fp32) == {"gan"}
    assert study.flops == {"gan": 1e8, "ddpm": 1.5e9} and study.baseline is None
    assert [r["fid"] for r in images.final_results(study, "gan")] == [50.0, 40.0]
    assert images.final_results(study, "ddpm") == []
    (row_gan, row_ddpm) = images.summary_rows(study)
    assert row_gan["FID"] == "45 ± 7 (N = 1000)" and row_ddpm["FID"] == "—"


def test_seed_series_put_each_epoch_at_the_seeds_mean_time():
    rows = [{"model": "gan", "seed": s, "epoch": e, "train_hours": h, "fd_classifier": v}
            for s, hours, fds in ((0, (1.0, 2.0), (9.0, 8.0)), (1, (1.2, 2.4), (7.0, 6.0))) for e, (h, v) in
            enumerate(zip(hours, fds))] + [{"model": "ddpm", "seed": 0, "epoch": 0, "train_hours": 5.0, "fd_classifier": 1.0}]
    series = images.seed_series(rows, "gan", "train_hours")
    assert series == {0: ([1.1, 2.2], [9.0, 8.0]), 1: ([1.1, 2.2], [7.0, 6.0])}


def test_a_killed_seed_continues_at_the_next_chunk_boundary_and_its_fid_points_stay_on_chunks(monkeypatch, tmp_path):
    """Chunks of 2 epochs, budget 8: a run killed with 3 epochs done continues to 4 (not 2, which its
    checkpoint has passed), takes the FID due after chunk 2 there, and goes on to 8."""
    cfg = {**images.setup({"profile": "smoke"}), "chunk_fraction": 0.25, "bf16_check": 0.25}
    monkeypatch.setattr(images, "epochs_for_budget", lambda budget, flops, n: int(round(8 * budget / 1e15 / cfg["budget_pflop"])))
    out = tmp_path / "run"
    state = {"rows": 3}
    trained, fids = [], []

    def fake_record(path):
        return SimpleNamespace(path=path, rows=[{"fd_classifier": 10.0 - e, "step": e + 1} for e in range(state["rows"])],
                               params={"batch_size": 64})

    def train(model, config, data, path, tracker, device):
        trained.append(config.epochs)
        state["rows"] = config.epochs
        return fake_record(path)

    monkeypatch.setattr(images, "load_record", fake_record)
    monkeypatch.setattr(images, "_train", train)
    monkeypatch.setattr(images, "_fid", lambda model, record, cfg, device: fids.append(len(record.rows)))
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    record, note = images._until_flat("gan", cfg, 2e-4, 0, list(range(10)), out, 1.0, None, "cpu")
    assert trained == [4, 6, 8] and note["reason"] == "budget spent"
    assert fids == [4, 8]  # after chunk 2 (4 epochs) and at the stop; chunk 3 (6) is not a FID point


def test_a_seed_stops_when_its_window_mean_fd_flattens_with_windows_of_at_least_three_epochs(monkeypatch, tmp_path):
    """Chunks of 2 epochs, budget 16: the FD falls to 5 by epoch 3 and stays; with windows of 2 the run
    would stop at 8 epochs, with windows of max(chunk, MIN_WINDOW) = 3 it stops at 10 (epochs 7-9 against
    4-6), checked at chunk boundaries only."""
    cfg = {**images.setup({"profile": "smoke"}), "chunk_fraction": 0.125, "bf16_check": 0.125, "min_improvement": 0.02}
    monkeypatch.setattr(images, "epochs_for_budget", lambda budget, flops, n: int(round(16 * budget / 1e15 / cfg["budget_pflop"])))
    fd = [10.0, 8.0, 6.0] + [5.0] * 13
    trained = []

    def train(model, config, data, path, tracker, device):
        trained.append(config.epochs)
        return SimpleNamespace(path=path, rows=[{"fd_classifier": fd[e], "step": e + 1} for e in range(config.epochs)],
                               params={"batch_size": 64})

    monkeypatch.setattr(images, "_train", train)
    monkeypatch.setattr(images, "_fid", lambda *a: None)
    record, note = images._until_flat("gan", cfg, 2e-4, 0, list(range(10)), tmp_path, 1.0, None, "cpu")
    assert images.MIN_WINDOW == 3 and trained == [2, 4, 6, 8, 10]
    assert note["reason"].startswith("flattened: the mean FD of the last 3 epochs improved on the mean of the 3 before")
    assert (note["window"], note["last_window_gain"], note["min_improvement"]) == (3, 0.0, 0.02)
    assert images.stop_words(note) == "flattened"


def test_a_seed_the_budget_stopped_while_it_improved_says_by_how_much():
    note = {"reason": "budget spent", "window": 3, "last_window_gain": 0.083, "min_improvement": 0.02}
    assert images.stop_words(note) == "budget spent, still improving: the last 3 epochs' mean FD 8% below the 3 before"
    assert images.stop_words({**note, "last_window_gain": 0.019}) == "budget spent"  # below the rule's share: flat
    assert images.stop_words({"reason": "budget spent"}) == "budget spent"  # a note from before the gain was kept


def test_flatness_windows_are_the_same_share_of_each_models_budget():
    # the cpu profile's budgets: 160 DCGAN and 11 DDPM epochs; chunks of 1/8 would give the DDPM one
    # evaluation a window, so both get 3/11 of their budget: 44 and 3 epochs
    assert images.flat_windows({"gan": 160, "ddpm": 11}, 0.125) == {"gan": 44, "ddpm": 3}
    assert images.flat_windows({"gan": 160, "ddpm": 80}, 0.125) == {"gan": 20, "ddpm": 10}  # chunks suffice


def test_a_seed_that_diverges_stops_with_its_record_and_no_fid(monkeypatch, tmp_path):
    """Chunks of 2 epochs: the second chunk ends on a non-finite loss; the seed stops there, noted as
    diverged with the step, its compute counted to its last finished epoch, and no model is evaluated."""
    from repro.records import RunRecord
    from repro.train.checkpoint import NonFiniteLossError

    cfg = {**images.setup({"profile": "smoke"}), "chunk_fraction": 0.25, "bf16_check": 0.25}
    monkeypatch.setattr(images, "epochs_for_budget", lambda budget, flops, n: int(round(8 * budget / 1e15 / cfg["budget_pflop"])))
    out, fids, state = tmp_path / "gan" / "lr0.0002-seed1", [], {}

    def train(model, config, data, path, tracker, device):
        if "record" not in state:
            state["record"] = RunRecord(path, "gan", {"lr_G": 2e-4, "lr_D": 2e-4, "batch_size": 64})
        record = state["record"]
        for e in range(len(images.load_record(path).rows), config.epochs):
            if e == 3:
                record.fail(NonFiniteLossError("non-finite loss at step 350: {'loss_D': nan}; the last good checkpoint "
                                               "is last.pt. To continue from it ..."))
                raise NonFiniteLossError("non-finite loss at step 350")
            record.log({"epoch": e, "step": 100 * (e + 1), "fd_classifier": 9.0 - e, "n_eval": 1000})
        return images.load_record(path)

    monkeypatch.setattr(images, "_train", train)
    monkeypatch.setattr(images, "_fid", lambda model, record, cfg, device: fids.append(len(record.rows)))
    record, note = images._until_flat("gan", cfg, 2e-4, 1, list(range(10)), out, 1.0, None, "cpu")
    assert note["reason"] == "diverged: non-finite loss at step 350" and len(record.rows) == note["epochs"] == 3
    assert note["training_flops"] == 300 * 64 * 1.0 and fids == [2]  # chunk 1's FID only, none at the stop
    assert json.loads((out / "stop.json").read_text()) == note
    # a non-finite loss the record could not note is not taken as a verdict on the seed
    monkeypatch.setattr(images, "_train", lambda *a: (_ for _ in ()).throw(NonFiniteLossError("at step 3")))
    with pytest.raises(NonFiniteLossError):
        images._until_flat("gan", cfg, 2e-4, 2, list(range(10)), tmp_path / "other", 1.0, None, "cpu")


def test_results_are_read_from_the_seeds_that_did_not_diverge_and_count_the_others(tmp_path, images_run):
    from repro.report.crossing import mean_curve

    stop = {"flops_per_example": 1e8, "training_flops": 1e13, "budget_flops": 1e15, "reason": "budget spent"}
    images_run(tmp_path / "gan" / "lr0.0002-seed0", "gan", 2e-4, [9.0, 7.0, 5.0], stop, fid={"fid": 50.0, "n": 1000})
    images_run(tmp_path / "gan" / "lr0.0002-seed2", "gan", 2e-4, [9.0, 7.0, 3.0], stop, fid={"fid": 30.0, "n": 1000})
    lost = images_run(tmp_path / "gan" / "lr0.0002-seed1", "gan", 2e-4, [8.0], {**stop, "reason": "diverged: at step 150"},
                      fid={"fid": 90.0, "n": 1000}, status="failed")  # an earlier chunk's FID
    manifest = json.loads((lost / "manifest.json").read_text())
    (lost / "manifest.json").write_text(json.dumps({**manifest, "error": "NonFiniteLossError: non-finite loss at step 150"}))
    study = images.load_study(tmp_path)
    assert [rec.path.name for rec in study.kept("gan")] == ["lr0.0002-seed0", "lr0.0002-seed2"]
    assert [r["fid"] for r in images.final_results(study, "gan")] == [50.0, 30.0]
    (row,) = images.summary_rows(study)
    assert row["seeds"] == 2 and row["epochs"] == "3, 3" and row["stopped"] == "budget spent; 1 diverged, left out"
    assert row["FD (classifier)"] == "4.0 ± 1.4" and row["FID"] == "40 ± 14 (N = 1000)"
    runs = {r["seed"]: r for r in images.runs_rows(study)}
    assert runs[1]["stopped"] == "diverged" and runs[1]["FID"] == "—" and runs[0]["FID"].startswith("50")
    rows = images.curves(study)
    assert [r["diverged"] for r in rows if r["seed"] == 1] == [True]
    assert mean_curve(rows, "gan")[1] == [9.0, 7.0, 4.0]  # three epochs: the diverged seed does not cut it short
    assert set(images.seed_series(rows, "gan", "pflop")) == {0, 2}


def test_machines_name_every_cpu_a_seed_trained_or_resumed_on():
    def rec(hw, *resumed):
        return SimpleNamespace(manifest={"hardware": hw, "resumed_on": [{"hardware": h} for h in resumed]})

    study = images.Study(runs={("gan", 0): rec({"cpu_model": "AMD EPYC"}),
                               ("ddpm", 0): rec({"cpu_model": "AMD EPYC"}, {"cpu_model": "Intel Xeon"}),
                               ("ddpm", 1): rec({"processor": "x86_64"}),  # a record from before cpu_model
                               ("ddpm", 2): rec({"cpu_model": "AMD EPYC", "cpu_isa": "AVX2"}),
                               ("ddpm", 3): rec({"gpu": "NVIDIA H200", "cpu_model": "AMD EPYC", "cpu_isa": "AVX2"})})
    assert images.machines(study) == ["AMD EPYC", "AMD EPYC (AVX2)", "Intel Xeon", "NVIDIA H200", "x86_64"]


def test_training_time_is_cpu_time_for_one_thread_runs_on_a_cpu_else_wall_time():
    def rec(cpu, device="cpu", threads=1):
        rows = [{"epoch": e, "step": 10 * (e + 1), "epoch_time_s": 7200.0, "epoch_cpu_s": c, "fd_classifier": 1.0}
                for e, c in enumerate(cpu)]
        return SimpleNamespace(rows=rows, params={"batch_size": 64},
                               manifest={"hardware": {"device": device, "torch_threads": threads}})

    study = images.Study(flops={"gan": 1e8, "ddpm": 1e9})
    study.runs = {("gan", 0): rec([3600.0, 3600.0]), ("ddpm", 0): rec([1800.0])}
    assert images.time_axis(study) == ("cpu_hours", "training CPU hours (one thread)")
    rows = images.curves(study)
    assert [(r["train_hours"], r["cpu_hours"]) for r in rows] == [(2.0, 1.0), (4.0, 2.0), (2.0, 0.5)]
    study.runs["ddpm", 0] = rec([None])  # an epoch without its CPU time: wall time for every run
    assert images.time_axis(study) == ("train_hours", "training wall hours")
    assert images.curves(study)[-1]["cpu_hours"] is None
    study.runs["ddpm", 0] = rec([1800.0], threads=2)  # two threads' CPU time is not one run's time
    assert images.time_axis(study)[0] == "train_hours"
    study.runs["ddpm", 0] = rec([1800.0], device="cuda")
    assert images.time_axis(study)[0] == "train_hours"
    study.runs["ddpm", 0] = rec([1800.0])
    study.runs["ddpm", 0].manifest["resumed_on"] = [{"hardware": {"torch_threads": 2}}]  # resumed on two threads
    assert images.time_axis(study)[0] == "train_hours"


def test_a_flattened_seed_is_held_at_its_last_value_out_to_its_budget(tmp_path, images_run):
    """Seed 1 flattened after 3 of 5 epochs: the mean curve runs to the budget on its held value (not cut
    at its stop), held rows carry PFLOP but no time, and the time-axis series leave them out."""
    from repro.report.crossing import mean_curve

    base = {"flops_per_example": 1e8, "budget_flops": 1e15, "max_epochs": 5}
    images_run(tmp_path / "gan" / "lr0.0002-seed0", "gan", 2e-4, [9.0, 7.0, 5.0, 4.0, 3.0],
               {**base, "training_flops": 1e13, "reason": "budget spent"})
    images_run(tmp_path / "gan" / "lr0.0002-seed1", "gan", 2e-4, [9.0, 7.0, 5.0],
               {**base, "training_flops": 6e12, "reason": "flattened: the mean FD ..."})
    rows = images.curves(images.load_study(tmp_path))
    held = [r for r in rows if r["held"]]
    assert [(r["seed"], r["epoch"], r["fd_classifier"], r["train_hours"]) for r in held] == [(1, 3, 5.0, None), (1, 4, 5.0, None)]
    assert held[-1]["pflop"] == pytest.approx(500 * 64 * 1e8 / 1e15)  # 5 epochs of 100 steps of batch 64
    xs, means, _ = mean_curve(rows, "gan")
    assert len(xs) == 5 and means[-2:] == [4.5, 4.0]
    assert set(images.seed_series(rows, "gan", "pflop")) == {0, 1}
    assert len(images.seed_series([{**r, "train_hours": None} if r["held"] else {**r, "train_hours": 1.0}
                                   for r in rows], "gan", "train_hours")[1][0]) == 3


def test_a_folder_with_seeds_of_two_rates_is_refused(tmp_path, images_run):
    stop = {"flops_per_example": 1e8, "training_flops": 1e13, "reason": "budget spent"}
    images_run(tmp_path / "gan" / "lr0.0002-seed0", "gan", 2e-4, [9.0], stop)
    images_run(tmp_path / "gan" / "lr0.0006-seed0", "gan", 6e-4, [9.0], stop)  # left from an earlier grid
    with pytest.raises(ValueError, match="seeds of two learning rates .*move the stale seed folders out"):
        images.load_study(tmp_path)
