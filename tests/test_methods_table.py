"""The methods chapter's settings table is generated from the run manifests and agrees with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro.report.methods import settings_markdown, settings_rows
from repro.report.tables import rate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"


def test_the_committed_table_is_what_the_manifests_give():
    assert (RESULTS / "methods.md").read_text() == settings_markdown(RESULTS), (
        "book/results/methods.md is stale: run `python -m repro.report summary --out book/results`")


def test_every_training_run_is_in_one_row_with_its_learning_rate_and_seed():
    rows = settings_rows(RESULTS)
    for manifest in RESULTS.glob("runs/**/manifest.json"):
        m = json.loads(manifest.read_text())
        if m["kind"] not in ("gan", "diffusion") or m["status"] != "finished":
            continue
        p = m["params"]
        lr = f"lr_G {rate(p['lr_G'])}, lr_D {rate(p['lr_D'])}" if m["kind"] == "gan" else f"lr {rate(p['lr'])}"
        parts = manifest.parent.relative_to(RESULTS / "runs").parts
        study = "/".join(parts[:-1]) or parts[0]  # a notebook's single run is its folder
        data = f"{m['data']['label']}, {m['data']['n']:,}"
        matches = [r for r in rows if r["study"] == study and r["data"] == data and lr in r["settings"]
                   and str(p["seed"]) in r["seeds"].split(", ") and f"batch_size {p['batch_size']}" in r["settings"]]
        assert len(matches) == 1, (manifest, matches)


def test_differences_from_the_paper_preset_are_named(tmp_path):
    run = tmp_path / "runs" / "study" / "gan-seed0"
    run.mkdir(parents=True)
    params = {"arch": "dcgan", "batch_size": 64, "lr_G": 2e-4, "lr_D": 2e-4, "betas_G": [0.5, 0.999], "nz": 100,
              "ngf": 32, "ndf": 64, "update": "alternating", "seed": 0, "epochs": 2}
    (run / "manifest.json").write_text(json.dumps({"kind": "gan", "params": params, "data": {"label": "x", "n": 10},
                                                   "status": "finished"}))
    (run / "metrics.csv").write_text("epoch\n0\n1\n")
    # a run still in progress is behind no number: it has no row
    unfinished = tmp_path / "runs" / "study" / "gan-seed1"
    unfinished.mkdir()
    (unfinished / "manifest.json").write_text(json.dumps({"kind": "gan", "params": {**params, "seed": 1},
                                                          "data": {"label": "x", "n": 10}, "status": "running"}))
    (row,) = settings_rows(tmp_path)
    assert row["differs from the paper preset"] == "dcgan-paper: batch_size 128 → 64; ngf 64 → 32"
    assert row["epochs"] == "2" and row["seeds"] == "0"


@pytest.mark.parametrize("params, expected", [
    # the collapse study's control: the seed's preset with lr_D = lr_G, read against the seed's preset
    ({"arch": "dcgan", "batch_size": 128, "lr_G": 1e-4, "lr_D": 1e-4, "betas_G": [0.5, 0.999], "nz": 100,
      "ngf": 64, "ndf": 64, "update": "alternating"}, "seed-report: lr_D 4e-4 → 1e-4"),
    # ... and on CIFAR-10 at 32 x 32, not the seed's 64 x 64: the image size is a setting like the others
    ({"arch": "dcgan", "image_size": 32, "batch_size": 128, "lr_G": 1e-4, "lr_D": 4e-4, "betas_G": [0.5, 0.999],
      "nz": 100, "ngf": 64, "ndf": 64, "update": "alternating"}, "seed-report: image_size 64 → 32"),
    # a hybrid-loss DDPM is read against Nichol & Dhariwal's preset, an L_simple one against Ho et al.'s
    ({"model": "iddpm-cifar10", "schedule": "cosine", "num_timesteps": 4000, "loss_type": "hybrid", "batch_size": 64,
      "lr": 1e-4, "warmup_steps": 0, "ema_decay": 0.9999, "grad_clip": None}, "iddpm-cifar10: batch_size 128 → 64"),
    ({"model": "ho-cifar10", "schedule": "linear", "num_timesteps": 1000, "loss_type": "simple", "batch_size": 128,
      "lr": 2e-4, "warmup_steps": 5000, "ema_decay": 0.9999, "grad_clip": 1.0}, "ho-cifar10: none"),
])
def test_each_run_is_read_against_the_paper_preset_it_follows(tmp_path, params, expected):
    run = tmp_path / "runs" / "study" / "seed0"
    run.mkdir(parents=True)
    kind = "gan" if "arch" in params else "diffusion"
    (run / "manifest.json").write_text(json.dumps({"kind": kind, "params": {**params, "seed": 0, "epochs": 1},
                                                   "data": {"label": "x", "n": 10}, "status": "finished"}))
    (run / "metrics.csv").write_text("epoch\n0\n")
    (row,) = settings_rows(tmp_path)
    assert row["differs from the paper preset"] == expected


@pytest.mark.parametrize("kind, params, rows, expected", [
    # PacGAN trained 400 epochs; a 200-epoch run says so, a 400-epoch one does not
    ("gan", {"arch": "mlp", "d_arch": "maxout", "batch_size": 100, "lr_G": 1e-4, "lr_D": 1e-4,
             "betas_G": [0.8, 0.999], "nz": 2, "mlp_hidden": 400, "update": "simultaneous"},
     200, "mixture-pacgan: training 400 epochs → 200"),
    ("gan", {"arch": "mlp", "d_arch": "maxout", "image_size": 64, "batch_size": 100, "lr_G": 1e-4, "lr_D": 1e-4,
             "betas_G": [0.8, 0.999], "nz": 2, "mlp_hidden": 400, "update": "simultaneous"},
     400, "mixture-pacgan: none"),
    # Nichol & Dhariwal trained 500k steps: ours is read off the last row's step
    ("diffusion", {"model": "iddpm-cifar10", "schedule": "cosine", "num_timesteps": 4000, "loss_type": "hybrid",
                   "batch_size": 128, "lr": 1e-4, "warmup_steps": 0, "ema_decay": 0.9999, "grad_clip": None},
     3, "iddpm-cifar10: training 500,000 steps → 30"),
])
def test_the_papers_training_length_is_set_beside_ours(tmp_path, kind, params, rows, expected):
    run = tmp_path / "runs" / "study" / "seed0"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"kind": kind, "params": {**params, "seed": 0, "epochs": rows},
                                                   "data": {"label": "x", "n": 10}, "status": "finished"}))
    (run / "metrics.csv").write_text("epoch,step\n" + "".join(f"{e},{10 * (e + 1)}\n" for e in range(rows)))
    (row,) = settings_rows(tmp_path)
    assert row["differs from the paper preset"] == expected
    assert "image_size" not in row["settings"] or params.get("arch") != "mlp"  # an MLP on 2D points has no image size


def test_the_presets_table_of_the_methods_chapter_states_the_presets_values():
    """The hand-written presets table against ``PRESETS`` (a review found it giving Nichol & Dhariwal's
    preset Ho et al.'s warm-up, clipping and T)."""
    from repro.train import diffusion, gan

    text = (ROOT / "book" / "methods.md").read_text()
    table = text[text.index("| setting | DCGAN (seed report preset)"):]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in table.splitlines()[2:] if line.startswith("|")}
    seed, paper = gan.PRESETS["seed-report"], gan.PRESETS["dcgan-paper"]
    ho, iddpm = diffusion.PRESETS["ho-cifar10"], diffusion.PRESETS["iddpm-cifar10"]
    assert rows["batch"] == [str(p.batch_size) for p in (seed, paper, ho, iddpm)]
    assert (seed.lr_G, seed.lr_D, paper.lr_G, ho.lr, iddpm.lr) == (1e-4, 4e-4, 2e-4, 2e-4, 1e-4)
    assert rows["learning rate"][2:] == ["$2 \\cdot 10^{-4}$", "$10^{-4}$"]
    assert f"{ho.warmup_steps:,} warm-up steps, gradient clipping at {ho.grad_clip:g}" in rows["optimiser"][2]
    assert iddpm.warmup_steps == 0 and iddpm.grad_clip is None and "no warm-up, no clipping" in rows["optimiser"][3]
    for p, cell in ((ho, rows["other"][2]), (iddpm, rows["other"][3])):
        assert f"{p.schedule} schedule, $T = {p.num_timesteps}$, EMA {p.ema_decay:g}" == cell
