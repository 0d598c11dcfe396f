"""The collapse rule on synthetic per-epoch series (repro.metrics.collapse)."""

import math

import pytest
import torch

from repro.metrics.collapse import CollapseRule, detect_collapse, mode_set, sample_diversity


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


@pytest.mark.parametrize("modes, verdict, epoch", [
    ([0, 1, 0, 1, 1, 0, 1, 0], "non-convergence", None),  # never near 8 modes: never reached quality
    ([0, 2, 4, 6, 8, 8, 8], "no collapse", None),  # slow to spread, but ends with all modes
    ([0, 2, 4, 8, 8, 8, 5, 4, 3], "collapse", 7),  # reached all 8, lost them at epoch 7
    ([0, 1, 2, 3, 4, 5], "non-convergence", None),  # still spreading when stopped: 5 of 8 at best
    ([0, 8, 8, 5, 5, 8], "no collapse", None),  # a dip shorter than patience at the end is not a collapse
])
def test_mixture_collapse_against_the_number_of_modes(modes, verdict, epoch):
    # rows without high_quality_fraction: quality counts as reached once the modes came near the target
    report = detect_collapse(_rows(modes_hit=modes), CollapseRule.for_mixture(num_modes=8, diversity=None, win=None))
    assert report.verdict == verdict and report.epoch == epoch
    if verdict == "non-convergence":
        assert "target" in report.criteria and str(report).startswith("non-convergence: never reached quality")


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


def test_too_few_epochs_are_undetermined_never_no_collapse():
    assert detect_collapse([], CollapseRule.for_images()).verdict == "undetermined"
    report = detect_collapse(_rows(fd_classifier=[50, 40]), FD_RULE)
    assert str(report) == "undetermined: 2 epochs recorded; the rule needs at least 3" and not report.collapsed


MIXTURE = CollapseRule.for_mixture(num_modes=8)


def test_a_diverged_run_is_diverged_not_no_collapse():
    # reliability review row 74: lr 1e6, 3 epochs, loss_G ~1e15, D wins, diversity 0 from epoch 0
    rows = _rows(loss_G=[3e14, 8e14, 1e15], loss_D=[0.0, 0.0, 0.0], D_x=[1.0, 1.0, 1.0], D_G_z=[0.0, 0.0, 0.0],
                 diversity=[0.0, 0.0, 0.0], modes_hit=[0, 0, 0], high_quality_fraction=[0.0, 0.0, 0.0])
    report = detect_collapse(rows, MIXTURE)
    assert report.verdict == "diverged" and report.epoch == 1 and str(report).startswith("diverged at epoch 1: loss_G")
    nan_loss = _rows(loss=[0.5, float("nan"), 0.4], fd_classifier=[50, 40, 30])
    assert detect_collapse(nan_loss, FD_RULE).verdict == "diverged"


def test_diversity_zero_from_the_start_is_never_no_collapse():
    report = detect_collapse(_rows(diversity=[0.0, 0.0, 0.0, 0.0]), CollapseRule(win=None))
    assert report.verdict != "no collapse" and "no diversity" in report.criteria


def test_sharp_samples_on_few_modes_from_the_start_are_partial_coverage_and_a_blurred_blob_is_non_convergence():
    one_mode = _rows(modes_hit=[1] * 6, high_quality_fraction=[0.2, 0.6, 0.95, 0.99, 0.99, 0.99])
    report = detect_collapse(one_mode, MIXTURE)
    # nothing was lost that the records saw: no epoch to date a collapse at (a review read one such date,
    # the first epoch of half the samples sharp, as "collapse at epoch 52")
    assert report.verdict == "partial coverage" and report.reached_epoch == 2 and report.epoch is None
    assert not report.collapsed and str(report).startswith("partial coverage: modes_hit stayed more than 25% below")
    lost = _rows(modes_hit=[8, 8, 8, 3, 3, 3], high_quality_fraction=[0.2, 0.6, 0.95, 0.99, 0.99, 0.99])
    report = detect_collapse(lost, MIXTURE)  # all eight covered, then five lost
    assert report.verdict == "collapse" and report.epoch == 4 and report.criteria == ("quality", "target")
    few_then_fewer = _rows(modes_hit=[6, 6, 6, 2, 2, 2], high_quality_fraction=[0.99] * 6)
    report = detect_collapse(few_then_fewer, CollapseRule.for_mixture(num_modes=25))  # 6 of 25, then 2: lost
    assert report.verdict == "collapse" and report.epoch == 4 and report.reason.startswith("modes_hit 2 worse")
    # issue 16: a blob between two modes, high-quality fraction 0.0008-0.027, coverage never rose
    blob = _rows(modes_hit=[0, 0, 1, 0, 0, 0], high_quality_fraction=[0.0008, 0.01, 0.027, 0.02, 0.01, 0.015])
    report = detect_collapse(blob, MIXTURE)
    assert report.verdict == "non-convergence" and report.epoch is None
    assert "high_quality_fraction reached 0.027, the threshold is 0.5" in report.reason


