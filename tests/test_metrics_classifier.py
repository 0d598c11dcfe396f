"""The shipped data-set classifiers: their records, their accuracy, tamper checks, class coverage."""

import json
import math
import shutil

import pytest
import torch

from repro import metrics
from repro.data import to_float
from repro.metrics.classifier import CLASSIFIER_SPECS, ClassifierWeightsError, classifier_input, load_classifier
from repro.metrics.classifier.network import weights_dir


@pytest.mark.parametrize("dataset", sorted(CLASSIFIER_SPECS))
def test_shipped_classifier_matches_its_record_and_stays_small(dataset):
    clf = load_classifier(dataset)  # checks the sha256 against the JSON record
    record = clf.record
    assert (weights_dir() / f"classifier-{dataset}.pt").stat().st_size < 2_000_000
    assert sum(p.numel() for p in clf.model.parameters()) == record["parameters"] < 500_000
    assert record["command"].startswith("python -m repro.metrics.classifier --dataset " + dataset)
    assert len(record["train_data"]["sha256"]) == len(record["test_data"]["sha256"]) == 64
    assert 0 < record["test_accuracy"] <= 1 and record["wall_time_s"] > 0


def test_fashion_mnist_classifier_reaches_ninety_percent():
    assert load_classifier("fashion-mnist").record["test_accuracy"] >= 0.90


def test_fashion_mnist_classifier_recovers_test_labels_from_padded_float_images(real_dataset):
    ds = real_dataset("fashion-mnist", "test", subset=500)
    clf = load_classifier("fashion-mnist")
    padded = to_float(torch.nn.functional.pad(ds.images, (2, 2, 2, 2)))  # how 32 x 32 generators see it
    probs, feats = clf.probs_and_features(padded)
    assert feats.shape == (500, clf.model.feature_dim)
    assert (probs.argmax(1) == ds.labels).double().mean() >= 0.88


def test_cifar10_jpeg_classifier_accuracy_matches_its_record(real_dataset):
    ds = real_dataset("cifar10-jpeg", "test", subset=500)
    clf = load_classifier("cifar10-jpeg")
    accuracy = float((clf.probs_and_features(ds.images)[0].argmax(1) == ds.labels).double().mean())
    assert accuracy == pytest.approx(clf.record["test_accuracy"], abs=0.06)  # 500 of the 10,000 test images


def test_padded_fashion_mnist_is_cropped_back_exactly():
    u = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    spec = CLASSIFIER_SPECS["fashion-mnist"]
    assert torch.equal(classifier_input(torch.nn.functional.pad(u, (2, 2, 2, 2)), spec), to_float(u))


def test_tampered_weights_are_refused(tmp_path):
    for suffix in (".pt", ".json"):
        shutil.copy(weights_dir() / f"classifier-fashion-mnist{suffix}", tmp_path)
    pt = tmp_path / "classifier-fashion-mnist.pt"
    data = bytearray(pt.read_bytes())
    data[-10] ^= 0xFF
    pt.write_bytes(bytes(data))
    with pytest.raises(ClassifierWeightsError, match="sha256"):
        load_classifier("fashion-mnist", folder=tmp_path)
    with pytest.raises(ClassifierWeightsError, match="python -m repro.metrics.classifier"):
        load_classifier("fashion-mnist", folder=tmp_path / "empty")


def test_class_coverage_of_a_single_class_is_one_class_and_log_k():
    probs = torch.zeros(100, 10, dtype=torch.float64)
    probs[:, 3] = 1
    out = metrics.class_coverage(probs)
    assert out["classes_hit"] == 1 and out["class_kl"] == pytest.approx(math.log(10))


def test_class_coverage_of_a_balanced_sample_is_all_classes_and_zero_kl():
    probs = torch.eye(10, dtype=torch.float64).repeat(20, 1)
    out = metrics.class_coverage(probs)
    assert out["classes_hit"] == 10 and out["class_kl"] == pytest.approx(0, abs=1e-12)


def test_stray_predictions_below_one_percent_do_not_count_as_a_class():
    labels = torch.tensor([0] * 995 + [1] * 5)
    out = metrics.class_coverage(torch.nn.functional.one_hot(labels, 10).double())
    assert out["classes_hit"] == 1 and out["class_counts"][1] == 5


def test_record_is_valid_json_with_the_training_command():
    record = json.loads((weights_dir() / "classifier-fashion-mnist.json").read_text())
    assert record["weights_file"] == "classifier-fashion-mnist.pt"
