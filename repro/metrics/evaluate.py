"""One call from a generator (or a tensor of samples) to every reported number.

:func:`evaluate` draws N samples in batches (progress bar), passes each batch through the Inception
network (pool3, and the logits when the Inception Score is asked for) and the data set's classifier,
then compares with the reference split's features, which are cached on disk (:mod:`.reference`).
Every result carries N, the reference (data set label and split) and the extractors' names.

Metric names: ``fid``, ``kid``, ``precision_recall`` (k = 3), ``density_coverage`` (k = 5),
``inception_score`` (online Inception only: it needs the 1008 logits), ``classifier`` (classifier
score, class coverage and Frechet distance in the classifier's feature space).
"""

from __future__ import annotations

import os
from typing import Sequence

import torch

from ..data import IMAGE_DATASETS, at_image_size, load_dataset
from .bootstrap import fd_interval
from .classifier import load_classifier
from .frechet import frechet_distance_to
from .inception import RESIZE, inception_extractor
from .inception_score import inception_score
from .kid import kid_from_features
from .prdc import density_coverage, precision_recall
from .reference import reference_features
from .sampling import SampleSource, check_source, sample_batches
from .tracking import CLASSIFIER_FOR, classifier_metrics

__all__ = ["evaluate", "real_baseline", "METRICS", "DEFAULT_METRICS"]

METRICS = ("fid", "kid", "precision_recall", "density_coverage", "inception_score", "classifier")
DEFAULT_METRICS = ("fid", "kid", "precision_recall", "density_coverage", "classifier")
PR_K, DC_K = 3, 5  # k of the k-NN balls: Kynkaanniemi et al. 2019 (k = 3), Naeem et al. 2020 (k = 5)
KID_SUBSET = 1000  # samples per KID subset, torch-fidelity's default; at most half of N here


def _check_sizes(metrics: Sequence[str], n: int, reference_n: int | None, is_splits: int) -> None:
    """Refuse sample counts a metric cannot use, before any sample is drawn or network loaded."""
    need: dict[str, tuple[int, int, str]] = {}  # metric -> (min generated, min reference, why)
    for m in ("fid", "classifier"):
        need[m] = (2, 2, "a covariance needs at least 2 samples")
    need["kid"] = (2, 2, "KID needs at least 2 samples per set")
    need["precision_recall"] = (PR_K + 1, PR_K + 1, f"k-NN balls with k = {PR_K} need more than {PR_K} samples")
    need["density_coverage"] = (1, DC_K + 1, f"k-NN balls around the reals with k = {DC_K} need more than {DC_K}")
    need["inception_score"] = (is_splits, 0, f"{is_splits} splits need at least {is_splits} samples")
    for m in metrics:
        gen, ref, why = need[m]
        if n < gen:
            raise ValueError(f"metric {m!r} with n = {n} generated samples: {why}; raise n")
        if reference_n is not None and reference_n < ref:
            raise ValueError(f"metric {m!r} with reference_n = {reference_n}: {why}; raise reference_n")


