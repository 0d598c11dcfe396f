"""Class conditioning of the U-Net and the noise-aware classifier (Dhariwal & Nichol 2021): sizes, shapes, timesteps."""

from __future__ import annotations

import math

import pytest
import torch

from repro.diffusion import GaussianDiffusion, get_beta_schedule
from repro.diffusion.guidance import ClassifierFreeGuidance, classifier_guidance, with_label
from repro.diffusion.samplers import ancestral_sample_loop, ddim_sample_loop
from repro.models.noisy_classifier import AttentionPool2d, NoisyClassifier, build_noisy_classifier
from repro.models.unet import UNet, build_unet, count_parameters

TINY = dict(in_channels=1, model_channels=16, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(8,),
            image_size=16, norm_groups=8)


def _unzero(model: torch.nn.Module) -> None:
    """Leave the zero start of the residual branches and output layer, so that every input matters."""
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim > 1 and torch.all(p == 0):
                p.normal_(std=0.05)


def test_class_option_adds_only_a_label_table_and_keeps_the_unconditional_weights():
    torch.manual_seed(0)
    plain = build_unet("tiny", in_channels=1)
    torch.manual_seed(0)
    cond = build_unet("tiny", in_channels=1, num_classes=10)
    emb_ch = 4 * 32
    assert count_parameters(cond) - count_parameters(plain) == (10 + 1) * emb_ch  # ten labels and the null label
    shared = cond.state_dict()
    assert all(torch.equal(v, shared[k]) for k, v in plain.state_dict().items())  # same initial draws
    assert plain.null_label is None and cond.null_label == 10
    with pytest.raises(ValueError, match="unconditional"):
        plain(torch.randn(1, 1, 32, 32), torch.tensor([3]), torch.tensor([1]))


def test_conditional_unet_reads_the_label_and_defaults_to_the_null_label():
    torch.manual_seed(0)
    model = UNet(**TINY, num_classes=3, learn_sigma=True).eval()
    _unzero(model)
    x, t = torch.randn(4, 1, 16, 16), torch.tensor([0, 10, 500, 999])
    with torch.no_grad():
        out = model(x, t, torch.tensor([0, 1, 2, 3]))
        assert out.shape == (4, 2, 16, 16)
        assert torch.equal(model(x, t), model(x, t, torch.full((4,), 3)))  # y=None is the null label
        a, b = model(x, t, torch.zeros(4, dtype=torch.long)), model(x, t, torch.ones(4, dtype=torch.long))
    assert (a - b).abs().amax(dim=(1, 2, 3)).min() > 1e-4


def test_label_gradient_reaches_only_the_rows_of_the_labels_used():
    torch.manual_seed(0)
    model = UNet(**TINY, num_classes=5)
    _unzero(model)
    y = torch.tensor([1, 3, 5, 1])
    model(torch.randn(4, 1, 16, 16), torch.tensor([1, 2, 3, 4]), y).pow(2).mean().backward()
    used = model.label_embed.weight.grad.abs().sum(dim=1) > 0
    assert used.tolist() == [False, True, False, True, False, True]


def test_classifier_free_guidance_on_the_unet_mixes_conditional_and_null_outputs():
    torch.manual_seed(0)
    model = UNet(**TINY, num_classes=3, learn_sigma=True).eval()
    _unzero(model)
    x, t, y = torch.randn(2, 1, 16, 16), torch.tensor([5, 700]), torch.tensor([0, 2])
    with torch.no_grad():
        guided = ClassifierFreeGuidance(model, y, 2.0, model.null_label)(x, t)
        cond, null = model(x, t, y), model(x, t)
    assert torch.allclose(guided[:, :1], 3.0 * cond[:, :1] - 2.0 * null[:, :1], atol=1e-5)  # Ho & Salimans eq. 6
    assert torch.allclose(guided[:, 1:], cond[:, 1:], atol=1e-5)  # v from the conditional pass


