"""Guidance on a labelled 1-D Gaussian mixture, where the optimal denoiser and noisy classifier are exact.

Data: p(x0, y) = pi_y N(m_y, S^2), two classes. Given y the data are the single Gaussian N(m_y, S^2),
so a guided sampler that samples p(x | y) exactly must reproduce the moments that
:func:`repro.diffusion.analytic.sampler_moments` gives for that Gaussian and that sampler:

- Algorithm 2 (DDIM) with s = 1: eps_hat = eps*(x_t) - sqrt(1 - abar_t) grad log p(y | x_t) IS the
  denoiser of component y (Bayes), so the guided chain is DDIM on N(m_y, S^2), whose only error is
  the discretisation of eta = 0 over the full T = 1000 steps (-0.5% of the std here), known exactly.
- Algorithm 1 (ancestral) with s = 1 differs from the ancestral chain of component y (same fixed
  Sigma_t = beta_t) by the shift (Sigma_t - beta_t / sqrt(alpha_t)) grad log p(y | x_t) per step,
  O(beta_t^2): :func:`ancestral_guidance_bias_bound` bounds its effect on every sample (~1.5e-3).
- Classifier-free guidance with w = 0 is the conditional model, the ancestral chain of component y.

Tolerances: the exact target plus 4 standard errors of the sample mean (S / sqrt(n)) and std
(S / sqrt(2n)), plus the bias bound for Algorithm 1. A flipped or mis-scaled gradient moves the class
means by tenths, far outside.
"""

from __future__ import annotations

import math

import pytest
import torch

from repro.diffusion import GaussianDiffusion, get_beta_schedule
from repro.diffusion.analytic import (MixtureClassifier, MixtureDenoiser, ancestral_guidance_bias_bound,
                                      mixture_log_posterior, sampler_moments)
from repro.diffusion.guidance import (ClassifierFreeGuidance, classifier_guidance, classifier_log_prob_grad,
                                      drop_labels, with_label)
from repro.diffusion.samplers import ancestral_sample_loop, ddim_sample_loop

WEIGHTS, MEANS, S, T = [0.3, 0.7], [-0.4, 0.5], 0.3, 1000
N = 4000  # samples, half per class


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The chains run on N x 1 tensors, where thread hand-offs cost more than the arithmetic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mixture():
    d = GaussianDiffusion(get_beta_schedule("linear", T), variance="fixed_large", loss_type="simple")
    args = (d, WEIGHTS, [[m] for m in MEANS], [S, S])
    return d, MixtureDenoiser(*args), MixtureClassifier(*args)


