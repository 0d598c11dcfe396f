"""The 2D GAN networks: the default MLPs and the PacGAN variants (BatchNorm generator, maxout discriminator)."""

import pytest
import torch
from torch import nn

from repro.models.gan_mlp import Maxout, MaxoutDiscriminator, MLPDiscriminator, MLPGenerator, normal_init_


def _pacgan_generator():
    return MLPGenerator(nz=2, hidden=400, depth=4, norm="batch", init_std=0.02)


def test_default_mlps_keep_their_layout_and_pytorch_init():
    torch.manual_seed(0)
    G = MLPGenerator(nz=16, hidden=8, depth=2)
    torch.manual_seed(0)
    ref = nn.Sequential(nn.Linear(16, 8), nn.ReLU(True), nn.Linear(8, 8), nn.ReLU(True), nn.Linear(8, 2))
    assert list(G.state_dict()) == ["main." + k for k in ref.state_dict()]
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), ref.state_dict().values()))
    assert not any(isinstance(m, nn.BatchNorm1d) for m in MLPDiscriminator().modules())


def test_pacgan_generator_has_four_batchnorm_relu_layers_without_hidden_biases():
    G = _pacgan_generator()
    linears = [m for m in G.modules() if isinstance(m, nn.Linear)]
    bns = [m for m in G.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [l.out_features for l in linears] == [400, 400, 400, 400, 2]
    assert [l.bias is None for l in linears] == [True] * 4 + [False]
    assert len(bns) == 4 and all(b.eps == 1e-4 and b.momentum == 0.05 for b in bns)
    assert sum(p.numel() for p in G.parameters()) == 2 * 400 + 3 * 400 * 400 + 4 * 2 * 400 + 400 * 2 + 2


def test_batchnorm_generator_in_eval_mode_maps_each_latent_on_its_own():
    torch.manual_seed(0)
    G = _pacgan_generator()
    G.train()
    G(torch.randn(100, 2))  # moves the running statistics off their initial values
    G.eval()
    z = torch.randn(10, 2)
    with torch.no_grad():
        assert torch.allclose(G(z)[:1], G(z[:1]), atol=1e-6)


def test_maxout_is_the_maximum_over_pieces():
    layer = Maxout(1, 2, pieces=3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [-1.0], [0.0], [2.0], [0.5], [-3.0]]))
        layer.linear.bias.zero_()
    x = torch.tensor([[2.0], [-1.0]])
    # unit 0 takes max(x, -x, 0) = |x|; unit 1 takes max(2x, x / 2, -3x)
    assert torch.equal(layer(x), torch.tensor([[2.0, 4.0], [1.0, 3.0]]))


def test_maxout_discriminator_defaults_are_pacgans():
    D = MaxoutDiscriminator()
    maxouts = [m for m in D.modules() if isinstance(m, Maxout)]
    assert [(m.d_out, m.pieces) for m in maxouts] == [(200, 5)] * 3
    assert sum(p.numel() for p in D.parameters()) == (2 + 1) * 1000 + 2 * (200 + 1) * 1000 + 201
    assert D(torch.randn(7, 2)).shape == (7,)


def test_normal_init_draws_weights_from_n0_std_zero_biases_and_unit_batchnorm():
    torch.manual_seed(0)
    net = normal_init_(nn.Sequential(nn.Linear(500, 400), nn.BatchNorm1d(400)), std=0.02)
    assert abs(net[0].weight.std().item() - 0.02) < 5e-4 and abs(net[0].weight.mean().item()) < 5e-4
    assert torch.all(net[0].bias == 0)
    assert torch.all(net[1].weight == 1) and torch.all(net[1].bias == 0)


def test_unknown_norm_is_rejected():
    with pytest.raises(ValueError, match="norm"):
        MLPGenerator(norm="layer")
