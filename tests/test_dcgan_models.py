"""DCGAN and 2D MLP networks: shapes, ranges, the printed architecture, N(0, 0.02) initialisation."""

import pytest
import torch
from torch import nn

from repro.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_levels
from repro.models.gan_mlp import MLPDiscriminator, MLPGenerator
from repro.models.init import dcgan_init_


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_maps_latent_to_images_in_tanh_range(image_size, channels):
    torch.manual_seed(0)
    G = DCGANGenerator(nz=16, ngf=8, channels=channels, image_size=image_size)
    z = torch.randn(5, 16)
    x = G(z)
    assert x.shape == (5, channels, image_size, image_size)
    assert torch.equal(x, G(z[:, :, None, None]))  # both latent layouts
    assert x.abs().max() <= 1.0
    with torch.no_grad():  # drive the output layer into saturation: still inside [-1, 1], reaching its ends
        G.main[-2].weight.mul_(1e3)
        big = G(z)
    assert isinstance(G.main[-1], nn.Tanh)
    assert big.abs().max() <= 1.0 and big.abs().max() > 0.99


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_discriminator_returns_one_finite_logit_per_image(image_size, channels):
    torch.manual_seed(0)
    D = DCGANDiscriminator(ndf=8, channels=channels, image_size=image_size)
    logits = D(torch.rand(6, channels, image_size, image_size) * 2 - 1)
    assert logits.shape == (6,) and torch.isfinite(logits).all()


def _conv_widths(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_channels, m.out_channels) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def test_64x64_widths_match_the_seed_report_architecture():
    G = DCGANGenerator(nz=100, ngf=64, channels=3, image_size=64)
    D = DCGANDiscriminator(ndf=64, channels=3, image_size=64)
    assert _conv_widths(G) == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert _conv_widths(D) == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert sum(p.numel() for p in G.parameters()) + sum(p.numel() for p in D.parameters()) == 3_576_704 + 2_765_568


def test_32x32_has_one_level_fewer():
    assert dcgan_levels(64) == 4 and dcgan_levels(32) == 3
    G = DCGANGenerator(nz=100, ngf=64, channels=1, image_size=32)
    D = DCGANDiscriminator(ndf=64, channels=1, image_size=32)
    assert _conv_widths(G) == [(100, 256), (256, 128), (128, 64), (64, 1)]
    assert _conv_widths(D) == [(1, 64), (64, 128), (128, 256), (256, 1)]


def test_discriminator_has_no_batchnorm_on_first_layer_and_leaky_slope_0_2():
    D = DCGANDiscriminator(ndf=8, channels=3, image_size=64)
    layers = list(D.main)
    assert isinstance(layers[0], nn.Conv2d) and isinstance(layers[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in layers) == 3
    assert all(m.negative_slope == 0.2 for m in layers if isinstance(m, nn.LeakyReLU))


@pytest.mark.parametrize("image_size", [16, 48, 256])
def test_unsupported_image_size_is_refused(image_size):
    if image_size == 16:
        assert dcgan_levels(16) == 2
        return
    with pytest.raises(ValueError, match="power-of-two"):
        DCGANGenerator(image_size=image_size)


def test_initialisation_is_normal_0_02_with_batchnorm_gamma_around_1():
    torch.manual_seed(0)
    for model in (DCGANGenerator(ngf=64, channels=3, image_size=64), DCGANDiscriminator(ndf=64, channels=3, image_size=64)):
        w = torch.cat([m.weight.flatten() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))])
        gamma = torch.cat([m.weight for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
        beta = torch.cat([m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)])
        assert abs(w.mean().item()) < 1e-4 and abs(w.std().item() - 0.02) < 2e-4
        assert abs(gamma.mean().item() - 1.0) < 3e-3 and abs(gamma.std().item() - 0.02) < 3e-3
        assert torch.all(beta == 0)


def test_init_helper_zeroes_linear_biases():
    torch.manual_seed(0)
    lin = dcgan_init_(nn.Linear(2000, 500))
    assert torch.all(lin.bias == 0) and abs(lin.weight.std().item() - 0.02) < 2e-4


def test_mlp_gan_shapes():
    G, D = MLPGenerator(nz=256, hidden=128, depth=2), MLPDiscriminator(hidden=128, depth=2)
    x = G(torch.randn(7, 256))
    assert x.shape == (7, 2) and D(x).shape == (7,)
    assert sum(isinstance(m, nn.Linear) for m in G.modules()) == 3  # two hidden layers and the output
