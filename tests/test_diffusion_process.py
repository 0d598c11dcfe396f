"""The forward process, its posterior, the bound's terms, respacing and the losses, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from repro.diffusion import GaussianDiffusion, ddim_sample_loop, get_beta_schedule, space_timesteps
from repro.diffusion.losses import discretized_gaussian_log_likelihood, normal_kl
from repro.diffusion.timestep_sampler import LossSecondMomentResampler


def test_linear_schedule_is_ho_1e4_to_002_scaled_to_T():
    b = get_beta_schedule("linear", 1000)
    assert b.dtype == torch.float64 and len(b) == 1000
    assert b[0].item() == pytest.approx(1e-4, rel=1e-12) and b[-1].item() == pytest.approx(0.02, rel=1e-12)
    b4k = get_beta_schedule("linear", 4000)
    assert b4k[0].item() == pytest.approx(2.5e-5) and b4k[-1].item() == pytest.approx(0.005)
    assert torch.all(torch.diff(b) > 0)


def test_cosine_schedule_follows_iddpm_eq17():
    T, s = 1000, 0.008
    b = get_beta_schedule("cosine", T)
    assert b.dtype == torch.float64 and b.max().item() <= 0.999
    f = lambda u: math.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    abar = torch.cumprod(1 - b, 0)
    for t in (0, 10, 500, 900):  # steps before the 0.999 clip
        assert abar[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-10)


def test_unknown_schedule_or_degenerate_linear_schedule_is_rejected():
    with pytest.raises(ValueError, match="cosine"):
        get_beta_schedule("quadratic", 10)
    with pytest.raises(ValueError, match="beta >= 1"):
        get_beta_schedule("linear", 20)


def test_forward_chain_of_one_step_kernels_gives_q_sample_marginal():
    """Iterating q(x_t | x_{t-1}) (Ho eq. 2) composes to q(x_t | x0) (eq. 4): mean and variance recursions."""
    d = GaussianDiffusion(get_beta_schedule("cosine", 200), variance="fixed_large", loss_type="simple")
    mean_coef, var = 1.0, 0.0
    for t, beta in enumerate(d.betas.tolist()):
        mean_coef, var = math.sqrt(1 - beta) * mean_coef, (1 - beta) * var + beta
        assert mean_coef == pytest.approx(d.sqrt_alphas_cumprod[t].item(), rel=1e-12)
        assert var == pytest.approx(1 - d.alphas_cumprod[t].item(), rel=1e-10, abs=1e-15)


def test_q_sample_marginal_matches_closed_form():
    d = GaussianDiffusion(get_beta_schedule("linear", 1000), variance="fixed_large", loss_type="simple")
    g = torch.Generator().manual_seed(0)
    x0 = torch.linspace(-1, 1, 5).repeat(40000, 1)
    for step in (0, 100, 999):
        t = torch.full((x0.shape[0],), step, dtype=torch.long)
        xt = d.q_sample(x0, t, noise=torch.randn(x0.shape, generator=g))
        abar = d.alphas_cumprod[step].item()
        se = math.sqrt((1 - abar) / x0.shape[0])
        assert torch.allclose(xt.mean(0), math.sqrt(abar) * x0[0], atol=5 * se)
        assert torch.allclose(xt.var(0), torch.full((5,), 1 - abar), rtol=0.03, atol=1e-6)
        mean, var, log_var = d.q_mean_variance(x0[:1], t[:1])
        assert torch.allclose(mean, math.sqrt(abar) * x0[:1], rtol=1e-6)
        assert torch.allclose(var, torch.tensor(1 - abar).float(), rtol=1e-6)


def test_posterior_mean_and_variance_equal_bayes_rule():
    """q(x_{t-1} | x_t, x0) ∝ q(x_t | x_{t-1}) q(x_{t-1} | x0): precision and mean of the product of Gaussians."""
    d = GaussianDiffusion(get_beta_schedule("linear", 100), variance="fixed_large", loss_type="simple")
    x0 = torch.tensor([[-0.7, 0.2, 0.9]], dtype=torch.float64)
    xt = torch.tensor([[0.3, -1.1, 0.5]], dtype=torch.float64)
    for step in (1, 2, 50, 99):
        t = torch.tensor([step])
        alpha, abar_prev = 1 - d.betas[step].item(), d.alphas_cumprod[step - 1].item()
        precision = alpha / d.betas[step].item() + 1 / (1 - abar_prev)
        mean = (math.sqrt(alpha) * xt / d.betas[step].item() + math.sqrt(abar_prev) * x0 / (1 - abar_prev)) / precision
        m, v, log_v = d.q_posterior_mean_variance(x0, xt, t)
        assert torch.allclose(m, mean, rtol=1e-10)
        assert torch.allclose(v, torch.full_like(v, 1 / precision), rtol=1e-10)
        assert torch.allclose(log_v, torch.log(v), rtol=1e-10)
    m, v, _ = d.q_posterior_mean_variance(x0, xt, torch.tensor([0]))  # x_{-1} is x0 itself
    assert torch.allclose(m, x0) and torch.all(v == 0)


@pytest.mark.parametrize("m1,lv1,m2,lv2", [(0.0, 0.0, 0.0, 0.0), (0.3, -1.0, -0.2, 0.5), (1.0, -4.0, 0.0, -3.0)])
def test_normal_kl_matches_numerical_integral(m1, lv1, m2, lv2):
    p, q = stats.norm(m1, math.exp(lv1 / 2)), stats.norm(m2, math.exp(lv2 / 2))
    brute, _ = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -np.inf, np.inf, epsabs=1e-12)
    kl = normal_kl(torch.tensor(m1, dtype=torch.float64), torch.tensor(lv1, dtype=torch.float64),
                   torch.tensor(m2, dtype=torch.float64), torch.tensor(lv2, dtype=torch.float64))
    assert kl.item() == pytest.approx(brute, rel=1e-7, abs=1e-10)


def test_discretized_decoder_likelihood_matches_bin_integrals():
    grid = torch.arange(256, dtype=torch.float64) / 127.5 - 1
    x = grid[[0, 1, 100, 128, 200, 254, 255]]
    means = torch.tensor([-0.99, 0.3, -0.2, 0.0, 0.6, 0.95, 0.5], dtype=torch.float64)
    log_scales = torch.log(torch.tensor([0.01, 0.2, 0.05, 0.003, 0.5, 0.02, 0.1], dtype=torch.float64))
    ll = discretized_gaussian_log_likelihood(x, means, log_scales)
    for i in range(len(x)):
        dist = stats.norm(means[i].item(), math.exp(log_scales[i].item()))
        lo = -np.inf if i == 0 else x[i].item() - 1 / 255
        hi = np.inf if x[i] == 1 else x[i].item() + 1 / 255
        brute = dist.cdf(hi) - dist.cdf(lo) if i in (0, len(x) - 1) else integrate.quad(dist.pdf, lo, hi)[0]
        assert ll[i].item() == pytest.approx(math.log(brute), rel=1e-6, abs=1e-9)


def test_discretized_decoder_probabilities_sum_to_one_over_the_256_bins():
    grid = torch.arange(256, dtype=torch.float64) / 127.5 - 1
    for mean, scale in ((0.1, 0.3), (-0.97, 0.01), (0.5, 2.0)):
        ll = discretized_gaussian_log_likelihood(grid, torch.full_like(grid, mean),
                                                 torch.full_like(grid, math.log(scale)))
        assert ll.exp().sum().item() == pytest.approx(1.0, abs=1e-9)


def test_space_timesteps_variants():
    assert space_timesteps(1000, 5) == [0, 250, 500, 749, 999]
    assert space_timesteps(1000, "ddim4") == [0, 250, 500, 750]
    assert space_timesteps(10, [7, 3, 0]) == [0, 3, 7]
    with pytest.raises(ValueError):
        space_timesteps(10, 11)
    with pytest.raises(ValueError):
        space_timesteps(10, [3, 3])


def test_respaced_diffusion_keeps_alphas_cumprod_at_kept_steps():
    d = GaussianDiffusion(get_beta_schedule("cosine", 1000), variance="learned_range", loss_type="hybrid")
    for steps in (50, "ddim25", [0, 5, 17, 998]):
        r = d.respace(steps)
        kept = space_timesteps(1000, steps)
        assert r.num_timesteps == len(kept)
        assert torch.equal(r.timestep_map, torch.tensor(kept))
        assert torch.equal(r.alphas_cumprod, d.alphas_cumprod[kept])
        # and the new betas reproduce them: prod(1 - beta_k) up to float64 round-off
        rel = (torch.cumprod(1 - r.betas, 0) / d.alphas_cumprod[kept] - 1).abs().max().item()
        assert rel < 1e-10
    twice = d.respace(100).respace(10)  # respacing composes: the map points into the original steps
    assert torch.equal(twice.timestep_map, d.respace(100).timestep_map[space_timesteps(100, 10)])


def test_respaced_diffusion_hands_model_original_timesteps():
    d = GaussianDiffusion(get_beta_schedule("linear", 1000), variance="fixed_large", loss_type="simple")
    seen = []

    def model(x, t):
        seen.extend(t.tolist())
        return torch.zeros_like(x)

    ddim_sample_loop(d.respace(4), model, (1, 2), noise=torch.zeros(1, 2))
    assert seen == [999, 666, 333, 0]


def _fake_model(out):
    return lambda x, t: out


def test_learned_variance_interpolates_log_beta_and_log_beta_tilde():
    d = GaussianDiffusion(get_beta_schedule("linear", 100), variance="learned_range", loss_type="hybrid")
    x, t = torch.zeros(3, 1, dtype=torch.float64), torch.tensor([5, 5, 5])
    v = torch.tensor([[1.0], [-1.0], [0.0]], dtype=torch.float64)
    p = d.p_mean_variance(_fake_model(torch.cat([torch.zeros_like(v), v], 1)), x, t)
    lb, lbt = math.log(d.betas[5].item()), d.posterior_log_variance_clipped[5].item()
    assert p["log_variance"][:, 0].tolist() == pytest.approx([lb, lbt, (lb + lbt) / 2], rel=1e-12)


def test_fixed_large_and_fixed_small_variances_are_beta_and_beta_tilde():
    x, t = torch.zeros(1, 1, dtype=torch.float64), torch.tensor([7])
    for choice, expected in (("fixed_large", "betas"), ("fixed_small", "posterior_variance")):
        d = GaussianDiffusion(get_beta_schedule("linear", 100), variance=choice, loss_type="simple")
        p = d.p_mean_variance(_fake_model(torch.zeros_like(x)), x, t)
        assert p["variance"].item() == pytest.approx(getattr(d, expected)[7].item(), rel=1e-12)


def test_hybrid_loss_equals_its_formula_and_vb_gradient_does_not_reach_eps():
    torch.manual_seed(0)
    d = GaussianDiffusion(get_beta_schedule("cosine", 50), variance="learned_range", loss_type="hybrid", vlb_weight=1e-3)
    x0 = torch.randint(0, 256, (4, 3, 4, 4)).float() / 127.5 - 1
    t = torch.tensor([0, 1, 20, 49])
    noise = torch.randn_like(x0)
    out = (0.3 * torch.randn(4, 6, 4, 4)).requires_grad_()
    terms = d.training_losses(_fake_model(out), x0, t, noise)
    eps = out[:, :3]
    assert torch.allclose(terms["mse"], ((noise - eps) ** 2).mean(dim=(1, 2, 3)))
    assert torch.allclose(terms["loss"], terms["mse"] + 1e-3 * 50 * terms["vb"])
    xt = d.q_sample(x0, t, noise)
    assert torch.allclose(terms["vb"], d.vb_terms_bpd(out, x0, xt, t))
    (grad,) = torch.autograd.grad(terms["vb"].sum(), out)
    assert torch.all(grad[:, :3] == 0)          # the stop-gradient on the mean
    assert torch.all(grad[:, 3:].abs().sum(dim=(1, 2, 3)) > 0)  # every example trains its variance


def test_vlb_loss_trains_the_mean_and_simple_loss_is_the_mse():
    torch.manual_seed(0)
    x0, t = torch.rand(2, 1, 2, 2) * 2 - 1, torch.tensor([3, 8])
    d = GaussianDiffusion(get_beta_schedule("cosine", 10), variance="learned_range", loss_type="vlb")
    out = torch.randn(2, 2, 2, 2).requires_grad_()
    terms = d.training_losses(_fake_model(out), x0, t)
    assert torch.allclose(terms["loss"], 10 * terms["vb"])
    (grad,) = torch.autograd.grad(terms["loss"].sum(), out)
    assert grad[:, :1].abs().sum() > 0
    s = GaussianDiffusion(get_beta_schedule("cosine", 10), variance="fixed_large", loss_type="simple")
    terms = s.training_losses(_fake_model(out[:, :1]), x0, t)
    assert torch.equal(terms["loss"], terms["mse"]) and not terms["vb"].requires_grad


def test_invalid_variance_and_loss_combinations_are_rejected():
    b = get_beta_schedule("cosine", 10)
    with pytest.raises(ValueError, match="hybrid"):
        GaussianDiffusion(b, variance="learned_range", loss_type="simple")
    with pytest.raises(ValueError, match="variance='learned_range'"):
        GaussianDiffusion(b, variance="fixed_large", loss_type="hybrid")
    with pytest.raises(ValueError, match="loss_type"):
        GaussianDiffusion(b, variance="learned_range", loss_type="mse")
    d = GaussianDiffusion(b, variance="learned_range", loss_type="hybrid")
    with pytest.raises(ValueError, match="expected 2 channels"):
        d.p_mean_variance(lambda x, t: x, torch.zeros(1, 1, 2, 2), torch.tensor([0]))


def test_importance_sampler_weights_are_inverse_probabilities_after_warmup():
    torch.manual_seed(0)
    s = LossSecondMomentResampler(4, history=2)
    t0, w0 = s.sample(8, torch.device("cpu"))
    assert torch.all(w0 == 1)  # uniform until every step has a full history
    s.update(torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]))
    p = s.probabilities()
    expected = 0.999 * torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64) / 10 + 0.001 / 4
    assert torch.allclose(p, expected)
    t, w = s.sample(1000, torch.device("cpu"))
    assert torch.allclose(w, (1 / (4 * p[t])).float())
