"""KID: near 0 for two samples of one distribution, clearly positive for shifted ones."""

import pytest
import torch

from repro import metrics
from repro.metrics import SampleSizeWarning


def samples(n, shift=0.0, seed=0):
    return torch.randn(n, 16, generator=torch.Generator().manual_seed(seed)) + shift


def test_kid_of_two_samples_of_one_distribution_is_near_zero():
    mean, std = metrics.kid_from_features(samples(400, seed=1), samples(400, seed=2), num_subsets=20,
                                          subset_size=200)
    assert abs(mean) < 0.01 and abs(mean) < 3 * std + 1e-3


def test_kid_of_shifted_distributions_is_clearly_positive():
    mean, std = metrics.kid_from_features(samples(400, seed=1), samples(400, 0.5, seed=2), num_subsets=20,
                                          subset_size=200)
    same, _ = metrics.kid_from_features(samples(400, seed=1), samples(400, seed=2), num_subsets=20,
                                        subset_size=200)
    assert mean > 10 * std and mean > 0.1 and mean > 50 * abs(same)


def test_kid_equals_torch_fidelity_on_the_same_features_and_seed():
    from torch_fidelity.metric_kid import kid_features_to_metric

    a, b = samples(300, seed=3), samples(300, 0.2, seed=4)
    ours = metrics.kid_from_features(a, b, num_subsets=10, subset_size=100, seed=7)
    ref = kid_features_to_metric(a, b, kid_subsets=10, kid_subset_size=100, rng_seed=7, verbose=False)
    assert ours == (ref["kernel_inception_distance_mean"], ref["kernel_inception_distance_std"])


def test_kid_with_fewer_samples_than_the_subset_size_shrinks_the_subsets_and_warns():
    with pytest.warns(SampleSizeWarning, match="subsets of 50"):
        mean, std = metrics.kid_from_features(samples(50, seed=5), samples(80, seed=6), num_subsets=5)
    assert mean == mean and std >= 0