def test_classifier_is_the_unet_encoder_with_an_attention_pool_at_the_last_resolution():
    unet = build_unet("small", in_channels=1, image_size=32)
    clf = build_noisy_classifier("small", num_classes=10, in_channels=1, image_size=32)
    trunk = sum(count_parameters(m) for m in (unet.time_embed, unet.down, unet.middle))
    assert count_parameters(clf) - count_parameters(clf.pool) - count_parameters(clf.out) == trunk
    assert clf.pool.spatial_size == 8  # 32 px, two downsamplings: "an attention pool at the 8x8 layer"
    logits = clf(torch.randn(3, 1, 32, 32), torch.tensor([0, 500, 999]))
    assert logits.shape == (3, 10) and torch.isfinite(logits).all() and logits.std() > 0


def test_attention_pool_attends_from_the_mean_token_over_all_tokens():
    torch.manual_seed(0)
    pool = AttentionPool2d(spatial_size=4, channels=8, out_dim=3, num_heads=2)
    x = torch.randn(2, 8, 4, 4)
    tokens = x.flatten(2)
    tokens = torch.cat([tokens.mean(-1, keepdim=True), tokens], -1) + pool.position       # b x c x 17
    q, k, v = (pool.qkv(tokens).reshape(2, 3, 2, 4, 17)[:, i] for i in range(3))         # b x heads x 4 x 17
    w = torch.softmax(torch.einsum("bhd,bhdn->bhn", q[..., 0], k) / math.sqrt(4), dim=-1)
    pooled = torch.einsum("bhn,bhdn->bhd", w, v).reshape(2, 8, 1)
    assert torch.allclose(pool(x), pool.proj(pooled)[:, :, 0], atol=1e-5)
    with torch.no_grad():
        pool.position.zero_()  # without positions the pool ignores where a pixel is
    perm = torch.randperm(16)
    assert torch.allclose(pool(x), pool(x.flatten(2)[:, :, perm].reshape(2, 8, 4, 4)), atol=1e-5)
    with pytest.raises(ValueError, match="4 x 4"):
        pool(torch.randn(1, 8, 8, 8))


def test_classifier_gradients_reach_every_layer():
    torch.manual_seed(0)
    clf = NoisyClassifier(num_classes=4, **TINY, use_scale_shift_norm=True, resblock_updown=True, num_head_channels=8)
    _unzero(clf)
    loss = torch.nn.functional.cross_entropy(clf(torch.randn(3, 1, 16, 16), torch.tensor([1, 2, 3])),
                                             torch.tensor([0, 1, 3]))
    loss.backward()
    assert not [n for n, p in clf.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]


@pytest.mark.parametrize("sampler", ["ancestral", "ddim"])
def test_guided_sampling_with_unet_and_classifier_on_a_respaced_process_uses_original_timesteps(sampler):
    torch.manual_seed(0)
    model, clf = UNet(**TINY, num_classes=2).eval(), NoisyClassifier(num_classes=2, **TINY).eval()
    _unzero(model)
    d = GaussianDiffusion(get_beta_schedule("linear", 1000), variance="fixed_large", loss_type="simple").respace(5)
    seen = []

    def spy(x_t, t):
        seen.append(t.tolist())
        return clf(x_t, t)

    y, noise = torch.tensor([0, 1]), torch.randn(2, 1, 16, 16)
    loop = ancestral_sample_loop if sampler == "ancestral" else ddim_sample_loop
    kwargs = dict(noise=noise, generator=torch.Generator().manual_seed(1))
    guided = loop(d, with_label(model, y), noise.shape, cond_fn=classifier_guidance(spy, y, 10.0), **kwargs)
    plain = loop(d, with_label(model, y), noise.shape, **kwargs)
    assert seen == [[s, s] for s in d.timestep_map.flip(0).tolist()] and seen[0] == [999, 999]
    assert guided.shape == noise.shape and torch.isfinite(guided).all()
    assert not torch.allclose(guided, plain)