def evaluate(samples: SampleSource, reference: str = "cifar10-jpeg", split: str = "train",
             metrics: Sequence[str] = DEFAULT_METRICS, n: int = 10_000, batch_size: int = 100,
             device: torch.device | str = "cpu", cache_dir: str | os.PathLike | None = None,
             data_root: str | os.PathLike | None = None, reference_n: int | None = None,
             extractor: str = "offline", seed: int = 0, progress: bool = True, kid_subsets: int = 100,
             kid_subset_size: int | None = None, is_splits: int = 10, bootstrap: int = 0) -> dict:
    """Evaluate ``n`` samples against ``reference``/``split`` on the requested ``metrics``.

    Args:
        samples: ``sample_fn(n) -> n x C x H x W`` in [-1, 1] (any device), or a tensor or numpy array
            of images (float in [-1, 1] or uint8); a function runs on a private random stream seeded by
            ``seed``. Floats outside [-1, 1], or with no value below 0 (images in [0, 1]), are refused.
        reference: data set name (``cifar10-jpeg``, ``cifar10``, ``fashion-mnist``).
        split: reference split; its images are served at the samples' size (Fashion-MNIST at 32 is
            padded, see :mod:`repro.data`), so both go through the same resize to 299.
        reference_n: reference images (all of the split when ``None``; a subset is chosen with seed 0).
        extractor: ``"offline"`` (TorchScript, no logits) or ``"online"`` (torch-fidelity's download).
        cache_dir: reference feature cache (default ``<data root>/cache``, or ``~/.cache/repro``).
        kid_subset_size: samples per KID subset; ``None``: torch-fidelity's 1,000, but at most half of
            each set, so that the ``kid_subsets`` subsets differ and ``kid_std`` measures something
            (subsets as large as N are all the same set: a spread of ~0).
        bootstrap: resamples of the generated features for 95% normal bootstrap intervals of ``fid`` and
            ``fd_classifier`` (``fid_interval``, ``fd_classifier_interval``; :mod:`.bootstrap`); 0: none.

    Returns a dict with the numbers (``fid``, ``kid_mean``, ``kid_std``, ``precision``, ``recall``,
    ``density``, ``coverage``, ``inception_score_mean``, ``inception_score_std``, ``fd_classifier``,
    ``classifier_score``, ``classes_hit``, ``class_kl``, as requested) and ``n``, ``n_reference``,
    ``reference`` (e.g. "CIFAR-10 (JPEG q75), train split"), ``reference_sha256``, ``image_size``,
    ``extractor``, ``resize`` and, with the classifier, ``classifier``.
    """
    metrics = tuple(metrics)
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {', '.join(METRICS)}")
    if "inception_score" in metrics and extractor != "online":
        raise ValueError("the Inception Score needs the 1008-class logits of torch-fidelity's online Inception "
                         "(extractor='online'); offline, use the 'classifier' metrics (classifier score)")
    if reference not in IMAGE_DATASETS:
        raise ValueError(f"unknown reference data set {reference!r}; choose one of {', '.join(IMAGE_DATASETS)}")
    if reference_n is not None and reference_n <= 0:
        raise ValueError(f"reference_n must be a positive number of images (or None for all), got {reference_n}")
    # every check that needs no network comes first: the samples' dtype, range and count, then k vs N
    samples = check_source(samples, n, batch_size, unit_interval_check=True)
    _check_sizes(metrics, n, reference_n, is_splits)
    # loaded once at its own size, before the samples: the classifier takes it so, Inception at the samples' size
    data = load_dataset(reference, split, root=data_root, subset=reference_n)
    if isinstance(samples, torch.Tensor) and samples.shape[1] != data.images.shape[1]:
        raise ValueError(f"samples have {samples.shape[1]} channels but {data.label} images have "
                         f"{data.images.shape[1]} (expected N x {data.images.shape[1]} x H x W)")
    use_inception = bool(set(metrics) - {"classifier"})
    inception = inception_extractor(extractor, device) if use_inception else None
    classifier = None
    if "classifier" in metrics:
        if reference not in CLASSIFIER_FOR:
            raise ValueError(f"no classifier for {reference!r}; drop 'classifier' from metrics")
        classifier = load_classifier(CLASSIFIER_FOR[reference], device)

    gen: dict[str, list[torch.Tensor]] = {}
    image_size = None
    for x in sample_batches(samples, n, batch_size, seed, device, progress, desc="generated samples",
                            unit_interval_check=True):
        image_size = x.shape[-1]
        feats = dict(inception(x)) if inception else {}
        if classifier is not None:
            feats.update({f"classifier_{k}": v for k, v in classifier(x).items()})
        for k, v in feats.items():
            gen.setdefault(k, []).append(v)
    g = {k: torch.cat(v) for k, v in gen.items()}

    out: dict = {"n": n, "reference_split": split, "image_size": image_size, "seed": seed}
    if inception is not None:
        ref = reference_features(reference, split, inception, image_size=image_size, n=reference_n,
                                 root=data_root, cache_dir=cache_dir, progress=progress,
                                 ds=at_image_size(data, image_size))
        out.update(reference=f"{ref['data']['label']}, {split} split", n_reference=ref["data"]["n"],
                   reference_sha256=ref["data"]["sha256"], extractor=inception.name, resize=RESIZE)
        out.update(_inception_numbers(metrics, g, ref, seed, kid_subsets, kid_subset_size, is_splits))
        if bootstrap and "fid" in metrics:
            out["fid_interval"] = list(fd_interval(g["2048"], ref["mu"], ref["sigma"], bootstrap, seed=seed,
                                                   what="Inception features"))
    if classifier is not None:
        cref = reference_features(reference, split, classifier, n=reference_n, root=data_root,
                                  cache_dir=cache_dir, progress=progress, stats_of="features", ds=data)
        out.update(classifier_metrics(g["classifier_probs"], g["classifier_features"], cref))
        if bootstrap:
            out["fd_classifier_interval"] = list(fd_interval(g["classifier_features"], cref["mu"], cref["sigma"],
                                                             bootstrap, seed=seed, what="classifier features"))
        out.update(classifier=classifier.name, classifier_test_accuracy=classifier.record["test_accuracy"])
        out.setdefault("reference", f"{cref['data']['label']}, {split} split")
        out.setdefault("n_reference", cref["data"]["n"])
        out.setdefault("reference_sha256", cref["data"]["sha256"])
    if bootstrap:
        out["bootstrap"] = {"resamples": bootstrap, "level": 0.95, "interval": "estimate +- 1.96 bootstrap sd",
                            "resampled": "the generated samples' features; the reference statistics fixed"}
    return out