def _labels_and_noise(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(n) % 2, torch.randn(n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _check_class(x: torch.Tensor, mean: float, std: float, bias: float = 0.0) -> None:
    n = x.numel()
    assert abs(x.mean().item() - mean) < 4 * std / math.sqrt(n) + bias, (x.mean().item(), mean)
    assert abs(x.std().item() - std) < 4 * std / math.sqrt(2 * n) + bias, (x.std().item(), std)


def _confidence(x: torch.Tensor, y: torch.Tensor, clf: MixtureClassifier) -> torch.Tensor:
    """p(y | x0) of the clean data (abar = 1), per sample."""
    log_p = mixture_log_posterior(x, torch.ones(len(x), 1, dtype=x.dtype), clf.weights, clf.means, clf.stds)
    return log_p.gather(1, y.view(-1, 1)).exp()[:, 0]


def test_mixture_denoiser_and_classifier_are_the_conditional_expectations_under_q(mixture):
    """E[eps | x_t] and p(y | x_t) leave residuals orthogonal to functions of x_t (checked against
    q_sample draws), and eps* is -sqrt(1 - abar_t) times the score of the noised mixture."""
    d, den, clf = mixture
    g = torch.Generator().manual_seed(0)
    n = 100_000
    y = (torch.rand(n, generator=g) < WEIGHTS[1]).long()
    x0 = torch.tensor(MEANS, dtype=torch.float64)[y, None] + S * torch.randn(n, 1, dtype=torch.float64, generator=g)
    for step in (50, 300, 700):
        t = torch.full((n,), step)
        eps = torch.randn(n, 1, dtype=torch.float64, generator=g)
        x_t = d.q_sample(x0, t, eps)
        for h in (torch.ones_like(x_t), x_t, torch.tanh(3 * x_t)):
            resid_eps = (eps - den(x_t, t)) * h
            assert abs(resid_eps.mean().item()) < 5 * resid_eps.std().item() / math.sqrt(n)
            resid_y = ((y == 1).double()[:, None] - clf(x_t, t)[:, 1:].exp()) * h
            assert abs(resid_y.mean().item()) < 5 * resid_y.std().item() / math.sqrt(n)
        grid = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None].requires_grad_(True)
        abar = d.alphas_cumprod[step]
        v = abar * S ** 2 + 1 - abar  # each component's marginal variance
        log_px = torch.logsumexp(torch.stack([math.log(w) - (grid[:, 0] - abar.sqrt() * m) ** 2 / (2 * v)
                                              for w, m in zip(WEIGHTS, MEANS)]), dim=0)
        score = torch.autograd.grad(log_px.sum(), grid)[0]
        tt = torch.full((9,), step)
        assert torch.allclose(den(grid.detach(), tt), -(1 - abar).sqrt() * score, atol=1e-12)


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_classifier_guidance_s1_samples_each_class_over_full_T(mixture, sampler):
    """Dhariwal & Nichol 2021, Algorithms 1 and 2 with s = 1: the analytic classifier's gradient on the
    analytic unconditional denoiser samples p(x | y) (per-class mean and std) through all 1000 steps."""
    d, den, clf = mixture
    y, noise = _labels_and_noise(N, 1)
    loop = ancestral_sample_loop if sampler == "ancestral" else ddim_sample_loop
    x = loop(d, den, noise.shape, noise=noise, clip_denoised=False, generator=torch.Generator().manual_seed(2),
             cond_fn=classifier_guidance(clf, y, 1.0))
    sigma2 = d.fixed_log_variance.exp()
    for k, m in enumerate(MEANS):
        if sampler == "ancestral":
            mean, std = sampler_moments(d.alphas_cumprod, m, S, None, ancestral_variances=sigma2)
            bias = ancestral_guidance_bias_bound(d.alphas_cumprod, sigma2, S, MEANS[1] - MEANS[0])
            assert bias < 2e-3  # Sigma_t = beta_t: the first-order shift is within beta_t^2 of the exact one
        else:
            mean, std = sampler_moments(d.alphas_cumprod, m, S, eta=0.0)
            bias = 0.0  # eps_hat is the denoiser of component k: DDIM on one Gaussian, known exactly
        assert mean == pytest.approx(m, abs=1e-3) and std == pytest.approx(S, rel=6e-3)
        _check_class(x[y == k], mean, std, bias)


def test_classifier_free_guidance_w0_samples_each_class_over_full_T(mixture):
    """Ho & Salimans 2022, eq. 6 with w = 0 on the analytic conditional denoiser samples p(x | y)."""
    d, den, _ = mixture
    y, noise = _labels_and_noise(N, 3)
    model = ClassifierFreeGuidance(den, y, guidance_weight=0.0, null_label=den.null_label)
    x = ancestral_sample_loop(d, model, noise.shape, noise=noise, clip_denoised=False,
                              generator=torch.Generator().manual_seed(4))
    for k, m in enumerate(MEANS):
        mean, std = sampler_moments(d.alphas_cumprod, m, S, None, ancestral_variances=d.fixed_log_variance.exp())
        _check_class(x[y == k], mean, std)


def test_guidance_kinds_agree_exactly_on_a_respaced_ddim_chain(mixture):
    """For exact models eps(x_t, y) - eps(x_t) = -sqrt(1 - abar_t) grad log p(y | x_t), so on the same noise
    - classifier-free guidance with weight w (Ho & Salimans eq. 6) is Algorithm 2 with s = 1 + w, and
    - Algorithm 2 with scale s on the class-conditional model is Algorithm 2 with s + 1 on the
      unconditional one,
    which also checks that the classifier receives the original timesteps of a respaced process."""
    d, den, clf = mixture
    short = d.respace(25)
    y, noise = _labels_and_noise(512, 5)

    def run(model, cond_fn=None):
        return ddim_sample_loop(short, model, noise.shape, noise=noise, clip_denoised=False, cond_fn=cond_fn)

    for w in (0.0, 1.0, 3.0):
        classifier_free = run(ClassifierFreeGuidance(den, y, w, den.null_label))
        unconditional = run(den, classifier_guidance(clf, y, 1.0 + w))
        conditional = run(with_label(den, y), classifier_guidance(clf, y, w))
        assert torch.allclose(classifier_free, unconditional, rtol=0, atol=1e-9)
        assert torch.allclose(conditional, unconditional, rtol=0, atol=1e-9)
    assert not torch.allclose(run(den, classifier_guidance(clf, y, 2.0)), run(den, classifier_guidance(clf, y, 3.0)))


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_guidance_scale_above_1_raises_confidence_and_shrinks_spread_monotonically(mixture, sampler):
    """s > 1 has no exact target: the guided process only approximates p(x) p(y | x)^s (Dhariwal & Nichol
    sec. 4.3), but it must sharpen: the mean p(y | x0) of the samples rises and each class's std shrinks
    as s goes 1, 2, 4. Each s runs on the same x_T and step noise, so the differences between s carry
    no sampling noise of their own; 100 respaced steps (the exactness tests above use all T).
    Beyond s = 4 the ancestral spread of this mixture levels off near 0.8 S while that of the ideal
    p(x) p(y | x)^s keeps narrowing: the approximation the paper warns about."""
    d, den, clf = mixture
    short = d.respace(100)
    y, noise = _labels_and_noise(N, 6)
    loop = ancestral_sample_loop if sampler == "ancestral" else ddim_sample_loop
    conf, spreads = [], []
    for s in (1.0, 2.0, 4.0):
        x = loop(short, den, noise.shape, noise=noise, clip_denoised=False,
                 generator=torch.Generator().manual_seed(7), cond_fn=classifier_guidance(clf, y, s))
        conf.append(_confidence(x, y, clf).mean())
        spreads.append(torch.stack([x[y == k].std() for k in (0, 1)]))
    conf, spreads = torch.stack(conf), torch.stack(spreads, dim=1)   # scale; class x scale
    assert torch.all(conf.diff() > 0.005), conf
    assert torch.all(spreads.diff(dim=1) < -0.005), spreads
    assert conf[-1] > 0.98 and torch.all(spreads[:, -1] < 0.85 * S)


def test_classifier_gradient_is_taken_per_example_and_inside_no_grad(mixture):
    d, _, clf = mixture
    x, t, y = torch.linspace(-1, 1, 7, dtype=torch.float64)[:, None], torch.full((7,), 100), torch.arange(7) % 2
    with torch.no_grad():
        g = classifier_log_prob_grad(clf, x, t, y)
    eps = 1e-6
    numeric = (clf(x + eps, t) - clf(x - eps, t)).gather(1, y[:, None]) / (2 * eps)
    assert torch.allclose(g, numeric, atol=1e-6)


def test_ancestral_guided_classifier_sees_original_timesteps_of_a_respaced_process(mixture):
    d, den, clf = mixture
    short = d.respace(10)
    seen = []

    def spy(x_t, t):
        seen.append(t[0].item())
        return clf(x_t, t)

    y, noise = _labels_and_noise(8, 8)
    ancestral_sample_loop(short, den, noise.shape, noise=noise, cond_fn=classifier_guidance(spy, y, 1.0),
                          generator=torch.Generator().manual_seed(9))
    assert seen == short.timestep_map.flip(0).tolist() and seen[0] == T - 1


def test_drop_labels_replaces_a_fraction_p_uncond_by_the_null_label():
    y = torch.arange(20000) % 10
    dropped = drop_labels(y, 0.2, null_label=10, generator=torch.Generator().manual_seed(0))
    frac = (dropped == 10).double().mean().item()
    assert abs(frac - 0.2) < 4 * math.sqrt(0.2 * 0.8 / len(y))
    assert torch.equal(dropped[dropped != 10], y[dropped != 10])
    assert torch.equal(drop_labels(y, 0.0, 10), y)


def test_trained_diffusion_samples_towards_requested_labels(mixture):
    """``TrainedDiffusion.sample(y=..., classifier=..., scale=1)`` is Algorithm 2 over the full T steps:
    the per-class moments of p(x | y), as the loop above; a flipped label set flips them."""
    from repro.train.trained import TrainedDiffusion

    d, den, clf = mixture
    trained = TrainedDiffusion(den, d, (1,), clip_denoised=False)
    y = torch.arange(N) % 2
    x = trained.sample(N, sampler="ddim", steps=T, y=y, classifier=clf, scale=1.0, batch_size=N,
                       generator=torch.Generator().manual_seed(3)).double()
    for k, m in enumerate(MEANS):
        mean, std = sampler_moments(d.alphas_cumprod, m, S, eta=0.0)
        _check_class(x[y == k], mean, std)
    flipped = trained.sample(N, sampler="ddim", steps=T, y=1 - y, classifier=clf, scale=1.0, batch_size=N,
                             generator=torch.Generator().manual_seed(3)).double()
    assert flipped[y == 0].mean().item() == pytest.approx(MEANS[1], abs=0.05)


@pytest.mark.parametrize("guidance_weight", [None, 0.0])
def test_trained_conditional_diffusion_samples_each_requested_class(mixture, guidance_weight):
    """A class-conditional model sampled for labels y (eps(x_t, y), or classifier-free guidance with w = 0)
    is the DDIM chain of component y."""
    from repro.train.trained import TrainedDiffusion

    d, den, _ = mixture
    trained = TrainedDiffusion(den, d, (1,), clip_denoised=False, num_classes=2)
    y = torch.arange(N) % 2
    x = trained.sample(N, sampler="ddim", steps=T, y=y, guidance_weight=guidance_weight, batch_size=N,
                       generator=torch.Generator().manual_seed(4)).double()
    for k, m in enumerate(MEANS):
        _check_class(x[y == k], *sampler_moments(d.alphas_cumprod, m, S, eta=0.0))


def test_trained_diffusion_refuses_guidance_arguments_that_do_not_fit(mixture):
    from repro.train.trained import TrainedDiffusion

    d, den, clf = mixture
    trained = TrainedDiffusion(den, d, (1,), clip_denoised=False)
    y = torch.zeros(4, dtype=torch.long)
    cases = [(dict(y=y, scale=2.0), "needs a noise-aware classifier"),
             (dict(y=y, classifier=clf, guidance_weight=1.0), "needs a class-conditional model"),
             (dict(y=y), "ignores y without a classifier"),
             (dict(y=y[:3], classifier=clf, scale=1.0), "one label per sample"),
             (dict(classifier=clf, scale=1.0), "needs the requested labels")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            trained.sample(4, steps=10, **kwargs)
