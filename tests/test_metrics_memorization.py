"""Nearest training images: exact neighbours, and copies told from fresh samples by the test-split reference."""

from __future__ import annotations

import pytest
import torch

from repro.metrics.memorization import memorization_scores, nearest_training


def test_nearest_training_matches_brute_force_across_chunks():
    g = torch.Generator().manual_seed(0)
    train, queries = torch.randn(500, 3, 4, 4, generator=g), torch.randn(20, 3, 4, 4, generator=g)
    d, i = nearest_training(queries, train, k=3, chunk=64)   # 8 chunks
    full = torch.cdist(queries.reshape(20, -1).double(), train.reshape(500, -1).double())
    ref_d, ref_i = full.topk(3, dim=1, largest=False)
    assert torch.equal(i, ref_i) and torch.allclose(d, ref_d, atol=1e-9)


def test_copies_of_training_images_score_far_below_fresh_images():
    g = torch.Generator().manual_seed(1)
    train, test = torch.rand(400, 1, 8, 8, generator=g) * 2 - 1, torch.rand(100, 1, 8, 8, generator=g) * 2 - 1
    copies = train[:100] + 0.01 * torch.randn(100, 1, 8, 8, generator=g)
    fresh = torch.rand(100, 1, 8, 8, generator=g) * 2 - 1
    mean_pool = lambda x: x.reshape(len(x), 1, 4, 2, 4, 2).mean((3, 5)).reshape(len(x), -1)  # noqa: E731
    copied = memorization_scores(copies, test, train, features=mean_pool)
    novel = memorization_scores(fresh, test, train, features=mean_pool)
    assert copied["pixel_ratio"] < 0.05 and copied["feature_ratio"] < 0.1
    assert novel["pixel_ratio"] == pytest.approx(1.0, abs=0.1)


def test_rows_of_different_sizes_are_refused():
    with pytest.raises(ValueError, match="values per row"):
        nearest_training(torch.zeros(2, 5), torch.zeros(3, 6))
