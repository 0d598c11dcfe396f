"""Notebook parameters: profiles, overrides and the errors a wrong papermill parameter gets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro.report import compare, images, sample_ddim, toy_modes, train_ddpm, train_gan
from repro.report.params import PROFILES, ParameterError, load_profiles, resolve
from repro.report.runs import output_dir, pick_device
from repro.report.summary import summary_markdown


@pytest.mark.parametrize("module", [train_gan, train_ddpm, toy_modes, sample_ddim, images, compare])
def test_every_profile_of_every_notebook_is_valid(module, tmp_path):
    for name in ("train_ddpm", "train_gan"):  # what sample_ddim and compare read outside the smoke profile
        (tmp_path / name / "checkpoints").mkdir(parents=True)
    profiles = load_profiles()[module.NOTEBOOK]
    assert set(profiles) == set(PROFILES)
    for profile in PROFILES:
        params = {"profile": profile}
        if "runs_dir" in module.RULES and profiles[profile]["runs_dir"] is not None:
            params["runs_dir"] = str(tmp_path)
        cfg = resolve(module.NOTEBOOK, params, module.RULES, getattr(module, "CONSTRAINTS", ()),
                      complete=getattr(module, "from_preset", None))
        assert all(v is not None for k, v in cfg.items() if k in getattr(module, "FROM_PRESET", ()))
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
    # the images study's seed-0 runs come first; a study without a trained DCGAN names it
    (tmp_path / "images" / "ddpm" / "lr0.0005-seed0" / "checkpoints").mkdir(parents=True)
    (tmp_path / "images" / "gan" / "lr0.0002-seed0").mkdir(parents=True)
    for model in ("ddpm/lr0.0005-seed0", "gan/lr0.0002-seed0"):  # both stopped by the study
        (tmp_path / "images" / model / "stop.json").write_text("{}")
    with pytest.raises(ParameterError, match=r"lacks trained runs \['images/gan/lr0.0002-seed0'\]"):
        sample_ddim.setup({"profile": "cpu", "runs_dir": str(tmp_path)})
    assert sample_ddim.model_runs(tmp_path)["ddpm"] == tmp_path / "images" / "ddpm" / "lr0.0005-seed0"
    with pytest.raises(ParameterError, match="no such folder"):
        compare.setup({"profile": "smoke", "runs_dir": str(tmp_path / "none")})


def test_output_dir_refuses_to_overwrite_and_resume_needs_a_checkpoint(tmp_path):
    cfg = {"profile": "cpu", "out_dir": str(tmp_path / "run"), "resume": False}
    assert output_dir("train_gan", cfg) == tmp_path / "run"
    (tmp_path / "run").mkdir()
    with pytest.raises(ParameterError, match="checkpoints/last.pt does not exist"):
        output_dir("train_gan", {**cfg, "resume": True})
    # a run that stopped before its first checkpoint: neither a fresh start nor a resume is offered
    (tmp_path / "run" / "manifest.json").write_text('{"status": "failed", "error": "KeyboardInterrupt: "}')
    for resume in (False, True):
        with pytest.raises(ParameterError, match=r"stopped before its first checkpoint \(status 'failed', error "
                                                 r"'KeyboardInterrupt: '\): there is nothing to resume. Delete"):
            output_dir("train_gan", {**cfg, "resume": resume})
    (tmp_path / "run" / "checkpoints").mkdir()
    (tmp_path / "run" / "checkpoints" / "last.pt").write_bytes(b"")
    with pytest.raises(ParameterError, match="already holds a run; pass -p resume True"):
        output_dir("train_gan", cfg)
    assert output_dir("train_gan", {**cfg, "resume": True}) == tmp_path / "run"


def test_a_finished_run_without_its_checkpoints_is_reused_not_retrained(tmp_path):
    """A published record (manifest, rows and evaluation, no checkpoints): ``make cpu-runs`` re-executes the
    notebook over it, which shows it as it is, samples nothing and writes nothing."""
    from repro.report import train_gan
    from repro.report.evaluation import evaluate_run

    run = tmp_path / "run"
    run.mkdir()
    cfg = train_gan.setup({"profile": "smoke", "out_dir": str(run), "resume": True, "epochs": 2})
    (run / "manifest.json").write_text('{"kind": "gan", "status": "finished", "params": {"epochs": 2}}')
    (run / "metrics.csv").write_text("epoch,step\n0,4\n1,8\n")
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    assert output_dir("train_gan", cfg) == run
    assert len(train_gan.run(cfg).rows) == 2
    with pytest.raises(ParameterError, match="already holds a run; pass -p resume True"):
        output_dir("train_gan", {**cfg, "resume": False})

    def no_sampling(n):
        raise AssertionError("the stored evaluation should have been reused")

    stored = {"fid": 12.5}
    (run / "evaluation.json").write_text(
        '{"params": {"epoch": 1, "reference": "fashion-mnist", "n": 10}, "result": {"fid": 12.5}}')
    assert evaluate_run(no_sampling, "fashion-mnist", run, {"epoch": 1}, n=10, progress=False) == stored
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p in before} == before
    with pytest.raises(AssertionError, match="should have been reused"):  # other parameters: evaluated anew
        evaluate_run(no_sampling, "fashion-mnist", run, {"epoch": 0}, n=10, progress=False)


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
                                                   "hardware": {"torch_threads": 2},
                                                   "git": {"commit": "a" * 40, "dirty": False},
                                                   "resumed_on": [{"git": {"commit": "a" * 40}},
                                                                  {"git": {"commit": "b" * 40, "dirty": True}}]}))
    (run / "metrics.csv").write_text("epoch,loss\n0,1\n1,0.5\n")
    (tmp_path / "timings.json").write_text(json.dumps({"notebooks": {"train_gan": {
        "profile": "cpu", "start_time": "2026-01-01T00:00:00+00:00", "wall_time_s": 120.0}}, "git": {}}))
    md = summary_markdown(tmp_path)
    assert "| `train_gan` | cpu | 2026-01-01 00:00 | 2.0 min | < 0.1 min |" in md
    # the commit it started from, then each other commit a resume ran at
    assert ("| `train_gan` | gan | Fashion-MNIST, 2,000 | CPU (2 threads) | 2 | 61 s | finished | aaaaaaa, then "
            "bbbbbbb (dirty) |") in md
    assert "| `train_gan` | 1 | 1.0 min |" in md  # the per-notebook count in view, every run folded
    assert md.index("| `train_gan` | 1 | 1.0 min |") < md.index(":::{dropdown} All 1 run folders") < md.index("| `train_gan` | gan |")


# -- issue 13, item 2-3: nothing papermill passes is ignored; paper scale never starts on a CPU silently --

def _notebook_globals(injected: str, **declared):
    """A notebook's globals after papermill: the parameters cell's names and the input history In."""
    params = {name: None for name in train_gan.RULES} | {"profile": None} | declared
    return {**params, "In": ["", "profile = None\nepochs = None\n", injected], "experiment": train_gan}


def test_a_mistyped_injected_parameter_stops_the_notebook_with_a_suggestion():
    ns = _notebook_globals('# Parameters\nprofile = "smoke"\nepoch = 5\n', profile="smoke")
    with pytest.raises(ParameterError, match="unknown parameter 'epoch'; did you mean 'epochs'\\?"):
        train_gan.setup(ns)
    ns = _notebook_globals('# Parameters\nprofile = "smoke"\nepochs = 3\n', profile="smoke", epochs=3)
    assert train_gan.setup(ns)["epochs"] == 3


def test_a_mistyped_name_in_a_plain_dict_gets_the_same_suggestion():
    with pytest.raises(ParameterError, match="unknown parameter 'nsamples'; did you mean 'n_samples'\\?"):
        sample_ddim.setup({"profile": "smoke", "nsamples": 8})


def test_papermill_run_with_a_typo_fails_instead_of_using_the_profile(tmp_path):
    papermill = pytest.importorskip("papermill")
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("profile = None\nruns_dir = None\n", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from repro.report import compare\ncfg = compare.setup(globals())")]
    nbformat.write(nb, tmp_path / "in.ipynb")
    with pytest.raises(papermill.PapermillExecutionError, match="unknown parameter 'run_dir'; did you mean 'runs_dir'"):
        papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke", "run_dir": str(tmp_path)}, progress_bar=False)


def test_a_bad_profile_from_the_environment_says_where_it_came_from(monkeypatch):
    monkeypatch.setenv("REPRO_PROFILE", "fast")
    with pytest.raises(ParameterError, match=r"'profile' = 'fast' \(from \$REPRO_PROFILE\) is not allowed"):
        train_gan.setup({})
    monkeypatch.setenv("REPRO_PROFILE", "smoke")
    with pytest.raises(ParameterError, match=r"profile 'smoke' \(from \$REPRO_PROFILE\)"):
        train_gan.setup({"epochs": 0})


def test_gpu_profile_on_a_cpu_is_refused_with_the_estimated_time(monkeypatch):
    import torch

    monkeypatch.delenv("REPRO_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match=r"'gpu' profile \(the default\) is the paper-scale experiment, but it "
                                             r"would run on the CPU.*about \d+ h of training steps.*"
                                             r"100 epochs x 50,000 images.*-p device cpu"):
        train_gan.setup({"dataset": "cifar10-jpeg"})
    with pytest.raises(ParameterError, match=r"days of training steps.*U-Net 'ho-cifar10'"):
        train_ddpm.setup({"device": "auto"})
    cfg = train_gan.setup({"dataset": "cifar10-jpeg", "device": "cpu"})  # asked for explicitly
    assert cfg["profile"] == "gpu" and cfg["device"] == "cpu"
    monkeypatch.setenv("REPRO_PROFILE", "cpu")
    assert train_gan.setup({})["profile"] == "cpu"


def _ddpm_run(runs, T):
    for name in ("train_ddpm", "train_gan"):
        (runs / name / "checkpoints").mkdir(parents=True)
    (runs / "train_ddpm" / "manifest.json").write_text(json.dumps({"params": {"num_timesteps": T}}))


def test_more_sampling_steps_than_the_process_has_are_refused(tmp_path):
    _ddpm_run(tmp_path, 1000)
    with pytest.raises(ParameterError, match=r"'steps' has \[1500\], more than the DDPM's T = 1000"):
        sample_ddim.setup({"profile": "cpu", "runs_dir": str(tmp_path), "steps": [10, 1500]})
    assert sample_ddim.setup({"profile": "cpu", "runs_dir": str(tmp_path), "steps": [10, 1000]})["steps"] == [10, 1000]


def test_a_finished_sweep_gets_advice_that_works(tmp_path):
    cfg = {"profile": "cpu", "out_dir": str(tmp_path / "sweep"), "resume": False}
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "manifest.json").write_text('{"status": "finished"}')
    with pytest.raises(ParameterError, match="already holds a run; pass -p resume True"):
        output_dir("sample_ddim", cfg, checkpoint="metrics.csv")
    assert output_dir("sample_ddim", {**cfg, "resume": True}, checkpoint="metrics.csv") == tmp_path / "sweep"


def test_an_out_dir_that_is_a_file_is_a_parameter_error(tmp_path):
    (tmp_path / "f").write_text("keep me")
    with pytest.raises(ParameterError, match="is a file, not a folder"):
        output_dir("train_gan", {"profile": "cpu", "out_dir": str(tmp_path / "f"), "resume": False})
    assert (tmp_path / "f").read_text() == "keep me"


def test_each_profile_lists_only_what_it_changes():
    import yaml

    from repro.report.params import _profiles_path

    raw = yaml.safe_load(_profiles_path().read_text())
    for notebook, entries in raw.items():
        defaults = entries["defaults"]
        for profile in PROFILES:
            same = [k for k, v in (entries[profile] or {}).items() if k in defaults and defaults[k] == v]
            assert not same, f"{notebook}.{profile} repeats its defaults for {same}"


def test_a_profile_setting_an_undeclared_parameter_is_named(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text("train_gan:\n  defaults: {epochs: 1}\n  gpu: {epoch: 2}\n")
    with pytest.raises(ParameterError, match=r"train_gan.gpu sets \['epoch'\].*defaults does not declare"):
        load_profiles(path)


def test_the_ddpm_profiles_are_trainer_presets_with_named_changes():
    from repro.train.diffusion import PRESETS

    cfg = train_ddpm.setup({"profile": "gpu", "device": "cpu"})
    config, ho = train_ddpm.train_config(cfg), PRESETS["ho-cifar10"]
    assert (config.model, config.num_timesteps, config.batch_size, config.warmup_steps, config.ema_decay) == (
        ho.model, ho.num_timesteps, ho.batch_size, ho.warmup_steps, ho.ema_decay)
    assert (config.schedule, config.loss_type, config.variance, config.lr) == ("cosine", "hybrid", "learned_range", 1e-4)
    assert cfg["model"] == "ho-cifar10"  # filled in before the banner, so the banner shows what runs
    assert train_ddpm.train_config({**cfg, "lr": 3e-4, "loss_type": "simple"}).variance == "fixed_large"
    smoke = train_ddpm.train_config(train_ddpm.setup({"profile": "smoke"}))
    assert smoke == PRESETS["fashion-mnist-32-cpu"].__class__(**{
        **PRESETS["fashion-mnist-32-cpu"].__dict__, "batch_size": 32, "warmup_steps": 10, "ema_decay": 0.9,
        "epochs": 2, "track_steps": 3, "grid_every": 1, "track_every": 1, "channels_last": True})


def test_the_gan_profiles_take_the_batch_size_of_their_preset():
    from repro.train.gan import PRESETS

    cfg = train_gan.setup({"profile": "cpu"})
    assert cfg["batch_size"] == PRESETS["fashion-mnist-32-cpu"].batch_size


def test_learning_rates_must_be_positive():
    with pytest.raises(ParameterError, match="'lr' = 0.0 must be > 0"):
        train_ddpm.setup({"profile": "smoke", "lr": 0.0})
    with pytest.raises(ParameterError, match="'lr_D' = 0.0 must be > 0"):
        train_gan.setup({"profile": "smoke", "lr_D": 0.0})
    assert train_gan.setup({"profile": "smoke"})["lr_D"] == 2e-4  # the preset's


def test_report_run_set_goes_to_the_notebooks_that_take_the_parameter():
    from repro.report.__main__ import _check_settings, _settings, _taken

    settings = _settings(["train=false", "workers=2"])
    assert settings == {"train": False, "workers": 2}
    assert _taken("toy_modes", settings) == settings and _taken("compare", settings) == {}
    _check_settings(["toy_modes", "compare"], settings)
    with pytest.raises(SystemExit, match="--set train: no notebook of compare takes it"):
        _check_settings(["compare"], {"train": False})


def test_report_run_resumes_a_notebook_whose_run_folder_holds_a_run(tmp_path, monkeypatch):
    """``make cpu-runs`` over existing records: a training notebook is told to resume (a killed run continues,
    a finished one is shown as it is); with no run there it starts afresh."""
    import papermill

    from repro.report import __main__ as report

    seen = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda nb, out, parameters, **kw: seen.append(parameters))
    monkeypatch.setattr(report, "prepare_file", lambda *a, **kw: None)
    monkeypatch.setattr(report, "write_summaries", lambda out: None)
    report.run(["train_gan"], "cpu", tmp_path, None)
    (tmp_path / "runs" / "train_gan").mkdir(parents=True)
    (tmp_path / "runs" / "train_gan" / "manifest.json").write_text("{}")
    report.run(["train_gan", "compare"], "cpu", tmp_path, None)
    assert "resume" not in seen[0] and seen[1]["resume"] is True
    assert "resume" not in seen[2]  # compare takes no resume parameter


@pytest.mark.parametrize("name", sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")))
def test_papermill_reads_every_parameter_and_its_comment(name, caplog):
    """papermill (``-p``, ``--help-notebook``) parses each parameter line; a quote or an ``=`` in the
    comment makes it skip the line with a warning and show the parameter without its help."""
    import logging

    papermill = pytest.importorskip("papermill")
    with caplog.at_level(logging.WARNING, logger="papermill"):
        found = papermill.inspect_notebook(str(Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb"))
    assert not [r.getMessage() for r in caplog.records if "Unable to parse" in r.getMessage()]
    assert "profile" in found


def test_stored_smoke_outputs_are_made_with_torchs_own_thread_count(monkeypatch, capsys):
    """Some smoke outputs differ in their last digits between one thread and two; the tests run with
    torch's default, so `store` drops a thread-count variable before it starts a kernel."""
    import os

    from repro.report.__main__ import store

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("REPRO_PROFILE", "smoke")
    store([], timeout=10)
    assert "OMP_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS ignored" in capsys.readouterr().out