def real_baseline(reference: str, n: int, split: str = "train", other_split: str = "test",
                  image_size: int | None = None, **kwargs) -> dict:
    """The numbers :func:`evaluate` gives ``n`` real images of ``other_split`` (at ``image_size``, the size
    the models generate) against ``split``: what a perfect generator would score at this N (FID and FD
    are biased upwards at finite N, so a model's number is read against this one, at the same N)."""
    images = load_dataset(reference, other_split, image_size=image_size, subset=n,
                          seed=kwargs.get("seed", 0)).images
    if images.shape[0] < n:
        raise ValueError(f"the {other_split} split of {reference} has {images.shape[0]} images; ask for n <= that")
    return {**evaluate(images, reference=reference, split=split, n=n, **kwargs), "real_split": other_split}


def _inception_numbers(metrics: Sequence[str], g: dict, ref: dict, seed: int, kid_subsets: int,
                       kid_subset_size: int | None, is_splits: int) -> dict:
    """The Inception-feature metrics of generated features ``g`` against a reference entry ``ref``."""
    real, fake = ref["features"]["2048"], g["2048"]
    out: dict = {}
    if "fid" in metrics:
        out["fid"] = frechet_distance_to(fake, ref["mu"], ref["sigma"], "Inception features")
    if "kid" in metrics:
        if kid_subset_size is None:
            kid_subset_size = max(2, min(KID_SUBSET, fake.shape[0] // 2, real.shape[0] // 2))
        out["kid_mean"], out["kid_std"] = kid_from_features(fake, real, kid_subsets, kid_subset_size, seed)
        out["kid_subset_size"] = min(kid_subset_size, fake.shape[0], real.shape[0])
    if "precision_recall" in metrics:
        out["precision"], out["recall"] = precision_recall(real, fake, k=PR_K)
    if "density_coverage" in metrics:
        out["density"], out["coverage"] = density_coverage(real, fake, k=DC_K)
    if "inception_score" in metrics:
        out["inception_score_mean"], out["inception_score_std"] = inception_score(
            g["logits_unbiased"].double().softmax(dim=1), splits=is_splits)
    return out
