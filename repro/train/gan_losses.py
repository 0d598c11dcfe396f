"""GAN losses from discriminator logits (Goodfellow et al. 2014, eq. 1 and sec. 3).

With ``D(x) = sigmoid(l)`` for a logit ``l``:

    log D(x)       = -softplus(-l)
    log(1 - D(x))  = -softplus(l)

so every loss below is a softplus of logits, finite for any finite logit (no ``log(0)``), which is
what ``BCEWithLogits`` computes.

- Discriminator (eq. 1, maximised by D; here its negation is minimised):
  ``L_D = -E[log D(x)] - E[log(1 - D(G(z)))]``.
- Generator, ``minimax`` (eq. 1 as written): ``L_G = E[log(1 - D(G(z)))]``. Its gradient vanishes
  when D rejects the samples confidently, early in training.
- Generator, ``non-saturating`` (sec. 3, "maximize log D(G(z))"; the default, as in DCGAN):
  ``L_G = -E[log D(G(z))]``. Same fixed point, strong gradients when D wins.

Losses are computed in float32 whatever the autocast dtype of the logits.
"""

from __future__ import annotations

import enum

import torch
import torch.nn.functional as F

__all__ = ["GeneratorLoss", "discriminator_loss", "generator_loss", "parse_generator_loss"]


class GeneratorLoss(str, enum.Enum):
    """Which generator objective of Goodfellow et al. 2014 to minimise."""

    NON_SATURATING = "non-saturating"
    MINIMAX = "minimax"


def parse_generator_loss(kind: GeneratorLoss | str) -> GeneratorLoss:
    """The :class:`GeneratorLoss` named ``kind``; an unknown name raises a ``ValueError`` listing the choices."""
    try:
        return GeneratorLoss(kind)
    except ValueError:
        choices = ", ".join(repr(k.value) for k in GeneratorLoss)
        raise ValueError(f"unknown generator loss {kind!r}; choose one of {choices}") from None


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``-E[log D(x)] - E[log(1 - D(G(z)))]`` (eq. 1, negated), the sum of the real and fake BCE terms."""
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def generator_loss(fake_logits: torch.Tensor, kind: GeneratorLoss | str = GeneratorLoss.NON_SATURATING
                   ) -> torch.Tensor:
    """The generator's loss on ``D``'s logits for generated samples; ``kind`` names the objective."""
    l = fake_logits.float()
    if parse_generator_loss(kind) is GeneratorLoss.NON_SATURATING:
        return F.softplus(-l).mean()  # -E[log D(G(z))]
    return -F.softplus(l).mean()  # E[log(1 - D(G(z)))]
