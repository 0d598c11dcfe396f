"""GAN losses from logits (Goodfellow et al. 2014, eq. 1 and sec. 3)."""

import math

import pytest
import torch

from repro.train.gan_losses import GeneratorLoss, discriminator_loss, generator_loss


def test_losses_equal_the_log_sigmoid_formulas():
    real = torch.tensor([-2.0, 0.3, 1.5], dtype=torch.float64)
    fake = torch.tensor([-1.0, 0.0, 2.5], dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expect_D = -(d_real.log().mean() + (1 - d_fake).log().mean())
    assert discriminator_loss(real, fake).item() == pytest.approx(expect_D.item(), rel=1e-6)
    assert generator_loss(fake, "non-saturating").item() == pytest.approx(-d_fake.log().mean().item(), rel=1e-6)
    assert generator_loss(fake, "minimax").item() == pytest.approx((1 - d_fake).log().mean().item(), rel=1e-6)


def test_discriminator_loss_is_2_log_2_when_D_is_undecided():
    zero = torch.zeros(4)
    assert discriminator_loss(zero, zero).item() == pytest.approx(2 * math.log(2), rel=1e-6)


@pytest.mark.parametrize("kind", list(GeneratorLoss))
def test_losses_and_gradients_stay_finite_for_extreme_logits(kind):
    logits = torch.tensor([-1e4, -80.0, 80.0, 1e4], requires_grad=True)
    loss = discriminator_loss(logits, logits) + generator_loss(logits, kind)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_minimax_gradient_vanishes_when_D_rejects_samples_but_non_saturating_does_not():
    # Goodfellow et al. 2014, sec. 3: early on D(G(z)) ~ 0 and log(1 - D(G(z))) saturates.
    grads = {}
    for kind in GeneratorLoss:
        l = torch.full((8,), -10.0, requires_grad=True)
        generator_loss(l, kind).backward()
        grads[kind] = l.grad.abs().sum().item()
    assert grads[GeneratorLoss.MINIMAX] < 1e-3
    assert grads[GeneratorLoss.NON_SATURATING] > 0.9


def test_losses_are_float32_under_bfloat16_logits():
    l = torch.randn(16).bfloat16()
    assert discriminator_loss(l, l).dtype == torch.float32 and generator_loss(l).dtype == torch.float32


def test_unknown_generator_loss_name_is_refused():
    with pytest.raises(ValueError, match="non-saturating"):
        generator_loss(torch.zeros(2), "wasserstein")
