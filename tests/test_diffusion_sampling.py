"""Samplers and the bound on Gaussian data x0 ~ N(m, s^2 I), where the optimal model is known exactly.

With the exact eps-predictor and reverse variance (repro.diffusion.analytic), ancestral sampling is
exact: its samples must have mean m and std s up to Monte Carlo error. DDIM is a discretisation and
shrinks the std by a known amount for finitely many steps; its samples must match the closed-form
mean and std of that discretisation, which tends to (m, s) as the steps approach T.
Tolerances are 4 standard errors of the sample mean (s / sqrt(n)) and std (s / sqrt(2n)).
"""

from __future__ import annotations

import math

import pytest
import torch

from repro.diffusion import GaussianDiffusion, ancestral_sample_loop, ddim_sample_loop, get_beta_schedule
from repro.diffusion.analytic import GaussianDataDenoiser, discretized_gaussian_entropy_bits, quantize, sampler_moments
from repro.diffusion.respace import respaced_betas, space_timesteps

VARIANCE = {"learned": "learned_range", "beta": "fixed_large", "beta_tilde": "fixed_small"}

M, S, T = 0.3, 0.5, 1000
SHAPE = (8192, 4)  # 32768 independent scalars


@pytest.fixture(scope="module")
def process():
    d = GaussianDiffusion(get_beta_schedule("linear", T), variance="learned_range", loss_type="hybrid")
    return d, GaussianDataDenoiser(d, M, S)


def _check(x: torch.Tensor, mean: float, std: float) -> None:
    n = x.numel()
    assert abs(x.mean().item() - mean) < 4 * std / math.sqrt(n), (x.mean().item(), mean)
    assert abs(x.std().item() - std) < 4 * std / math.sqrt(2 * n), (x.std().item(), std)


def test_analytic_model_reverse_variance_lies_between_beta_tilde_and_beta(process):
    d, model = process
    # for s < 1 the true reverse variance beta_t v_{t-1} / v_t is inside iDDPM's interpolation range
    assert torch.all(model.frac_out[1:].abs() <= 1)


def test_ancestral_sampling_recovers_gaussian_mean_and_std(process):
    d, model = process
    x = ancestral_sample_loop(d, model, SHAPE, clip_denoised=False, generator=torch.Generator().manual_seed(1))
    mean, std = sampler_moments(d.alphas_cumprod, M, S, eta=None)
    assert mean == pytest.approx(M, abs=1e-4) and std == pytest.approx(S, rel=1e-3)  # exact up to the prior
    _check(x, M, S)


def test_learned_variance_makes_a_short_ancestral_chain_exact(process):
    """On 20 steps Sigma matters (iDDPM sec. 3.1): the true reverse variance, given through v, recovers
    s, while Ho's fixed choices beta_t and beta-tilde_t give bounds that are far too wide and narrow."""
    d, _ = process
    betas = respaced_betas(d.alphas_cumprod, space_timesteps(T, 20))
    stds = {}
    for variance in ("learned", "beta", "beta_tilde"):
        short = GaussianDiffusion(betas, variance=VARIANCE[variance],
                                  loss_type="hybrid" if variance == "learned" else "simple")
        x = ancestral_sample_loop(short, GaussianDataDenoiser(short, M, S), SHAPE, clip_denoised=False,
                                generator=torch.Generator().manual_seed(12))
        stds[variance] = x.std().item()
        if variance == "learned":
            mean, std = sampler_moments(short.alphas_cumprod, M, S, eta=None)
            assert std == pytest.approx(S, rel=1e-3)
            _check(x, mean, std)
    assert stds["beta"] > 1.05 * S and stds["beta_tilde"] < 0.9 * S


def test_ddim_eta0_50_steps_matches_its_discretisation_and_the_data(process):
    d, model = process
    x = ddim_sample_loop(d.respace(50), model, SHAPE, eta=0.0, clip_denoised=False,
                           generator=torch.Generator().manual_seed(2))
    mean, std = sampler_moments(d.respace(50).alphas_cumprod, M, S, eta=0.0)
    _check(x, mean, std)
    # the first-order discretisation loses 5.6% of the std on this schedule; the mean is kept
    assert mean == pytest.approx(M, abs=2e-3) and std == pytest.approx(S, rel=0.06)


def test_ddim_eta1_50_steps_matches_its_discretisation(process):
    d, model = process
    x = ddim_sample_loop(d.respace(50), model, SHAPE, eta=1.0, clip_denoised=False,
                           generator=torch.Generator().manual_seed(3))
    mean, std = sampler_moments(d.respace(50).alphas_cumprod, M, S, eta=1.0)
    _check(x, mean, std)
    assert mean == pytest.approx(M, abs=1e-4) and std == pytest.approx(S, rel=0.12)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_all_steps_recovers_gaussian_mean_and_std(process, eta):
    d, model = process
    x = ddim_sample_loop(d, model, SHAPE, eta=eta, clip_denoised=False,
                           generator=torch.Generator().manual_seed(4))
    mean, std = sampler_moments(d.alphas_cumprod, M, S, eta=eta)
    _check(x, mean, std)
    assert mean == pytest.approx(M, abs=2e-3) and std == pytest.approx(S, rel=0.01)


def test_ddim_eta0_is_deterministic_given_noise(process):
    d, model = process
    noise = torch.randn(64, 4, generator=torch.Generator().manual_seed(5))
    a = ddim_sample_loop(d.respace(50), model, noise.shape, noise=noise, generator=torch.Generator().manual_seed(6))
    b = ddim_sample_loop(d.respace(50), model, noise.shape, noise=noise, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    c = ddim_sample_loop(d.respace(50), model, noise.shape, eta=1.0, noise=noise,
                           generator=torch.Generator().manual_seed(6))
    assert not torch.equal(a, c)


def test_ddim_eta1_equals_ancestral_sampling_with_posterior_variance():
    """Song et al. 2021, sec. 4.1: eta = 1 is the DDPM with Sigma = beta-tilde_t, step for step."""
    d = GaussianDiffusion(get_beta_schedule("cosine", 100), variance="fixed_small", loss_type="simple")
    model = GaussianDataDenoiser(d, M, S)
    noise = torch.randn(256, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    a = ancestral_sample_loop(d, model, noise.shape, noise=noise, generator=torch.Generator().manual_seed(9))
    b = ddim_sample_loop(d, model, noise.shape, eta=1.0, noise=noise,
                           generator=torch.Generator().manual_seed(9))
    assert torch.allclose(a, b, rtol=0, atol=1e-10)


def test_nll_bpd_of_optimal_model_is_finite_and_not_below_exact_data_nll(process):
    d, model = process
    torch.manual_seed(10)
    x0 = quantize(M + S * torch.randn(1024, 4))
    nll = d.nll_bpd(model, x0, clip_denoised=False)
    entropy = discretized_gaussian_entropy_bits(M, S)  # exact NLL of the quantised data, bits/dim
    assert nll.shape == (1024,) and torch.isfinite(nll).all()
    se = nll.std().item() / math.sqrt(len(nll))
    assert nll.mean().item() > entropy + 3 * se
    assert nll.mean().item() < entropy + 0.5  # and the bound of the optimal model is close to it


def test_clipped_sampling_stays_in_data_range(process):
    d, model = process
    x = ddim_sample_loop(d.respace(10), model, (256, 4), generator=torch.Generator().manual_seed(11))
    assert x.abs().max().item() <= 1.0
