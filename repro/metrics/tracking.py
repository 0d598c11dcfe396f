"""Cheap per-epoch numbers for the trainers, in the data-set classifier's space.

A trainer takes ``evaluate: Callable[[sample_fn], dict[str, float]]`` and calls it after an epoch with
``sample_fn(n) -> n images in [-1, 1]``. :class:`ClassifierTracker` is such a callable. It costs one
classifier pass over ``n_samples`` images (about a second per thousand on a CPU) on top of the
sampling, and draws the samples on its own fixed random stream, so successive epochs are compared on
the same latent noise and the training run's random state is not touched.

These numbers track training; the report's FID/KID come from :func:`repro.metrics.evaluate`.
"""

from __future__ import annotations

import math
import os
import warnings

import torch

from .classifier import LoadedClassifier, class_coverage, classifier_score, load_classifier
from .frechet import frechet_distance_to
from .reference import reference_features
from .collapse import mode_set
from .modes import mode_coverage
from .sampling import NonFiniteSamplesError, PrivateStream, SampleSource, sample_batches

__all__ = ["ClassifierTracker", "ModeCoverageTracker", "classifier_metrics", "CLASSIFIER_FOR"]

# which shipped classifier serves which data set (the JPEG-trained one stands in for original CIFAR-10)
CLASSIFIER_FOR = {"fashion-mnist": "fashion-mnist", "cifar10-jpeg": "cifar10-jpeg", "cifar10": "cifar10-jpeg"}


def classifier_metrics(probs: torch.Tensor, feats: torch.Tensor, reference: dict) -> dict:
    """Classifier score, class coverage and Frechet distance to ``reference`` (a :func:`reference_features`
    entry of the classifier) for the probabilities and features of the generated samples."""
    cov = class_coverage(probs)
    return {
        "fd_classifier": frechet_distance_to(feats, reference["mu"], reference["sigma"], "classifier features"),
        "classifier_score": classifier_score(probs),
        "classes_hit": cov["classes_hit"],
        "class_kl": cov["class_kl"],
    }


class ClassifierTracker:
    """Per-epoch tracking callable: ``tracker(sample_fn) -> dict``.

    Keys of the result:

    - ``fd_classifier``: Frechet distance between the classifier's penultimate features of the samples and
      of the reference split (lower is better; 0 for a perfect match up to sampling noise). Not FID.
    - ``classifier_score``: the Inception Score formula with our classifier (higher is better, at most
      the number of classes). Not IS.
    - ``classes_hit``: classes receiving at least 1% of the samples (10 = all classes present).
    - ``class_kl``: KL of the class histogram from uniform, nats (0 = balanced, log 10 = 2.30 = one class).
    - ``n_eval``: number of samples behind the numbers.

    The reference is ``reference_split`` of the data set (all of it, or ``reference_n`` images chosen
    with seed 0); its features are cached on disk (see :mod:`repro.metrics.reference`).

    A generator returning NaN or infinite pixels gives NaN for every number (and a warning) rather than
    stopping the training run.
    """

    def __init__(self, dataset_name: str, n_samples: int = 1000, reference_split: str = "test",
                 device: torch.device | str = "cpu", batch_size: int = 500, seed: int = 0,
                 reference_n: int | None = None, data_root: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None) -> None:
        if dataset_name not in CLASSIFIER_FOR:
            raise ValueError(f"no classifier for {dataset_name!r}; choose one of {', '.join(CLASSIFIER_FOR)}")
        self.dataset, self.split = dataset_name, reference_split
        self.n_samples, self.batch_size, self.seed = n_samples, batch_size, seed
        self.device, self.reference_n = torch.device(device), reference_n
        self.data_root, self.cache_dir = data_root, cache_dir
        self.classifier: LoadedClassifier = load_classifier(CLASSIFIER_FOR[dataset_name], self.device)
        self._reference: dict | None = None

    @property
    def reference(self) -> dict:
        if self._reference is None:
            self._reference = reference_features(self.dataset, self.split, self.classifier, n=self.reference_n,
                                                 root=self.data_root, cache_dir=self.cache_dir, progress=False,
                                                 stats_of="features")
        return self._reference

    def __call__(self, sample_fn: SampleSource) -> dict[str, float]:
        probs, feats = [], []
        try:
            for x in sample_batches(sample_fn, self.n_samples, self.batch_size, self.seed, self.device,
                                    progress=False):
                p, f = self.classifier.probs_and_features(x)
                probs.append(p)
                feats.append(f)
        except NonFiniteSamplesError as e:
            warnings.warn(f"classifier tracking skipped: {e}", RuntimeWarning, stacklevel=2)
            nan = math.nan
            return {"fd_classifier": nan, "classifier_score": nan, "classes_hit": nan, "class_kl": nan,
                    "n_eval": self.n_samples}
        out = classifier_metrics(torch.cat(probs), torch.cat(feats), self.reference)
        return {**out, "n_eval": self.n_samples}

    def real_floor(self, image_size: int, split: str = "train") -> dict[str, float]:
        """The numbers ``n_samples`` real images of ``split`` (served at ``image_size``, as a model's
        samples are) get against the reference split: what a perfect generator scores at this N, the
        floor a model's ``fd_classifier`` is read against (it is not 0 at finite N)."""
        from ..data import load_dataset, to_float

        if split == self.split:
            raise ValueError(f"the floor needs real images other than the reference's {split!r} split; use 'train'")
        data = load_dataset(self.dataset, split, image_size=image_size, subset=self.n_samples, seed=1,
                            root=self.data_root)
        return self(to_float(data.images))


class ModeCoverageTracker:
    """Per-epoch tracking callable for the 2D mixtures: ``tracker(sample_fn) -> dict``.

    Draws ``n_samples`` points (PacGAN: 2,500) on a private random stream seeded by ``seed`` and returns
    :func:`repro.metrics.modes.mode_coverage`'s ``modes_hit`` (>= 20 of 2,500), ``modes_hit_any`` (>= 1),
    ``high_quality_fraction`` and
    ``kl_to_uniform`` against the mixture's ``centers`` and ``std``, and ``mode_set`` (which modes were
    hit, :func:`repro.metrics.collapse.mode_set`), so that the collapse rule can see a model hop between
    modes.
    """

    def __init__(self, centers: torch.Tensor, std: float, n_samples: int = 2500, seed: int = 0,
                 device: torch.device | str = "cpu") -> None:
        if n_samples <= 0:
            raise ValueError(f"n_samples must be positive, got {n_samples}")
        self.centers, self.std, self.n_samples = torch.as_tensor(centers), float(std), n_samples
        self.seed, self.device = seed, torch.device(device)

    @classmethod
    def for_dataset(cls, dataset, **kwargs) -> "ModeCoverageTracker":
        """The tracker of a :class:`repro.data.MixtureDataset`'s mixture."""
        return cls(dataset.centers, dataset.std, **kwargs)

    def __call__(self, sample_fn) -> dict[str, float]:
        points = PrivateStream(self.seed, self.device).call(sample_fn, self.n_samples)
        cov = mode_coverage(points.cpu(), self.centers, self.std)
        return {**{k: cov[k] for k in ("modes_hit", "modes_hit_any", "high_quality_fraction", "kl_to_uniform")},
                "mode_set": mode_set(cov["counts"], cov["min_count"])}
