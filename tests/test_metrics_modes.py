"""mode_coverage on points placed at known modes of a 2D mixture."""

import math

import torch

from repro import metrics
from repro.data import mixture_centers


def ring():
    return mixture_centers("ring8")


def test_points_on_every_mode_hit_all_modes_with_full_quality():
    centers = ring()
    noise = torch.randn(800, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    points = centers.repeat(100, 1) + 0.01 * noise
    out = metrics.mode_coverage(points, centers, std=0.02)
    assert out["modes_hit"] == 8 and out["high_quality_fraction"] == 1.0
    assert abs(out["kl_to_uniform"]) < 1e-12 and out["counts"] == [100] * 8


def test_points_on_three_modes_hit_three():
    centers = ring()
    points = centers[[0, 3, 5]].repeat(50, 1)
    out = metrics.mode_coverage(points, centers, std=0.02)
    assert out["modes_hit"] == 3 and out["kl_to_uniform"] == math.log(8 / 3)


def test_points_between_modes_are_low_quality_and_hit_nothing():
    centers = ring()
    points = torch.zeros(100, 2)  # the ring's centre, 2 units from every mode
    out = metrics.mode_coverage(points, centers, std=0.02)
    assert out["modes_hit"] == 0 and out["high_quality_fraction"] == 0.0


def test_a_few_stray_points_do_not_count_as_a_hit():
    centers = ring()
    points = torch.cat([centers[:1].repeat(2_000, 1), centers[1:2].repeat(5, 1)])  # 5 < 20 / 2500 of 2005
    assert metrics.mode_coverage(points, centers, std=0.02)["modes_hit"] == 1


def test_grid25_centres_are_all_hit_by_points_on_them():
    centers = mixture_centers("grid25")
    points = centers.repeat(40, 1)
    assert metrics.mode_coverage(points, centers, std=0.05)["modes_hit"] == 25


def test_papers_rule_counts_a_mode_with_one_high_quality_sample():
    centers = ring()
    points = torch.cat([centers[:1].repeat(2_000, 1), centers[1:2].repeat(5, 1)])
    out = metrics.mode_coverage(points, centers, std=0.02)
    assert out["modes_hit_any"] == 2 and out["modes_hit"] == 1


def test_kl_to_uniform_is_the_reverse_kl_of_the_model_histogram():
    centers = ring()
    points = torch.cat([centers[:1].repeat(30, 1), centers[1:2].repeat(10, 1)])
    out = metrics.mode_coverage(points, centers, std=0.02)
    q = torch.tensor([0.75, 0.25], dtype=torch.float64)
    expected = float((q * (q * 8).log()).sum())  # KL(q || uniform over 8), finite with 6 modes missed
    assert math.isclose(out["kl_to_uniform"], expected, rel_tol=1e-12)
    entropy = float(-(q * q.log()).sum())
    assert math.isclose(out["kl_to_uniform"], math.log(8) - entropy, rel_tol=1e-12)
