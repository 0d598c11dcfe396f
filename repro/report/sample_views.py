"""Sample views for the book: a per-class grid of an unconditional model's samples, and each sample
beside its nearest training images (:mod:`repro.metrics.memorization`).

An unconditional generator has no labels; the data set's evaluation classifier sorts its samples into
the classes it sees in them, so a reader can judge each class's quality and spot a class that is
missing or rare. The counts say how many of the samples fell in each class.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..metrics.memorization import nearest_training

__all__ = ["by_class", "with_neighbours"]


def by_class(images: torch.Tensor, probs: torch.Tensor, per_class: int = 8) -> tuple[list[torch.Tensor], list[int]]:
    """Per class k: up to ``per_class`` of the ``images`` the classifier assigns to k, most confident
    first (``probs``: N x K), and how many images it assigned to k."""
    if len(images) != len(probs):
        raise ValueError(f"{len(images)} images but {len(probs)} rows of class probabilities")
    conf, label = probs.max(dim=1)
    rows, counts = [], []
    for k in range(probs.shape[1]):
        idx = (label == k).nonzero().flatten()
        counts.append(len(idx))
        rows.append(images[idx[conf[idx].argsort(descending=True)][:per_class]])
    return rows, counts


def with_neighbours(samples: torch.Tensor, train: torch.Tensor, k: int = 3,
                    features: Callable[[torch.Tensor], torch.Tensor] | None = None) -> list[torch.Tensor]:
    """One row per sample: the sample, its ``k`` nearest training images in pixels, then (with
    ``features``) its ``k`` nearest in feature space."""
    _, pixel = nearest_training(samples, train, k=k)
    feature = nearest_training(features(samples), features(train), k=k)[1] if features is not None else None
    return [torch.cat([samples[i:i + 1], train[pixel[i]]] + ([train[feature[i]]] if feature is not None else []))
            for i in range(len(samples))]
