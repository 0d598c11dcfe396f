"""Does a generator copy its training images? Nearest neighbours in pixel and in feature space.

For each generated sample, the closest training image (Euclidean distance, in pixels and in the
penultimate features of the data set's classifier). Read alone, a small distance proves nothing: the
reference is how close *real images the model never saw* (the test split) come to the training set.
:func:`memorization_scores` reports both medians and their ratio, sample over test: a ratio near 1
means the samples sit as far from the training images as fresh real images do; a ratio far below 1,
with near-copies among the neighbours, means the model reproduces its training set. This makes the
usual figure of samples beside their nearest training images quantitative.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["nearest_training", "memorization_scores"]


def nearest_training(queries: torch.Tensor, train: torch.Tensor, k: int = 1,
                     chunk: int = 8192) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, indices), each N x k: the ``k`` training rows nearest each query row in Euclidean
    distance, nearest first. Rows are flattened (images become pixel vectors); float64 sums."""
    q = queries.reshape(len(queries), -1).double()
    t = train.reshape(len(train), -1).double()
    if q.shape[1] != t.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} values per row but training rows {t.shape[1]}")
    if not 1 <= k <= len(t):
        raise ValueError(f"k must be in 1..{len(t)}, got {k}")
    q_sq = (q * q).sum(1, keepdim=True)
    best_d, best_i = None, None
    for start in range(0, len(t), chunk):
        block = t[start:start + chunk]
        d2 = (q_sq - 2 * q @ block.T + (block * block).sum(1)).clamp_min_(0)
        d, i = d2.topk(min(k, block.shape[0]), dim=1, largest=False)
        i = i + start
        if best_d is not None:
            d, order = torch.cat([best_d, d], 1).topk(k, dim=1, largest=False)
            i = torch.cat([best_i, i], 1).gather(1, order)
        best_d, best_i = d, i
    return best_d.sqrt(), best_i


def memorization_scores(samples: torch.Tensor, test: torch.Tensor, train: torch.Tensor,
                        features: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
    """Median nearest-training-image distance of ``samples`` and of real ``test`` images (in [-1, 1]),
    in pixels and, with ``features`` (images -> N x D), in feature space, and the ratios sample / test."""
    out: dict[str, float] = {}
    spaces = [("pixel", lambda x: x)] + ([("feature", features)] if features is not None else [])
    for name, f in spaces:
        reference = f(train)
        s = nearest_training(f(samples), reference)[0][:, 0].median().item()
        r = nearest_training(f(test), reference)[0][:, 0].median().item()
        out.update({f"{name}_nn_samples": s, f"{name}_nn_test": r, f"{name}_ratio": s / r if r > 0 else float("nan")})
    return out
