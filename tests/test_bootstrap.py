"""Bootstrap intervals of sample metrics, and the real-vs-real baseline at the models' N."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from repro.metrics import bootstrap_interval, fd_interval
from repro.metrics.bootstrap import mean_interval
from repro.metrics.frechet import SampleSizeWarning, feature_statistics, frechet_distance_to


def test_the_interval_of_a_mean_matches_its_standard_error():
    """For the mean of N standard normal values the 95% interval is about +- 1.96 / sqrt(N)."""
    n = 400
    x = torch.randn(n, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    lo, hi = bootstrap_interval(x, lambda f: float(f.mean()), n_boot=2000, seed=0)
    half = 1.96 / math.sqrt(n)
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.15)
    assert lo < float(x.mean()) < hi


def test_a_proportion_gets_wilsons_interval_which_keeps_a_width_at_zero_and_one():
    z = 1.959964
    x = (torch.arange(400) % 4 == 0).double()  # a proportion of 1/4
    centre, half = 0.25 + z * z / 800, z * math.sqrt(0.25 * 0.75 / 400 + z * z / (4 * 400 ** 2))
    lo, hi = mean_interval(x)
    assert (lo, hi) == (pytest.approx((centre - half) / (1 + z * z / 400), abs=1e-6),
                        pytest.approx((centre + half) / (1 + z * z / 400), abs=1e-6))
    lo, hi = mean_interval(torch.ones(1000))  # every sample right: Wald's interval would be the point 1
    assert hi == pytest.approx(1.0) and lo == pytest.approx(1000 / (1000 + z * z), abs=1e-9) and lo < 0.997
    with pytest.raises(ValueError, match="at least 2 terms"):
        mean_interval(torch.ones(1))


def test_the_interval_of_a_mean_of_other_terms_is_the_bootstraps_limit():
    x = torch.linspace(0, 3, 400, dtype=torch.float64) ** 2
    lo, hi = mean_interval(x)
    b_lo, b_hi = bootstrap_interval(x[:, None], lambda f: float(f.mean()), n_boot=4000, seed=0)
    assert (hi - lo) == pytest.approx(b_hi - b_lo, rel=0.06) and lo < float(x.mean()) < hi


def test_an_fd_interval_never_goes_below_zero():
    g = torch.Generator().manual_seed(3)
    ref = torch.randn(4000, 2, generator=g, dtype=torch.float64)
    stats = feature_statistics(ref)
    same = torch.randn(30, 2, generator=g, dtype=torch.float64)  # few samples of the reference's own law
    lo, hi = fd_interval(same, stats["mu"], stats["sigma"], n_boot=200)
    raw_lo, _ = bootstrap_interval(same, lambda f: frechet_distance_to(f, stats["mu"], stats["sigma"]), n_boot=200)
    assert raw_lo < 0 and lo == 0.0 and hi > 0  # the normal interval reached below 0; the distance cannot


def test_a_wider_spread_gives_a_wider_fd_interval_and_the_estimate_lies_inside():
    g = torch.Generator().manual_seed(2)
    ref = torch.randn(5000, 4, generator=g, dtype=torch.float64)
    stats = feature_statistics(ref)
    near = torch.randn(500, 4, generator=g, dtype=torch.float64) + 0.5
    far = torch.randn(500, 4, generator=g, dtype=torch.float64) * 2 + 0.5
    lo_n, hi_n = fd_interval(near, stats["mu"], stats["sigma"], n_boot=200)
    lo_f, hi_f = fd_interval(far, stats["mu"], stats["sigma"], n_boot=200)
    assert lo_n <= frechet_distance_to(near, stats["mu"], stats["sigma"]) <= hi_n
    assert hi_f - lo_f > hi_n - lo_n and lo_f > hi_n


def test_bad_bootstrap_settings_are_refused_before_any_work():
    x = torch.randn(10, 2)
    with pytest.raises(ValueError, match="at least 2 resamples"):
        bootstrap_interval(x, lambda f: 0.0, n_boot=1)
    with pytest.raises(ValueError, match="level = 95 must be in"):
        bootstrap_interval(x, lambda f: 0.0, level=95)


@pytest.mark.parametrize("n, dim", [(50, 8), (20, 64)])  # a full-rank and a singular covariance
def test_the_fast_frechet_distance_equals_torch_fidelitys(n, dim):
    from repro.metrics.bootstrap import FrechetToFixed

    g = torch.Generator().manual_seed(n)
    stats = feature_statistics(torch.randn(400, dim, generator=g, dtype=torch.float64) * 1.5)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64) + 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleSizeWarning)  # n <= dim: singular, as it should be here
        exact = frechet_distance_to(x, stats["mu"], stats["sigma"])
    assert FrechetToFixed(stats["mu"], stats["sigma"])(x) == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("level, z", [(0.95, 1.959963984540054), (0.90, 1.6448536269514722), (0.99, 2.5758293035489)])
def test_every_interval_uses_the_normal_quantile_of_its_level(level, z):
    from repro.metrics.bootstrap import Z95, normal_quantile

    assert normal_quantile(level) == pytest.approx(z, abs=1e-12)
    assert Z95 == pytest.approx(1.959963984540054, abs=1e-12)
    with pytest.raises(ValueError, match="must be in"):
        normal_quantile(1.0)