def test_all_modes_at_low_quality_is_non_convergence_for_a_diffusion_model_too():
    rows = _rows(modes_hit=[8] * 5, high_quality_fraction=[0.1, 0.2, 0.3, 0.3, 0.35])
    assert detect_collapse(rows, CollapseRule.for_mixture(num_modes=8, win=None)).verdict == "non-convergence"
    rows = _rows(modes_hit=[8] * 5, high_quality_fraction=[0.1, 0.6, 0.9, 0.95, 0.95])
    assert detect_collapse(rows, CollapseRule.for_mixture(num_modes=8, win=None)).verdict == "no collapse"


def test_cycling_between_modes_is_collapse():
    sets = ["0 1", "4 5", "2 3", "6 7", "0 1", "4 5"]
    rows = _rows(modes_hit=[2] * 6, high_quality_fraction=[0.99] * 6, mode_set=sets)
    report = detect_collapse(rows, CollapseRule.for_mixture(diversity=None, win=None))
    assert report.verdict == "collapse" and report.criteria == ("mode hopping",) and report.epoch == 2
    steady = _rows(modes_hit=[2] * 6, high_quality_fraction=[0.99] * 6, mode_set=["0 1"] * 6)
    assert detect_collapse(steady, CollapseRule.for_mixture(diversity=None, win=None)).verdict == "no collapse"


def test_mode_set_lists_the_modes_with_enough_samples():
    assert mode_set([30, 0, 19, 20], min_count=20) == "0 3"


def test_image_rule_with_a_quality_threshold_tells_non_convergence():
    rule = CollapseRule.for_images("fd_classifier", reach_at=20.0, diversity=None, win=None)
    assert detect_collapse(_rows(fd_classifier=[300, 290, 295, 300, 310]), rule).verdict == "non-convergence"
    report = detect_collapse(_rows(fd_classifier=[300, 50, 15, 12, 40, 60, 80]), rule)
    assert report.verdict == "collapse" and report.epoch == 5 and report.reached_epoch == 3


def test_sample_diversity_is_one_for_data_and_zero_for_identical_samples():
    g = torch.Generator().manual_seed(0)
    data = torch.randn(500, 2, generator=g)
    same_law = torch.randn(500, 2, generator=g)
    assert sample_diversity(same_law, data) == pytest.approx(1.0, abs=0.05)
    assert sample_diversity(data[:1].repeat(50, 1), data) == 0.0
    assert math.isclose(sample_diversity(0.5 * data, data), 0.5, rel_tol=1e-9)


def test_events_before_quality_is_reached_are_training_not_collapse():
    # grid25 GAN seeds: the few modes of blurred early epochs hop, then the run sharpens onto most modes
    early = ["0", "3", "7", "12", "1", "20 21 22", "20 21 22", "20 21 22", "20 21 22"]
    rows = _rows(modes_hit=[1, 1, 1, 1, 1, 21, 21, 21, 21], mode_set=early,
                 high_quality_fraction=[0.1, 0.1, 0.2, 0.2, 0.3, 0.8, 0.8, 0.8, 0.8])
    rule = CollapseRule.for_mixture(num_modes=25, diversity=None, win=None)
    report = detect_collapse(rows, rule)
    assert report.verdict == "no collapse" and report.reached_epoch == 6
    # the same hopping once half the samples are sharp is a collapse, dated where it starts
    hops = ["0 1 2"] * 4 + ["3 4 5", "6 7 8", "9 10 11", "12 13 14", "0 1 2"]
    sharp = _rows(modes_hit=[3] * 9, mode_set=hops, high_quality_fraction=[0.8] * 9)
    report = detect_collapse(sharp, rule)
    assert report.verdict == "collapse" and report.cause == "mode hopping" and report.epoch == 5
    # a discriminator that wins while the generator is still blurred, and no more once it is sharp
    won = _rows(modes_hit=[8] * 6, high_quality_fraction=[0.1, 0.1, 0.1, 0.9, 0.9, 0.9],
                D_x=[0.99, 0.99, 0.99, 0.6, 0.6, 0.6], D_G_z=[0.01, 0.01, 0.01, 0.4, 0.4, 0.4])
    assert detect_collapse(won, CollapseRule.for_mixture(num_modes=8, diversity=None)).verdict == "no collapse"
