"""Training compute: FLOP counts with closed forms, the CPU attention kernel counted, RNG untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

from repro.train import diffusion, gan
from repro.train.compute import count_flops, training_flops_per_example

ROOT = Path(__file__).resolve().parents[1]


def test_a_linear_layer_costs_six_flops_per_weight_and_example():
    b, n_in, n_out = 3, 5, 7
    layer = torch.nn.Linear(n_in, n_out)
    x = torch.randn(b, n_in, requires_grad=True)
    # forward 2 b n_in n_out; backward the same twice (gradients of the input and of the weight)
    assert count_flops(lambda: layer(x).sum().backward()) == 6 * b * n_in * n_out


def test_the_cpu_attention_kernel_is_counted_with_torchs_formula():
    q = torch.randn(2, 4, 64, 8, requires_grad=True)
    shape = tuple(q.shape)
    expected = sdpa_flop_count(shape, shape, shape) + sdpa_backward_flop_count(shape, shape, shape, shape)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q).sum().backward()) == expected > 0


def test_flops_per_example_do_not_depend_on_the_batch_and_leave_the_rng_alone():
    cfg = gan.preset("fashion-mnist-32-cpu", channels=1)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    two, four = (training_flops_per_example("gan", cfg, (1, 32, 32), batch=b) for b in (2, 4))
    assert torch.equal(torch.rand(3), expected)
    assert two == four > 0


def test_the_dcgan_count_agrees_with_the_benchmark_record():
    """bench/run.py counts the same step through its own harness; book/results/bench/cpu.json holds it."""
    rows = json.loads((ROOT / "book" / "results" / "bench" / "cpu.json").read_text())["rows"]
    bench = next(r["details"]["flops_per_image"] for r in rows if r["workload"].startswith("DCGAN training 32x32"))
    cfg = gan.preset("dcgan-paper", image_size=32, channels=3)
    assert training_flops_per_example("gan", cfg, (3, 32, 32)) == bench


def test_the_2d_counts_agree_with_the_mixtures_benchmark_record():
    """The 2D study's compute table and bench/run.py --only mixtures count the same two steps."""
    from repro.report import toy_modes

    rows = json.loads((ROOT / "book" / "results" / "bench" / "cpu-mixtures.json").read_text())["rows"]
    bench = {r["workload"].split(", ")[1].split()[0]: r["details"]["flops_per_image"] for r in rows}
    assert bench["GAN"] == training_flops_per_example("gan", toy_modes.gan_config(1, 0, 1e-4), (2,))
    assert bench["DDPM"] == training_flops_per_example("diffusion", toy_modes.ddpm_config(1, 0, 1e-3), (2,))


def test_the_ddpm_step_costs_more_than_the_gan_step_and_unknown_kinds_are_refused():
    g = training_flops_per_example("gan", gan.preset("fashion-mnist-32-cpu", channels=1), (1, 32, 32))
    d = training_flops_per_example("diffusion", diffusion.preset("fashion-mnist-32-cpu"), (1, 32, 32))
    assert d > 10 * g
    with pytest.raises(ValueError, match="'gan' or 'diffusion'"):
        training_flops_per_example("vae", None, (1, 32, 32))


def test_epochs_for_a_budget():
    from repro.train.budget import epochs_for_budget

    assert epochs_for_budget(1e15, 1e9, 60_000) == 16      # 1e15 / 6e13 = 16.7
    assert epochs_for_budget(1e12, 1e9, 60_000) == 1       # less than one epoch: one
    with pytest.raises(ValueError, match="must all be > 0"):
        epochs_for_budget(0, 1e9, 60_000)


@pytest.mark.parametrize("values, flat", [
    ([10, 8, 6, 5, 4.5, 4.0], False),            # the last three's mean beats the three before by > 2%
    ([10, 8, 5.0, 5.05, 4.99, 5.1, 5.0, 5.05], True),  # the last three's mean: no 2% gain on the three before
    ([10, 8, 6, 5, 5], False),                   # too few to judge: two windows of three are needed
    ([10, 8, 6, 5, float("nan"), 5.0, 5.0, 5.0, 5.0, 5.0], True),
    # a noisy curve still falling: its last three never beat the earlier best (4.0, a lucky draw), but
    # their mean is 8% below the mean of the three before; the best-so-far rule would call it flat
    ([9, 4.0, 7, 6.5, 6.0, 5.5, 6.0, 5.6, 5.3], False),
])
def test_a_curve_is_flat_when_its_last_window_mean_does_not_beat_the_window_before(values, flat):
    from repro.train.budget import flattened

    rows = [{"fd": v} for v in values] + [{"other": 1}]  # rows without the key are skipped
    assert flattened(rows, "fd", window=3, min_improvement=0.02) is flat
    assert flattened([{"s": 1 / v} for v in values], "s", 3, 0.02, mode="max") is flat  # a score, rising
    with pytest.raises(ValueError, match="window must be at least 1"):
        flattened(rows, "fd", window=0, min_improvement=0.02)
    # the gain window_gain reports is the one flattened compares: flat exactly when it is below 2%
    from repro.train.budget import window_gain

    gain = window_gain(rows, "fd", 3)
    assert (gain != gain) if len([v for v in values if v == v]) < 6 else ((gain < 0.02) is flat)