@pytest.mark.parametrize("profile", PROFILES)
def test_guidance_guides_the_images_study_on_the_images_it_was_trained_on(profile):
    """``guidance`` reads the ``images`` study's seed-0 DDPM from ``runs_dir`` and trains a conditional
    twin on the same images; a profile pair that disagrees fails after the study has run."""
    profiles = load_profiles()
    images, guidance = profiles["images"][profile], profiles["guidance"][profile]
    for name in ("dataset", "image_size", "subset"):
        assert guidance[name] == images[name], (profile, name)


def test_a_smoke_studys_temporary_folder_is_removed_when_its_process_exits(tmp_path):
    import os
    import subprocess
    import sys

    code = ("from repro.report.runs import study_root\n"
            "root = study_root('toy_modes', {'profile': 'smoke'})\n"
            "(root / 'run').mkdir(); (root / 'run' / 'metrics.csv').write_text('epoch\\n0\\n')\n"
            "print(root)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "TMPDIR": str(tmp_path)})
    root = Path(done.stdout.strip())
    assert root.parent == tmp_path and root.name.startswith("toy_modes-smoke-")
    assert not root.exists(), "validating a notebook must not leave its smoke runs behind"
    # a folder the user names is theirs: it is kept
    from repro.report.runs import study_root
    assert study_root("toy_modes", {"profile": "smoke", "out_dir": str(tmp_path / "mine")}) == tmp_path / "mine"


def _threads_and_pid(out: str) -> None:
    import os

    import torch

    Path(out).write_text(f"{torch.get_num_threads()} {os.getpid()}")


def test_a_lone_run_goes_to_a_one_thread_worker_too(tmp_path):
    """A run resumed last, alone, trains with the one thread its first epochs had (a CPU's sums depend on
    the thread count), in a process of its own."""
    import os

    import torch

    from repro.report.runs import in_workers

    out = tmp_path / "probe"
    in_workers(_threads_and_pid, [(str(out),)], 2, torch.device("cpu"))
    threads, pid = map(int, out.read_text().split())
    assert threads == 1 and pid != os.getpid()


def test_workers_on_a_gpu_are_processes_that_share_it(tmp_path):
    """Several small runs share one GPU, each in a process of its own, as on a CPU (the device only
    names where the runs train: the probe touches no GPU)."""
    import os

    import torch

    from repro.report.runs import in_workers

    outs = [tmp_path / f"probe{i}" for i in range(2)]
    in_workers(_threads_and_pid, [(str(o),) for o in outs], 2, torch.device("cuda"))
    pids = {int(o.read_text().split()[1]) for o in outs}
    assert os.getpid() not in pids


def test_report_run_as_a_page_writes_a_second_study_of_a_notebook_beside_the_first(tmp_path, monkeypatch):
    """``--as collapse-cifar10``: the collapse notebook runs into its own page and runs folder, the
    executed copy names the notebook it came from, and a page may not take another notebook's name."""
    import papermill

    from repro.report import __main__ as report

    seen, prepared = [], []
    monkeypatch.setattr(papermill, "execute_notebook",
                        lambda nb, out, parameters, **kw: seen.append((Path(out).name, parameters)))
    monkeypatch.setattr(report, "prepare_file", lambda path, **kw: prepared.append((Path(path).name, kw["source"])))
    monkeypatch.setattr(report, "write_summaries", lambda out: None)
    report.main(["run", "collapse", "--profile", "gpu", "--out", str(tmp_path), "--as", "collapse-cifar10",
                 "--set", "dataset=cifar10-jpeg"])
    (page, parameters), = seen
    assert page == "collapse-cifar10.ipynb" and parameters["dataset"] == "cifar10-jpeg"
    assert Path(parameters["out_dir"]).parts[-2:] == ("runs", "collapse-cifar10")
    assert prepared == [("collapse-cifar10.ipynb", "notebooks/collapse.ipynb")]
    timings = json.loads((tmp_path / "timings.json").read_text())["notebooks"]
    assert timings["collapse-cifar10"]["notebook"] == "collapse" and "collapse" not in timings
    for argv, message in ((["collapse", "--as", "images"], "not another notebook"),
                          (["collapse", "--as", "../x"], "letters, digits"),
                          (["collapse", "images", "--as", "two"], "one notebook")):
        with pytest.raises(SystemExit, match=message):
            report.main(["run", *argv, "--out", str(tmp_path)])
