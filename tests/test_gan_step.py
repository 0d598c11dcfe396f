"""One discriminator step of Goodfellow et al. 2014, Algorithm 1 lowers its loss on a fixed batch."""

import pytest
import torch

from repro.models.dcgan import DCGANDiscriminator, DCGANGenerator
from repro.models.gan_mlp import MLPDiscriminator, MLPGenerator
from repro.train.gan_losses import discriminator_loss


@pytest.mark.parametrize("arch", ["dcgan32", "dcgan64", "mlp"])
def test_one_adam_step_lowers_discriminator_loss_on_a_fixed_batch(arch):
    torch.manual_seed(0)
    if arch == "mlp":
        G, D, nz = MLPGenerator(nz=16), MLPDiscriminator(), 16
        x = torch.randn(64, 2)
    else:
        size = 32 if arch == "dcgan32" else 64
        G, D, nz = DCGANGenerator(nz=16, ngf=8, channels=1, image_size=size), DCGANDiscriminator(8, 1, size), 16
        x = torch.rand(16, 1, size, size) * 2 - 1
    with torch.no_grad():
        fake = G(torch.randn(x.shape[0], nz))
    opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))

    before = discriminator_loss(D(x), D(fake))
    opt.zero_grad()
    before.backward()
    opt.step()
    after = discriminator_loss(D(x), D(fake))
    assert after.item() < before.item()