def test_window_change_is_the_difference_of_window_means_with_its_standard_error():
    import math

    from repro.train.budget import window_change

    values = [0.0, 2.0, 0.0, 2.0, 3.0, 5.0, 3.0, 5.0]  # windows of 4: means 1 and 4, variances 4/3 each
    delta, se = window_change(values, 4)
    assert delta == pytest.approx(3.0)
    assert se == pytest.approx(math.sqrt(2 * (4 / 3) / 4))
    assert window_change([None, *values, float("nan")], 4) == (delta, se)  # missing values skipped
    assert all(math.isnan(x) for x in window_change(values[:7], 4))  # fewer than 2k values


@pytest.mark.parametrize("values, kwargs, expected", [
    ([0.0, 2.0, 0.0, 2.0, 3.0, 5.0, 3.0, 5.0], {}, "improving"),  # +3 against 2 x 0.82
    ([3.0, 5.0, 3.0, 5.0, 0.0, 2.0, 0.0, 2.0], {}, "worsening"),
    ([3.0, 5.0, 3.0, 5.0, 0.0, 2.0, 0.0, 2.0], {"mode": "min"}, "improving"),  # a distance that fell
    ([0.0, 2.0, 0.0, 2.0, 0.5, 2.5, 0.5, 2.5], {}, "flat"),  # +0.5 inside 2 standard errors
    ([0.0, 2.0, 0.0, 2.0, 3.0, 5.0, 3.0, 5.0], {"tol": 3.5}, "flat"),  # significant but below what counts
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {}, "flat"),  # a ceiling: zero change, zero error
    ([1.0, 2.0, 3.0], {}, "too short"),
])
def test_trend_reads_the_change_against_its_noise_and_the_tolerance(values, kwargs, expected):
    from repro.train.budget import trend

    assert trend(values, 4, **kwargs) == expected


def test_trend_rejects_an_unknown_mode():
    from repro.train.budget import trend

    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        trend([1.0] * 8, 4, mode="up")


def _run(kind: str, cfg, rows, **manifest):
    import dataclasses

    from repro.records import Record

    params = json.loads(json.dumps(dataclasses.asdict(cfg)))  # as a manifest stores it: lists, not tuples
    return Record(path=Path("."), manifest={"kind": kind, "params": params, **manifest}, rows=rows)


def test_a_runs_flops_are_counted_from_the_config_in_its_manifest():
    from repro.report import toy_modes
    from repro.train.compute import record_flops_per_example, run_training_flops

    g, d = toy_modes.gan_config(1, 0, 1e-4), toy_modes.ddpm_config(1, 0, 1e-3)
    rows = [{"step": 1000, "epoch_time_s": 2.0}, {"step": 2000, "epoch_time_s": 3.0}]
    gan_run, ddpm_run = _run(gan.KIND, g, rows), _run(diffusion.KIND, d, rows, data_shape=[2])
    per_gan = record_flops_per_example(gan_run)
    assert per_gan == training_flops_per_example("gan", g, (2,)) > 0
    assert record_flops_per_example(ddpm_run) == training_flops_per_example("diffusion", d, (2,)) > 0
    assert run_training_flops(gan_run, per_gan) == 2000 * g.batch_size * per_gan  # last step x batch x per example
    with pytest.raises(ValueError, match="GAN and diffusion runs"):
        record_flops_per_example(_run("classifier", g, rows))


def test_the_pacgan_generators_flops_have_their_closed_form():
    """G alone, forward: 2 x (2*400 + 400*400 * 3 + 400*2) per example (4 x 400 hidden, 2-d z and output)."""
    from repro.report import toy_modes
    from repro.train.gan import build_gan

    G, _ = build_gan(toy_modes.gan_config(1, 0, 1e-4))
    z = torch.randn(5, 2)
    assert count_flops(lambda: G(z)) == 5 * 2 * (2 * 400 + 3 * 400 * 400 + 400 * 2)


def test_training_time_is_the_sum_of_the_epochs_training_times():
    from repro.train.compute import training_time_s

    assert training_time_s([{"epoch_time_s": 2.5}, {"epoch_time_s": None}, {}, {"epoch_time_s": "1.5"}]) == 4.0


def test_cpu_time_is_summed_only_when_every_epoch_recorded_it():
    from repro.train.compute import training_cpu_s

    assert training_cpu_s([{"epoch_cpu_s": 2.5}, {"epoch_cpu_s": "1.5"}]) == 4.0
    assert training_cpu_s([{"epoch_cpu_s": 2.5}, {"epoch_time_s": 3.0}]) is None  # an epoch from before it was timed
    assert training_cpu_s([]) is None
