"""FID: zero for a set with itself, the closed form for Gaussians, real and finite when singular."""

import numpy as np
import pytest
import scipy.linalg
import torch

from repro import metrics
from repro.metrics import SampleSizeWarning


def closed_form_diagonal(mu1, var1, mu2, var2) -> float:
    """|mu1 - mu2|^2 + sum(var1 + var2 - 2 sqrt(var1 var2)) for diagonal covariances."""
    return float(((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum())


def test_fid_of_a_set_with_itself_is_zero():
    x = torch.randn(500, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(metrics.fid_from_features(x, x)) < 1e-9


def test_frechet_distance_of_diagonal_gaussians_equals_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    var1, var2 = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    d = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert d == pytest.approx(closed_form_diagonal(mu1, var1, mu2, var2), rel=1e-10, abs=1e-10)


def test_fid_from_samples_of_diagonal_gaussians_approaches_closed_form():
    g = torch.Generator().manual_seed(1)
    mu1, mu2 = torch.zeros(8, dtype=torch.float64), torch.full((8,), 0.5, dtype=torch.float64)
    sd1, sd2 = torch.linspace(0.5, 2, 8, dtype=torch.float64), torch.ones(8, dtype=torch.float64)
    a = mu1 + sd1 * torch.randn(200_000, 8, generator=g, dtype=torch.float64)
    b = mu2 + sd2 * torch.randn(200_000, 8, generator=g, dtype=torch.float64)
    want = closed_form_diagonal(mu1.numpy(), sd1.numpy() ** 2, mu2.numpy(), sd2.numpy() ** 2)
    assert metrics.fid_from_features(a, b) == pytest.approx(want, rel=0.02)


def test_fid_with_fewer_samples_than_dimensions_warns_and_stays_real_and_finite():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(40, 64, generator=g), torch.randn(40, 64, generator=g) + 0.3
    with pytest.warns(SampleSizeWarning, match="singular"):
        d = metrics.fid_from_features(a, b)
    assert isinstance(d, float) and np.isfinite(d) and d > 0
    with pytest.warns(SampleSizeWarning):
        assert abs(metrics.fid_from_features(a, a)) < 1e-3


def test_fid_equals_torch_fidelity_and_the_sqrtm_formula_on_the_same_features():
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    g = torch.Generator().manual_seed(3)
    a = torch.randn(600, 48, generator=g)
    b = torch.randn(600, 48, generator=g) * 1.2 + 0.1
    ours = metrics.fid_from_features(a, b)
    ref = fid_statistics_to_metric(fid_features_to_statistics(a), fid_features_to_statistics(b), False)
    assert ours == ref["frechet_inception_distance"]
    # the TTUR / pytorch-fid formula with a matrix square root, in float64
    a64, b64 = a.double().numpy(), b.double().numpy()
    m1, m2 = a64.mean(0), b64.mean(0)
    s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    ttur = float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
    assert ours == pytest.approx(ttur, rel=1e-5)


def test_frechet_distance_refuses_non_finite_statistics():
    mu, sigma = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(mu, sigma, np.array([0.0, np.nan, 0.0]), sigma)
