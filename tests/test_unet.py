"""The U-Net (Ho et al. 2020; Dhariwal & Nichol 2021) and the 2D denoiser MLP: sizes, shapes, options."""

from __future__ import annotations

import pytest
import torch

from repro.diffusion import output_channels
from repro.models.denoiser_mlp import DenoiserMLP, build_denoiser_mlp
from repro.models.nn import timestep_embedding
from repro.models.unet import UNET_PRESETS, UNet, build_unet, count_parameters


def test_ho_cifar10_unet_has_35_7M_parameters():
    model = build_unet("ho-cifar10", in_channels=3, image_size=32)
    n = count_parameters(model)
    assert round(n / 1e6, 1) == 35.7  # Ho et al. 2020, App. B
    assert n == 35_746_307


def test_learning_sigma_doubles_output_channels_and_adds_only_the_last_convolution():
    plain = build_unet("ho-cifar10")
    sigma = build_unet("ho-cifar10", learn_sigma=True)
    assert sigma.out_channels == 6
    # the final 3 x 3 convolution from 128 channels gains 3 more filters and biases
    assert count_parameters(sigma) - count_parameters(plain) == 3 * (128 * 9 + 1)


@pytest.mark.parametrize("channels,learn_sigma", [(3, False), (1, False), (1, True), (3, True)])
def test_unet_maps_rgb_and_grayscale_to_eps_or_eps_and_v(channels, learn_sigma):
    torch.manual_seed(0)
    model = UNet(in_channels=channels, model_channels=16, channel_mult=(1, 2), num_res_blocks=1,
                 attention_resolutions=(8,), image_size=16, norm_groups=8, learn_sigma=learn_sigma)
    x = torch.randn(2, channels, 16, 16)
    out = model(x, torch.tensor([0, 999]))
    assert out.shape == (2, channels * (2 if learn_sigma else 1), 16, 16)
    assert torch.all(out == 0)  # the output convolution starts at zero (Ho et al.'s code)


def test_dhariwal_nichol_options_build_and_train():
    torch.manual_seed(0)
    model = UNet(in_channels=3, model_channels=16, channel_mult=(1, 2, 4), num_res_blocks=2,
                 attention_resolutions=(8, 4), image_size=16, dropout=0.1, num_head_channels=8,
                 use_scale_shift_norm=True, resblock_updown=True, norm_groups=8)
    heads = [m.num_heads for m in model.modules() if m.__class__.__name__ == "AttentionBlock"]
    assert heads and set(heads) == {4, 8}  # 32 and 64 channels in heads of 8
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():  # leave the zero start of the residual branches so that gradients reach every layer
        for p in model.parameters():
            if p.ndim > 1 and torch.all(p == 0):
                p.normal_(std=0.05)
    loss = (model(x, torch.tensor([1, 2, 3])) - x).pow(2).mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_timestep_embedding_is_sinusoidal_and_distinguishes_steps():
    e = timestep_embedding(torch.tensor([0, 1, 500]), 8)
    assert e.shape == (3, 8)
    assert torch.allclose(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert torch.allclose(e[:, :4] ** 2 + e[:, 4:] ** 2, torch.ones(3, 4))
    assert not torch.allclose(e[1], e[2])


def test_presets_are_constructible():
    for name in UNET_PRESETS:
        assert count_parameters(build_unet(name, in_channels=1)) > 0
    with pytest.raises(ValueError, match="preset"):
        build_unet("ho-cifar100")


def test_denoiser_mlp_outputs_eps_or_eps_and_v():
    x, t = torch.randn(5, 2), torch.randint(0, 1000, (5,))
    assert DenoiserMLP()(x, t).shape == (5, 2)
    mlp = build_denoiser_mlp("mlp", dim=2, out_dim=output_channels("learned_range", 2))
    assert mlp(x, t).shape == (5, 4) and torch.all(mlp(x, t) == 0)
    assert DenoiserMLP(dim=3, fourier_features=0)(torch.randn(4, 3), t[:4]).shape == (4, 3)
