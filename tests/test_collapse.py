"""The collapse rule on synthetic per-epoch series (repro.train.collapse)."""

import math

import pytest
import torch

from repro.train.collapse import CollapseRule, detect_collapse, sample_diversity


def _rows(**series):
    n = len(next(iter(series.values())))
    return [{"epoch": i + 1, **{k: v[i] for k, v in series.items()}} for i in range(n)]


FD_RULE = CollapseRule.for_images("fd_classifier", diversity=None, win=None)


def test_quality_collapse_is_dated_at_the_first_epoch_of_the_sustained_rise():
    # best 36 at epoch 8; 25 % worse is 45; from epoch 11 on the FD stays above it
    fd = [100, 80, 60, 45, 40, 38, 37, 36, 36.5, 37, 60, 70, 80, 90]
    report = detect_collapse(_rows(fd_classifier=fd), FD_RULE)
    assert report.collapsed and report.epoch == 11
    assert report.best_epoch == 8 and report.best_value == 36
    assert str(report).startswith("collapse at epoch 11: fd_classifier 60 worse than its best so far 36")


def test_improving_series_reports_no_collapse():
    fd = [100 / (1 + e) for e in range(30)]
    report = detect_collapse(_rows(fd_classifier=fd), FD_RULE)
    assert not report.collapsed and report.epoch is None and str(report) == "no collapse"
    assert report.best_epoch == 30


def test_noisy_flat_series_reports_no_collapse():
    g = torch.Generator().manual_seed(0)
    fd = (40 * (1 + 0.05 * torch.randn(80, generator=g))).tolist()  # 5 % noise around a plateau
    assert str(detect_collapse(_rows(fd_classifier=fd), FD_RULE)) == "no collapse"


def test_isolated_spikes_shorter_than_patience_are_not_a_collapse():
    fd = [50, 40, 35, 90, 35, 36, 95, 97, 34, 35, 36, 35]
    assert not detect_collapse(_rows(fd_classifier=fd), FD_RULE).collapsed
    # the same spike held for patience = 3 epochs is one
    fd = [50, 40, 35, 90, 95, 97, 36]
    assert detect_collapse(_rows(fd_classifier=fd), FD_RULE).epoch == 4


def test_degradation_still_running_at_the_end_but_shorter_than_patience_is_not_reported():
    assert not detect_collapse(_rows(fd_classifier=[50, 40, 35, 36, 90, 95]), FD_RULE).collapsed


def test_higher_is_better_metric_and_absolute_margin():
    rule = CollapseRule(quality="is", quality_mode="max", margin=1.0, margin_kind="absolute", diversity=None, win=None)
    report = detect_collapse(_rows(**{"is": [3.0, 5.0, 6.0, 6.2, 5.5, 5.1, 5.0, 4.9]}), rule)
    assert report.epoch == 6  # 5.1 < 6.2 - 1 from epoch 6 on


def test_mixture_collapse_means_modes_lost():
    modes = [2, 5, 8, 8, 7, 8, 6, 5, 3, 2, 1, 1]
    report = detect_collapse(_rows(modes_hit=modes), CollapseRule.for_mixture(diversity=None, win=None))
    # best 8; losing more than 25 % of them means fewer than 6 modes: from epoch 8 on
    assert report.collapsed and report.epoch == 8 and "modes_hit" in report.reason
    assert report.best_epoch == 3


def test_mixture_that_keeps_its_modes_reports_no_collapse():
    modes = [1, 3, 6, 8, 7, 8, 8, 7, 8, 8]
    assert str(detect_collapse(_rows(modes_hit=modes), CollapseRule.for_mixture())) == "no collapse"


@pytest.mark.parametrize("modes, epoch", [
    ([0, 1, 0, 1, 1, 0, 1, 0], 1),  # never more than 1 of 8 modes: collapsed from the start
    ([0, 2, 4, 6, 8, 8, 8], None),  # slow to spread, but ends with all modes
    ([0, 2, 4, 8, 8, 8, 5, 4, 3], 7),  # lost them at epoch 7
    ([0, 1, 2, 3, 4, 5], 1),  # still spreading when stopped: ends covering 5 of 8 modes
    ([0, 8, 8, 5, 5, 8], None),  # a dip shorter than patience at the end is not a collapse
])
def test_mixture_collapse_against_the_number_of_modes(modes, epoch):
    report = detect_collapse(_rows(modes_hit=modes), CollapseRule.for_mixture(num_modes=8, diversity=None, win=None))
    assert report.epoch == epoch
    if epoch == 1:
        assert "target" in report.criteria and "below the target 8" in report.reason


def test_falling_diversity_is_a_collapse():
    div = [0.1, 0.5, 0.9, 0.95, 0.9, 0.6, 0.4, 0.3, 0.2]
    report = detect_collapse(_rows(diversity=div), CollapseRule(win=None))
    assert report.epoch == 7 and report.criteria == ("diversity",)


def test_discriminator_winning_outright_is_a_collapse():
    dx = [0.7, 0.8, 0.9, 0.995, 0.999, 0.999, 0.999]
    dgz = [0.3, 0.2, 0.1, 0.004, 0.001, 0.0005, 0.0001]
    report = detect_collapse(_rows(D_x=dx, D_G_z=dgz), CollapseRule())
    assert report.epoch == 4 and "discriminator wins outright" in report.reason
    # D merely ahead is not a collapse
    assert not detect_collapse(_rows(D_x=[0.9] * 10, D_G_z=[0.1] * 10)).collapsed


def test_the_earliest_criterion_is_reported_and_all_are_listed():
    rows = _rows(fd_classifier=[50, 40, 30, 31, 60, 70, 80, 90],
                 D_x=[0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.999, 0.999],
                 D_G_z=[0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.001, 0.001],
                 diversity=[1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 0.3, 0.3])
    report = detect_collapse(rows, CollapseRule.for_images("fd_classifier", patience=2))
    assert report.epoch == 5 and report.criteria == ("quality", "diversity", "discriminator wins")


def test_missing_values_are_skipped_and_columns_may_be_given_as_series():
    fd = [50, None, 40, float("nan"), 35, None, 80, 85, None, 90]
    report = detect_collapse({"epoch": list(range(1, 11)), "fd_classifier": fd}, FD_RULE)
    assert report.epoch == 7
    # no epoch column: epochs count from 0
    assert detect_collapse({"fd_classifier": [40, 30, 60, 60, 60]}, FD_RULE).epoch == 2


def test_empty_records_report_no_collapse():
    assert str(detect_collapse([], CollapseRule.for_images())) == "no collapse"


def test_sample_diversity_is_one_for_data_and_zero_for_identical_samples():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(500, 2, generator=g)
    same_law = torch.randn(500, 2, generator=g)
    assert sample_diversity(same_law, data) == pytest.approx(1.0, abs=0.05)
    assert sample_diversity(data[:1].repeat(50, 1), data) == 0.0
    assert math.isclose(sample_diversity(0.5 * data, data), 0.5, rel_tol=1e-9)
