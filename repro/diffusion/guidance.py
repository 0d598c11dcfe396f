"""Guided sampling: classifier guidance (Dhariwal & Nichol 2021) and classifier-free guidance (Ho & Salimans 2022).

Classifier guidance steers a diffusion model towards a label y with the gradient of a noise-aware
classifier p_phi(y | x_t, t) (Dhariwal & Nichol 2021, sec. 4):

- Algorithm 1 (ancestral): x_{t-1} ~ N(mu + s Sigma grad_{x_t} log p_phi(y | x_t), Sigma), from a
  first-order expansion of log p_phi(y | x_{t-1}) around mu (their eqs. 3-10);
- Algorithm 2 (DDIM): eps_hat = eps_theta(x_t) - sqrt(1 - abar_t) s grad_{x_t} log p_phi(y | x_t)
  (their eq. 14), i.e. the score of p(x_t) p(y | x_t)^s, then the DDIM step with eps_hat.

For s = 1 and an exact model and classifier, Algorithm 2's eps_hat is exactly the eps of p(x_t | y)
(Bayes: grad log p(x_t | y) = grad log p(x_t) + grad log p(y | x_t)); Algorithm 1 matches the true
conditional step up to O(beta_t^2) per step. For s > 1 there is no exact target: the guided process
only approximates sampling from p(x) p(y | x)^s / Z (Dhariwal & Nichol, sec. 4.3), because
p(y | x_t)^s is not the noised version of p(y | x0)^s; it sharpens towards confident examples of y.

The samplers of :mod:`.samplers` take the guidance as ``cond_fn(x_t, t)``, which returns
s grad_{x_t} log p_phi(y | x_t, t) with the ORIGINAL timestep t (the one the classifier was trained on,
``timestep_map`` of a respaced process); :func:`classifier_guidance` builds it.

Classifier-free guidance needs no classifier: a class-conditional model trained with the label
dropped to a null label (:func:`drop_labels`) gives eps_tilde = (1 + w) eps(x_t, y) - w eps(x_t, null)
(Ho & Salimans 2022, eq. 6), a plain model for either sampler (:class:`ClassifierFreeGuidance`).
For exact models it equals Algorithm 2 with s = 1 + w, since eps(x_t, y) - eps(x_t) =
-sqrt(1 - abar_t) grad log p(y | x_t).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["CondFn", "classifier_log_prob_grad", "classifier_guidance", "condition_mean", "condition_eps",
           "with_label", "ClassifierFreeGuidance", "drop_labels"]

# cond_fn(x_t, original t) -> s grad_{x_t} log p_phi(y | x_t, t), the shape of x_t.
CondFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Classifier = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, t) -> N x K logits


def classifier_log_prob_grad(classifier: Classifier, x_t: torch.Tensor, t: torch.Tensor,
                             y: torch.Tensor) -> torch.Tensor:
    """grad_{x_t} log p_phi(y | x_t, t), p_phi = softmax of the classifier's logits (Dhariwal & Nichol, Alg. 1-2).

    Each example's log-probability depends on its own x_t only, so the gradient of their sum is the
    per-example gradient. Computed with autograd even inside ``torch.no_grad()`` (the sampling loops).
    """
    with torch.enable_grad():
        x = x_t.detach().requires_grad_(True)
        log_probs = torch.log_softmax(classifier(x, t), dim=-1)
        selected = log_probs.gather(1, y.view(-1, 1).to(log_probs.device)).sum()
        return torch.autograd.grad(selected, x)[0].to(x_t.dtype)


def classifier_guidance(classifier: Classifier, y: torch.Tensor, scale: float | torch.Tensor) -> CondFn:
    """``cond_fn`` of the samplers: x_t, t -> s grad log p_phi(y | x_t, t), s = ``scale`` (Dhariwal & Nichol, Alg. 1-2).

    ``y`` holds one requested label per example; ``scale`` is the gradient scale s (s = 1: p(x | y);
    s > 1: an approximation of p(x) p(y | x)^s, see the module docstring), a number or one per
    example (shaped to broadcast against x_t) to sweep s in one batch. The sampler hands over the
    original timestep of a respaced process, the one the classifier knows.
    """
    def cond_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return scale * classifier_log_prob_grad(classifier, x_t, t, y)

    return cond_fn


def condition_mean(mean: torch.Tensor, variance: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
    """mu + Sigma s grad log p_phi(y | x_t), the guided mean of Dhariwal & Nichol 2021, Algorithm 1 (eq. 10).

    ``guidance`` is s grad log p_phi(y | x_t) (the output of a ``cond_fn``).
    """
    return mean + variance * guidance


def condition_eps(eps: torch.Tensor, sqrt_one_minus_abar: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
    """eps_hat = eps - sqrt(1 - abar_t) s grad log p_phi(y | x_t), Dhariwal & Nichol 2021, Algorithm 2 (eq. 14)."""
    return eps - sqrt_one_minus_abar * guidance


def with_label(model: Callable[..., torch.Tensor], y: torch.Tensor) -> Classifier:
    """A class-conditional ``model(x_t, t, y)`` with its labels fixed: the ``model(x_t, t)`` the samplers call."""
    def conditioned(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(x_t, t, y)

    return conditioned


class ClassifierFreeGuidance(nn.Module):
    """eps_tilde = (1 + w) eps(x_t, y) - w eps(x_t, null), Ho & Salimans 2022, eq. 6 (their Algorithm 2).

    Wraps a class-conditional ``model(x_t, t, y)`` whose label ``null_label`` means "no label" (trained
    with :func:`drop_labels`). w = 0 is the conditional model, w > 0 sharpens towards y. The
    conditional and unconditional passes run as one batch. When the model also outputs the variance
    interpolation v (the channels after the first C), the conditional pass's v is kept.
    """

    def __init__(self, model: Callable[..., torch.Tensor], y: torch.Tensor, guidance_weight: float,
                 null_label: int) -> None:
        super().__init__()
        self.model, self.y, self.w, self.null_label = model, y, float(guidance_weight), int(null_label)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = self.y.to(x_t.device)
        out = self.model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, self.null_label)]))
        cond, uncond = out.chunk(2, dim=0)
        c = x_t.shape[1]
        eps = (1.0 + self.w) * cond[:, :c] - self.w * uncond[:, :c]
        return torch.cat([eps, cond[:, c:]], dim=1)


def drop_labels(y: torch.Tensor, p_uncond: float, null_label: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Labels with each replaced by ``null_label`` with probability p_uncond (Ho & Salimans 2022, Algorithm 1).

    One model thus learns eps(x_t, y) and eps(x_t) = eps(x_t, null) (their p_uncond: 0.1 or 0.2).
    """
    if not 0.0 <= p_uncond <= 1.0:
        raise ValueError(f"p_uncond must be in [0, 1], got {p_uncond}")
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)
