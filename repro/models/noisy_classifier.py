"""The noise-aware classifier p_phi(y | x_t, t) of classifier guidance (Dhariwal & Nichol 2021, sec. 4).

Dhariwal & Nichol train a classifier on noisy images x_t ~ q(x_t | x0) at every t and use "the
downsampling trunk of the UNet model with an attention pool at the 8x8 layer" (sec. 4): here the
U-Net's encoder half (:func:`repro.models.unet.build_trunk`, the same residual blocks, timestep
embedding and attention), its middle block, then GroupNorm, SiLU and attention pooling
(Radford et al. 2021, CLIP): the mean of the final feature map, as an extra token, attends over the
map's pixels with learned position embeddings, and its output is projected to the class logits.

The classifier is called with the ORIGINAL timestep of a respaced process, like the denoiser.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .nn import normalization, timestep_embedding
from .unet import UNET_PRESETS, build_trunk

__all__ = ["AttentionPool2d", "NoisyClassifier", "build_noisy_classifier"]


class AttentionPool2d(nn.Module):
    """Attention pooling of a C x H x W map to ``out_dim`` features (Radford et al. 2021, CLIP, sec. 2.4).

    Tokens are the mean pixel followed by the H W pixels, each plus a learned position embedding;
    multi-head attention (softmax(q k^T / sqrt(d)) v) is read out at the mean token only.
    """

    def __init__(self, spatial_size: int, channels: int, out_dim: int, num_heads: int = 1) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"{channels} channels do not split into {num_heads} heads")
        self.num_heads, self.spatial_size = num_heads, spatial_size
        self.position = nn.Parameter(torch.randn(channels, spatial_size ** 2 + 1) / channels ** 0.5)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = nn.Conv1d(channels, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        if hgt * wid != self.spatial_size ** 2:
            raise ValueError(f"expected a {self.spatial_size} x {self.spatial_size} map, got {hgt} x {wid}")
        tokens = x.reshape(b, c, hgt * wid)
        tokens = torch.cat([tokens.mean(dim=-1, keepdim=True), tokens], dim=-1) + self.position.to(x.dtype)
        qkv = self.qkv(tokens).reshape(b, 3, self.num_heads, c // self.num_heads, -1)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # b x heads x tokens x head_dim
        h = F.scaled_dot_product_attention(q[:, :, :1], k, v)      # the mean token's query only
        return self.proj(h.transpose(-1, -2).reshape(b, c, 1))[:, :, 0]


class NoisyClassifier(nn.Module):
    """Logits of p_phi(y | x_t, t): ``classifier(x_t, t)`` -> N x ``num_classes`` (see the module docstring).

    The arguments shared with :class:`repro.models.unet.UNet` mean the same (its down path and middle
    block are built from them); the attention pool has ``num_heads`` heads, or heads of
    ``num_head_channels`` channels when that is positive.
    """

    def __init__(self, num_classes: int, in_channels: int = 3, model_channels: int = 128, num_res_blocks: int = 2,
                 attention_resolutions: Sequence[int] = (16,), image_size: int = 32, dropout: float = 0.0,
                 channel_mult: Sequence[int] = (1, 2, 2, 2), num_heads: int = 1, num_head_channels: int = -1,
                 use_scale_shift_norm: bool = False, resblock_updown: bool = False, norm_groups: int = 32,
                 conv_resample: bool = True) -> None:
        super().__init__()
        trunk = build_trunk(in_channels, model_channels, num_res_blocks, attention_resolutions, image_size, dropout,
                            channel_mult, num_heads, num_head_channels, use_scale_shift_norm, resblock_updown,
                            norm_groups, conv_resample)
        self.num_classes, self.model_channels = num_classes, model_channels
        self.time_embed, self.down, self.middle = trunk.time_embed, trunk.down, trunk.middle
        ch, resolution = trunk.ch, trunk.resolution
        heads = ch // num_head_channels if num_head_channels > 0 else num_heads
        self.out = nn.Sequential(normalization(ch, norm_groups), nn.SiLU())
        self.pool = AttentionPool2d(resolution, ch, num_classes, heads)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        emb = self.time_embed(timestep_embedding(t, self.model_channels).to(x.dtype))
        h = x
        for block in self.down:
            h = block(h, emb)
        return self.pool(self.out(self.middle(h, emb)))


def build_noisy_classifier(preset: str, num_classes: int, in_channels: int = 3, image_size: int = 32,
                           **overrides: Any) -> NoisyClassifier:
    """A :class:`NoisyClassifier` whose trunk is the encoder half of U-Net preset ``preset`` (:data:`UNET_PRESETS`)."""
    if preset not in UNET_PRESETS:
        raise ValueError(f"unknown U-Net preset {preset!r}; choose one of {', '.join(UNET_PRESETS)}")
    kwargs = {**UNET_PRESETS[preset], **overrides}
    return NoisyClassifier(num_classes, in_channels=in_channels, image_size=image_size, **kwargs)
