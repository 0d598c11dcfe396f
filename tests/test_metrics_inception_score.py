"""Inception Score: 1 for uniform predictions, K for confident predictions spread evenly over K classes."""

import math

import pytest
import torch

from repro import metrics


def test_inception_score_of_uniform_probabilities_is_one():
    mean, std = metrics.inception_score(torch.full((100, 1008), 1 / 1008), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("k", [2, 10, 1000])
def test_inception_score_of_confident_predictions_spread_over_k_classes_is_k(k):
    probs = torch.eye(k).repeat(5, 1)  # every split holds each class equally often
    mean, std = metrics.inception_score(probs, splits=5)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_equals_torch_fidelity_on_logits():
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.randn(500, 1008, generator=torch.Generator().manual_seed(0)) * 3
    ours = metrics.inception_score(logits.double().softmax(1), splits=10)
    ref = isc_features_to_metric(logits, splits=10, shuffle=False)
    assert ours[0] == pytest.approx(ref["inception_score_mean"], rel=1e-12)
    assert ours[1] == pytest.approx(ref["inception_score_std"], rel=1e-9)


def test_classifier_score_is_the_inception_score_formula_on_one_split():
    probs = torch.softmax(torch.randn(300, 10, generator=torch.Generator().manual_seed(1)), dim=1)
    assert metrics.classifier_score(probs) == metrics.inception_score(probs, splits=1)[0]
    assert 1 <= metrics.classifier_score(probs) <= 10 + 1e-9


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="softmax"):
        metrics.inception_score(torch.randn(20, 10), splits=2)
    assert math.isfinite(metrics.inception_score(torch.full((20, 10), 0.1), splits=2)[0])
