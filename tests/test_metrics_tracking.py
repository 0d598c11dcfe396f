"""Per-epoch tracking: real images score near the reference, a collapsed generator does not."""

import math

import pytest
import torch

from repro.data import load_dataset, to_float
from repro.metrics import ClassifierTracker


@pytest.fixture(scope="module")
def fashion_train(real_dataset):
    return to_float(real_dataset("fashion-mnist", "train", image_size=32, subset=600, seed=1).images)


@pytest.fixture(scope="module")
def tracker(tmp_path_factory, fashion_train):
    return ClassifierTracker("fashion-mnist", n_samples=500, reference_n=2000,
                             cache_dir=tmp_path_factory.mktemp("cache"))


def real_sampler(images):
    def sample_fn(n):
        idx = torch.randint(0, len(images), (n,))
        return images[idx]
    return sample_fn


def test_real_images_score_near_the_reference_and_a_collapsed_generator_does_not(tracker, fashion_train):
    real = tracker(real_sampler(fashion_train))
    collapsed = tracker(lambda n: fashion_train[:1].expand(n, -1, -1, -1))
    assert set(real) == {"fd_classifier", "classifier_score", "classes_hit", "class_kl", "n_eval"}
    assert real["n_eval"] == 500 and real["classes_hit"] == 10 and real["class_kl"] < 0.05
    assert collapsed["classes_hit"] == 1 and collapsed["class_kl"] == pytest.approx(math.log(10))
    assert collapsed["fd_classifier"] > 10 * real["fd_classifier"]
    assert real["classifier_score"] > 5 > collapsed["classifier_score"]


def test_tracking_is_repeatable_and_leaves_the_callers_random_state_alone(tracker, fashion_train):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = tracker(real_sampler(fashion_train))
    assert torch.equal(torch.get_rng_state(), before)
    assert tracker(real_sampler(fashion_train)) == a


def test_a_generator_returning_nan_gives_nan_numbers_not_an_exception(tracker):
    with pytest.warns(RuntimeWarning, match="NaN"):
        out = tracker(lambda n: torch.full((n, 1, 32, 32), float("nan")))
    assert math.isnan(out["fd_classifier"]) and out["n_eval"] == 500


def test_the_real_floor_scores_training_images_at_the_trackers_n(tracker, fashion_train):
    floor = tracker.real_floor(image_size=32)
    assert floor["n_eval"] == 500 and floor["classes_hit"] == 10
    # the same images drawn by the tracker itself give the same numbers: the floor is a plain call
    assert floor == tracker(to_float(load_dataset("fashion-mnist", "train", image_size=32, subset=500, seed=1).images))
    assert 0 < floor["fd_classifier"] < 0.1 * tracker(lambda n: fashion_train[:1].expand(n, -1, -1, -1))["fd_classifier"]
    with pytest.raises(ValueError, match="other than the reference's 'test' split"):
        tracker.real_floor(image_size=32, split="test")
