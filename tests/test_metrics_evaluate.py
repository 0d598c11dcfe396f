"""High-level evaluation: every number comes with N, the reference and the extractors; reference
features are cached; sample functions and tensors give the same result."""

import math

import pytest
import torch

from repro import metrics
from repro.data import to_float
from repro.metrics.classifier.network import LoadedClassifier


@pytest.fixture(scope="module")
def fashion_32(real_dataset):
    return to_float(real_dataset("fashion-mnist", "train", image_size=32, subset=200, seed=2).images)


def test_evaluate_reports_every_number_with_n_reference_and_extractors(fashion_32, tmp_path):
    with pytest.warns(metrics.SampleSizeWarning):
        out = metrics.evaluate(fashion_32[:6], reference="fashion-mnist", split="test", n=6, batch_size=3,
                               reference_n=8, cache_dir=tmp_path, progress=False)
    for key in ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage", "fd_classifier",
                "classifier_score", "classes_hit", "class_kl"):
        assert math.isfinite(out[key]), key
    assert out["n"] == 6 and out["n_reference"] == 8 and out["kid_subset_size"] == 3  # half of N: subsets differ
    assert out["reference"] == "Fashion-MNIST, test split" and out["image_size"] == 32
    assert "offline" in out["extractor"] and out["resize"] == "tf1-bilinear-299"
    assert out["classifier"].startswith("classifier-fashion-mnist-")
    cached = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert any(name.startswith("fashion-mnist-test-8-s0-32px-inception-torchscript-7ff4a85c") for name in cached)
    assert any(name.startswith("fashion-mnist-test-8-s0-28px-classifier-fashion-mnist-") for name in cached)


def test_reference_features_are_read_from_the_cache_the_second_time(fashion_32, tmp_path, monkeypatch):
    seen = []
    call = LoadedClassifier.__call__
    monkeypatch.setattr(LoadedClassifier, "__call__", lambda self, x: seen.append(len(x)) or call(self, x))
    kwargs = dict(reference="fashion-mnist", split="test", metrics=("classifier",), n=200, batch_size=100,
                  reference_n=300, cache_dir=tmp_path, progress=False)
    first = metrics.evaluate(fashion_32, **kwargs)
    assert sum(seen) == 200 + 300
    second = metrics.evaluate(fashion_32, **kwargs)
    assert sum(seen) == 2 * 200 + 300 and second == first


def test_a_sample_function_and_a_tensor_give_the_same_numbers(fashion_32, tmp_path):
    kwargs = dict(reference="fashion-mnist", split="test", metrics=("classifier",), n=200, batch_size=64,
                  reference_n=300, cache_dir=tmp_path, progress=False)
    from_tensor = metrics.evaluate(fashion_32, **kwargs)
    batches = iter(fashion_32.split(64))
    assert metrics.evaluate(lambda b: next(batches), **kwargs) == from_tensor


def test_inception_score_offline_is_refused_with_the_alternative():
    with pytest.raises(ValueError, match="online.*classifier"):
        metrics.evaluate(torch.zeros(4, 3, 32, 32), metrics=("inception_score",), n=4)


def test_bootstrap_intervals_come_with_the_numbers_and_real_images_set_the_floor(fashion_32, tmp_path):
    kwargs = dict(reference="fashion-mnist", split="test", metrics=("classifier",), n=200, batch_size=100,
                  reference_n=300, cache_dir=tmp_path, progress=False)
    out = metrics.evaluate(fashion_32, bootstrap=50, **kwargs)
    lo, hi = out["fd_classifier_interval"]
    assert lo <= out["fd_classifier"] <= hi and out["bootstrap"]["resamples"] == 50
    assert out == {**metrics.evaluate(fashion_32, **kwargs), "fd_classifier_interval": [lo, hi],
                   "bootstrap": out["bootstrap"]}  # the point numbers do not change
    # 200 real training images against the test split, at the models' 32 x 32, and a shifted copy of them
    real = metrics.real_baseline("fashion-mnist", 200, split="test", other_split="train", image_size=32,
                                 **{k: v for k, v in kwargs.items() if k not in ("reference", "split", "n")})
    assert real["real_split"] == "train" and real["n"] == 200
    worse = metrics.evaluate((fashion_32 * 0.5).clamp(-1, 1), **kwargs)
    assert real["fd_classifier"] < worse["fd_classifier"]


def test_an_evaluation_reads_as_named_rows_in_a_fixed_order_with_significant_figures():
    from repro.report.evaluation import evaluation_rows

    rows = evaluation_rows({"recall": 0.47123, "fid": 50.7712, "n": 1000, "reference": "x", "kid_mean": 0.0194514})
    assert rows == [{"metric": "FID (Inception pool3)", "value": "50.8"},
                    {"metric": "KID, mean over subsets", "value": "0.0195"},
                    {"metric": "recall (k-NN manifold, Inception)", "value": "0.471"}]


def test_a_kid_from_one_subset_of_all_samples_shows_no_spread():
    """A record whose KID subset was all N samples (one subset) has a 'standard deviation' of float
    round-off (1.8e-7 in a review); the table drops it and says why."""
    from repro.report.evaluation import evaluation_rows

    one = {"n": 1000, "kid_mean": 0.0194514, "kid_std": 1.8e-7, "kid_subset_size": 1000}
    assert evaluation_rows(one) == [{"metric": "KID, one subset of all 1,000 samples (no spread to report)",
                                     "value": "0.0195"}]
    many = {**one, "kid_std": 0.002, "kid_subset_size": 500}
    assert [r["metric"] for r in evaluation_rows(many)] == ["KID, mean over subsets",
                                                            "KID, standard deviation over subsets"]


def test_captions_name_the_interval_and_the_tracked_features_as_they_are():
    """A study run without bootstrap resamples says it has no interval (not "0 resamples"); the tracked
    feature space is named from the shipped classifier's record, per data set."""
    from repro.report.evaluation import interval_words, tracked_features

    assert interval_words(30) == "a 95% bootstrap interval (30 resamples)"
    assert interval_words(0) == "no interval (no bootstrap resamples)"
    assert tracked_features("cifar10-jpeg").startswith("CIFAR-10 (JPEG q75) classifier (penultimate layer, ")
    assert tracked_features("fashion-mnist").startswith("Fashion-MNIST classifier (penultimate layer, ")
    assert tracked_features("fashion-mnist").endswith("% test accuracy), not Inception")
