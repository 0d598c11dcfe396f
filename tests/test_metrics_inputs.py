"""Every metric refuses wrong input at its entry, with the reason, before any expensive work (issue 13,
item 4; reliability review rows 83, 86-87, 90-91, 93, 98-99, 101-105, 111)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch

from repro import metrics
from repro.data import mixture_centers, to_float
from repro.metrics.checks import ImageRangeError, NonFiniteSamplesError

evaluate_mod = importlib.import_module("repro.metrics.evaluate")  # the module, not the function


@pytest.fixture
def no_networks(monkeypatch):
    """Fail the test if evaluate reaches any expensive step (data, Inception, classifier)."""
    def expensive(*a, **k):
        raise AssertionError("expensive work started before the input was checked")
    for name in ("inception_extractor", "load_classifier", "load_dataset"):
        monkeypatch.setattr(evaluate_mod, name, expensive)


def _images(n=8, c=1, seed=0):
    return torch.rand(n, c, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("scale, what", [(lambda x: (x + 1) * 127.5, "[0, 255]"), (lambda x: 3 * x, "x3")])
def test_float_images_outside_minus_one_one_are_refused_not_clamped(no_networks, scale, what):
    with pytest.raises(ImageRangeError, match=r"must lie in \[-1, 1\].*nothing is clamped"):
        metrics.evaluate(scale(_images()), reference="fashion-mnist", n=8)


def test_images_in_zero_one_are_refused_with_the_fix(no_networks):
    with pytest.raises(ImageRangeError, match=r"look like images in \[0, 1\].*x \* 2 - 1"):
        metrics.evaluate((_images() + 1) / 2, reference="fashion-mnist", n=8)


def test_a_sample_function_returning_0_255_floats_is_refused(no_networks, monkeypatch):
    from repro.metrics import sampling
    with pytest.raises(ImageRangeError, match=r"\[0, 255\]"):
        list(sampling.sample_batches(lambda n: (_images(n) + 1) * 127.5, 8, 4, progress=False))


def test_nan_pixel_is_named_within_the_whole_set(no_networks):
    x = _images(200)
    x[150, 0, 3, 3] = float("nan")
    with pytest.raises(NonFiniteSamplesError, match="1 of 200 samples .*sample 150"):
        metrics.evaluate(x, reference="fashion-mnist", n=200)


def test_zero_samples_and_bad_sources_get_clear_errors(no_networks):
    with pytest.raises(ValueError, match="n \\(samples\\) and batch_size must be positive.*n = 0"):
        metrics.evaluate(_images(), reference="fashion-mnist", n=0)
    with pytest.raises(TypeError, match="tensor or numpy array of images, or a function"):
        metrics.evaluate([[0.0]], reference="fashion-mnist", n=1)
    with pytest.raises(TypeError, match="uint8 in \\[0, 255\\] or float"):
        metrics.evaluate(torch.zeros(4, 1, 8, 8, dtype=torch.int64), reference="fashion-mnist", n=4)
    with pytest.raises(ValueError, match="unknown reference"):
        metrics.evaluate(_images(), reference="cifar100", n=8)


def test_k_versus_n_is_checked_before_inception(no_networks):
    with pytest.raises(ValueError, match="'precision_recall' with n = 3.*k = 3"):
        metrics.evaluate(_images(3), reference="fashion-mnist", metrics=("precision_recall",), n=3)
    with pytest.raises(ValueError, match="'density_coverage' with reference_n = 5"):
        metrics.evaluate(_images(), reference="fashion-mnist", metrics=("density_coverage",), n=8, reference_n=5)


def test_numpy_images_give_the_numbers_of_the_same_tensor(real_dataset, tmp_path):
    u8 = real_dataset("fashion-mnist", "test", image_size=32, subset=300, seed=1).images[:100]
    kwargs = dict(reference="fashion-mnist", split="test", metrics=("classifier",), n=100, reference_n=300,
                  cache_dir=tmp_path, progress=False)
    as_tensor = metrics.evaluate(u8, **kwargs)
    assert metrics.evaluate(u8.numpy(), **kwargs) == as_tensor
    assert metrics.evaluate(to_float(u8).numpy(), **kwargs) == as_tensor


def test_feature_metrics_refuse_nan_instead_of_returning_numbers():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(200, 16, generator=g), torch.randn(200, 16, generator=g) + 0.1
    one_nan = a.clone()
    one_nan[3, 5] = float("nan")
    all_nan = torch.full_like(b, float("nan"))
    for call in (lambda: metrics.kid_from_features(one_nan, b, subset_size=100),
                 lambda: metrics.precision_recall(one_nan, b),
                 lambda: metrics.precision_recall(a, all_nan),
                 lambda: metrics.density_coverage(one_nan, b),
                 lambda: metrics.density_coverage(a, all_nan),
                 lambda: metrics.fid_from_features(a, all_nan)):
        with pytest.raises(ValueError, match="NaN or infinite"):
            call()


def test_feature_metrics_refuse_empty_and_mismatched_sets_clearly():
    a = torch.randn(50, 8)
    with pytest.raises(ValueError, match="fake_feats hold 0 samples; at least 1"):
        metrics.density_coverage(a, torch.zeros(0, 8))
    with pytest.raises(ValueError, match="8-dimensional but fake_feats are 4-dimensional"):
        metrics.precision_recall(a, torch.randn(50, 4))
    with pytest.raises(ValueError, match="8-dimensional but feats_b are 4-dimensional"):
        metrics.kid_from_features(a, torch.randn(50, 4))
    with pytest.raises(TypeError, match="torch.Tensor or a numpy array, got list"):
        metrics.fid_from_features(a.tolist(), a)


def test_mode_coverage_refuses_nan_points_and_accepts_numpy():
    centers = mixture_centers("ring8")
    points = centers.repeat(50, 1)
    half_nan = points.clone()
    half_nan[::2] = float("nan")
    with pytest.raises(ValueError, match="points contain NaN or infinite values \\(200 of 400"):
        metrics.mode_coverage(half_nan, centers, std=0.02)
    assert metrics.mode_coverage(points.numpy(), centers.numpy(), std=0.02) == metrics.mode_coverage(
        points, centers, std=0.02)
    with pytest.raises(ValueError, match="std and radius must be positive"):
        metrics.mode_coverage(points, centers, std=0.0)


def test_probabilities_with_nan_are_refused_by_every_score():
    p = torch.full((20, 10), 0.1)
    p[4, 2] = float("nan")
    for call in (lambda: metrics.inception_score(p, splits=2), lambda: metrics.classifier_score(p),
                 lambda: metrics.class_coverage(p)):
        with pytest.raises(ValueError, match="NaN or infinite"):
            call()
    assert math.isfinite(metrics.classifier_score(np.full((20, 10), 0.1)))


def test_classifier_features_refuse_out_of_range_floats():
    clf = metrics.load_classifier("fashion-mnist")
    with pytest.raises(ImageRangeError, match=r"\[-1, 1\]"):
        clf((_images(4) + 1) * 127.5)
