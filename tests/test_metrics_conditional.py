"""Scores of samples drawn for requested labels: real images score as real data, wrong labels and noise
score as such."""

from __future__ import annotations

import pytest
import torch

from repro.data import to_float
from repro.metrics.classifier import load_classifier
from repro.metrics.conditional import conditional_scores, real_features


@pytest.fixture(scope="module")
def halves(real_dataset):
    ds = real_dataset("fashion-mnist", "test", image_size=32, subset=1200)
    x, y = to_float(ds.images), ds.labels.long()
    return load_classifier("fashion-mnist"), (x[:600], y[:600]), (x[600:], y[600:])


def test_real_images_with_their_labels_score_as_real_data(halves):
    clf, (x_ref, _), (x, y) = halves
    s = conditional_scores(x, clf, real_features(clf, x_ref), y)
    assert s["label_accuracy"] >= 0.85 and s["classes_hit"] == 10 and s["n"] == 600
    assert s["precision"] > 0.6 and s["recall"] > 0.6 and s["coverage"] > 0.6
    assert s["fd_classifier"] < 2.0


def test_wrong_labels_and_noise_are_scored_as_such(halves):
    clf, (x_ref, _), (x, y) = halves
    real = real_features(clf, x_ref)
    assert conditional_scores(x, clf, real, (y + 1) % 10)["label_accuracy"] <= 0.15
    noise = conditional_scores(torch.rand_like(x) * 2 - 1, clf, real, y)
    assert noise["fd_classifier"] > 20 * conditional_scores(x, clf, real, y)["fd_classifier"]
    assert noise["precision"] < 0.1
    assert conditional_scores(x, clf, real)["label_accuracy"] is None  # no label requested


def test_labels_must_match_the_samples(halves):
    clf, (x_ref, _), (x, y) = halves
    with pytest.raises(ValueError, match="one label per sample"):
        conditional_scores(x, clf, real_features(clf, x_ref), y[:10])


def test_each_score_has_an_interval_around_it_that_narrows_with_n(halves):
    clf, (x_ref, _), (x, y) = halves
    real = real_features(clf, x_ref)
    full = conditional_scores(x, clf, real, y, bootstrap=20)
    fewer_samples = conditional_scores(x[:150], clf, real, y[:150], bootstrap=20)
    width = lambda s, key: s[f"{key}_hi"] - s[f"{key}_lo"]  # noqa: E731
    for key in ("fd_classifier", "precision", "recall", "density", "coverage", "label_accuracy"):
        assert full[f"{key}_lo"] <= full[key] <= full[f"{key}_hi"], key
    for key in ("fd_classifier", "precision", "density", "label_accuracy"):  # a mean over the samples
        assert width(fewer_samples, key) > width(full, key), key
    for key in ("recall", "coverage"):  # terms of the 600 real images: at least their own Wald interval
        p, n = full[key], x_ref.shape[0]
        assert width(full, key) >= 2 * 1.959964 * (p * (1 - p) * n / (n - 1)) ** 0.5 / n ** 0.5 - 1e-9 or \
            full[f"{key}_hi"] == 1.0
    assert "fd_classifier_lo" not in conditional_scores(x, clf, real, y)  # no resamples, no FD interval
    assert "label_accuracy_lo" not in conditional_scores(x, clf, real)  # no label requested
    with pytest.raises(ValueError, match="bootstrap = -1 must be >= 0"):
        conditional_scores(x, clf, real, y, bootstrap=-1)
