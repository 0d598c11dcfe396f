"""The DDPM U-Net (Ho et al. 2020, App. B) with the options of Dhariwal & Nichol 2021 (sec. 3).

Ho et al.: a PixelCNN++-style U-Net of residual blocks (GroupNorm, SiLU, 3 x 3 convolutions, the
timestep embedding added between the two convolutions), ``num_res_blocks`` blocks per resolution,
self-attention at 16 x 16, and a skip connection from each down-path block to the up path. The
CIFAR-10 model (128 channels, multipliers 1, 2, 2, 2, two blocks per level, dropout 0.1) has 35.7M
parameters. Dhariwal & Nichol add: several attention heads (``num_heads`` or ``num_head_channels``),
attention at more resolutions, adaptive group normalisation GroupNorm(h)(1 + scale) + shift from the
embedding (``use_scale_shift_norm``), and residual blocks that resample (``resblock_updown``, BigGAN).

The network returns ``out_channels`` channels: C for eps, 2C (eps then v) when learning sigma.

With ``num_classes`` it is class-conditional: a learned label embedding is added to the timestep
embedding (Dhariwal & Nichol 2021, sec. 3 and their code), with one extra "null" label, index
``num_classes``, that stands for "no label" (Ho & Salimans 2022, classifier-free guidance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .nn import normalization, timestep_embedding, zero_module

__all__ = ["UNet", "UNET_PRESETS", "build_unet", "count_parameters", "encoder_blocks"]

# Configurations as data. "ho-cifar10" is Ho et al. 2020 App. B; "iddpm-cifar10" is the CIFAR-10
# model of Nichol & Dhariwal 2021 (their code's defaults: heads 4, attention at 16 and 8, scale-shift
# norm; 3 blocks, dropout 0.3). "small" and "tiny" are ours, for short GPU and CPU runs.
UNET_PRESETS: dict[str, dict[str, Any]] = {
    "ho-cifar10": dict(model_channels=128, channel_mult=(1, 2, 2, 2), num_res_blocks=2,
                       attention_resolutions=(16,), dropout=0.1),
    "iddpm-cifar10": dict(model_channels=128, channel_mult=(1, 2, 2, 2), num_res_blocks=3,
                          attention_resolutions=(16, 8), num_heads=4, dropout=0.3, use_scale_shift_norm=True),
    "small": dict(model_channels=64, channel_mult=(1, 2, 2), num_res_blocks=2, attention_resolutions=(16,),
                  dropout=0.1),
    "tiny": dict(model_channels=32, channel_mult=(1, 2), num_res_blocks=1, attention_resolutions=(),
                 dropout=0.0, norm_groups=8),
}


class TimestepBlock(nn.Module):
    """A layer that also takes the timestep embedding."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class EmbedSequential(nn.Sequential):
    """Sequential that hands the embedding to the layers that take it."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb) if isinstance(layer, TimestepBlock) else layer(x)
        return x


class Downsample(nn.Module):
    """Halve the resolution: 3 x 3 convolution with stride 2 (Ho et al.) or 2 x 2 average pooling."""

    def __init__(self, channels: int, use_conv: bool = True) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1) if use_conv else nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Double the resolution: nearest-neighbour upsampling, then a 3 x 3 convolution (Ho et al.)."""

    def __init__(self, channels: int, use_conv: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1) if use_conv else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResBlock(TimestepBlock):
    """Residual block: x + conv(drop(act(norm(conv(act(norm(x))) + emb)))), 1 x 1 skip if widths differ.

    With ``use_scale_shift_norm`` the embedding gives (scale, shift) and the second normalisation is
    norm(h) (1 + scale) + shift (Dhariwal & Nichol 2021, "AdaGN"). With ``resample`` "up" or "down",
    both paths are resampled inside the block (BigGAN; Dhariwal & Nichol sec. 3).
    """

    def __init__(self, channels: int, emb_channels: int, out_channels: int, dropout: float = 0.0,
                 use_scale_shift_norm: bool = False, resample: str | None = None, norm_groups: int = 32) -> None:
        super().__init__()
        self.use_scale_shift_norm = use_scale_shift_norm
        self.norm_in = normalization(channels, norm_groups)
        self.conv_in = nn.Conv2d(channels, out_channels, 3, padding=1)
        resamplers = {None: nn.Identity, "up": lambda: Upsample(channels, use_conv=False),
                      "down": lambda: Downsample(channels, use_conv=False)}
        if resample not in resamplers:
            raise ValueError(f"resample must be None, 'up' or 'down', got {resample!r}")
        self.h_resample, self.x_resample = resamplers[resample](), resamplers[resample]()
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels * (2 if use_scale_shift_norm else 1)))
        self.norm_out = normalization(out_channels, norm_groups)
        self.out = nn.Sequential(nn.SiLU(), nn.Dropout(dropout),
                                 zero_module(nn.Conv2d(out_channels, out_channels, 3, padding=1)))
        self.skip = nn.Identity() if channels == out_channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(self.h_resample(F.silu(self.norm_in(x))))
        e = self.emb(emb).to(h.dtype)[..., None, None]
        if self.use_scale_shift_norm:
            scale, shift = e.chunk(2, dim=1)
            h = self.norm_out(h) * (1 + scale) + shift
        else:
            h = self.norm_out(h + e)
        return self.skip(self.x_resample(x)) + self.out(h)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over the pixels, x + proj(attention(norm(x))) (Ho et al. App. B)."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1, norm_groups: int = 32) -> None:
        super().__init__()
        if num_head_channels > 0:
            if channels % num_head_channels:
                raise ValueError(f"{channels} channels do not split into heads of {num_head_channels}")
            num_heads = channels // num_head_channels
        if channels % num_heads:
            raise ValueError(f"{channels} channels do not split into {num_heads} heads")
        self.num_heads = num_heads
        self.norm = normalization(channels, norm_groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = zero_module(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.num_heads, c // self.num_heads, hgt * wid)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # b x heads x pixels x head_dim
        h = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(head_dim)) v
        return x + self.proj(h.transpose(-1, -2).reshape(b, c, hgt, wid))


def encoder_blocks(in_channels: int, model_channels: int, channel_mult: Sequence[int], num_res_blocks: int,
                   attention_resolutions: Sequence[int], image_size: int,
                   res: Callable[[int, int, str | None], ResBlock], attn: Callable[[int], AttentionBlock],
                   resblock_updown: bool, conv_resample: bool) -> tuple[nn.ModuleList, list[int], int, int]:
    """The down path of the U-Net (Ho et al. 2020, App. B): input convolution, then per level
    ``num_res_blocks`` residual blocks (with attention at ``attention_resolutions``) and a downsampler.

    Returns the blocks, the width of each block's output (the skips of the up path), the final width
    and the final resolution. Shared by :class:`UNet` and the noise-aware classifier.
    """
    ch, resolution = model_channels, image_size
    down = nn.ModuleList([EmbedSequential(nn.Conv2d(in_channels, ch, 3, padding=1))])
    skips = [ch]
    for level, mult in enumerate(channel_mult):
        for _ in range(num_res_blocks):
            layers: list[nn.Module] = [res(ch, mult * model_channels, None)]
            ch = mult * model_channels
            if resolution in attention_resolutions:
                layers.append(attn(ch))
            down.append(EmbedSequential(*layers))
            skips.append(ch)
        if level != len(channel_mult) - 1:
            down.append(EmbedSequential(res(ch, ch, "down") if resblock_updown else Downsample(ch, conv_resample)))
            skips.append(ch)
            resolution //= 2
    return down, skips, ch, resolution


@dataclass
class Trunk:
    """The layers :class:`UNet` and the noise-aware classifier share, and the block builders for the rest."""

    time_embed: nn.Sequential
    down: nn.ModuleList
    middle: EmbedSequential
    skips: list[int]          # widths of the down path's outputs (the up path's skip connections)
    ch: int                   # width after the middle block
    resolution: int           # resolution after the down path
    res: Callable[..., ResBlock]
    attn: Callable[[int], AttentionBlock]


def build_trunk(in_channels: int, model_channels: int, num_res_blocks: int, attention_resolutions: Sequence[int],
                image_size: int, dropout: float, channel_mult: Sequence[int], num_heads: int, num_head_channels: int,
                use_scale_shift_norm: bool, resblock_updown: bool, norm_groups: int, conv_resample: bool) -> Trunk:
    """Time embedding (width 4 x ``model_channels``), down path (:func:`encoder_blocks`) and middle block
    (residual, attention, residual; Ho et al. 2020, App. B), made in that order."""
    if image_size % 2 ** (len(channel_mult) - 1):
        raise ValueError(f"image_size {image_size} is not divisible by 2^{len(channel_mult) - 1}")
    emb_ch = 4 * model_channels
    time_embed = nn.Sequential(nn.Linear(model_channels, emb_ch), nn.SiLU(), nn.Linear(emb_ch, emb_ch))

    def res(ch_in: int, ch_out: int, resample: str | None = None) -> ResBlock:
        return ResBlock(ch_in, emb_ch, ch_out, dropout, use_scale_shift_norm, resample, norm_groups)

    def attn(ch: int) -> AttentionBlock:
        return AttentionBlock(ch, num_heads, num_head_channels, norm_groups)

    down, skips, ch, resolution = encoder_blocks(in_channels, model_channels, channel_mult, num_res_blocks,
                                                 attention_resolutions, image_size, res, attn, resblock_updown,
                                                 conv_resample)
    middle = EmbedSequential(res(ch, ch), attn(ch), res(ch, ch))
    return Trunk(time_embed, down, middle, skips, ch, resolution, res, attn)


class UNet(nn.Module):
    """Noise-prediction U-Net ``model(x_t, t)``, ``model(x_t, t, y)`` with ``num_classes`` (see the module docstring).

    Args:
        in_channels: image channels (3 for RGB, 1 for grayscale).
        model_channels: width of the first level (Ho: 128).
        out_channels: defaults to ``in_channels``, doubled when ``learn_sigma``.
        num_res_blocks: residual blocks per level on the down path (one more on the up path).
        attention_resolutions: resolutions (in pixels) that get self-attention (Ho: 16).
        image_size: input side length, to place the attention layers.
        channel_mult: width multipliers per level; the number of levels is its length.
        num_heads / num_head_channels: attention heads (fixed count, or fixed width if > 0).
        use_scale_shift_norm, resblock_updown: the Dhariwal & Nichol options.
        norm_groups: GroupNorm groups (Ho: 32).
        num_classes: labels 0..num_classes-1 plus the null label ``num_classes``; ``None``: unconditional.
    """

    def __init__(self, in_channels: int = 3, model_channels: int = 128, out_channels: int | None = None,
                 num_res_blocks: int = 2, attention_resolutions: Sequence[int] = (16,), image_size: int = 32,
                 dropout: float = 0.0, channel_mult: Sequence[int] = (1, 2, 2, 2), num_heads: int = 1,
                 num_head_channels: int = -1, use_scale_shift_norm: bool = False, resblock_updown: bool = False,
                 learn_sigma: bool = False, norm_groups: int = 32, conv_resample: bool = True,
                 num_classes: int | None = None) -> None:
        super().__init__()
        trunk = build_trunk(in_channels, model_channels, num_res_blocks, attention_resolutions, image_size, dropout,
                            channel_mult, num_heads, num_head_channels, use_scale_shift_norm, resblock_updown,
                            norm_groups, conv_resample)
        self.in_channels, self.image_size, self.learn_sigma = in_channels, image_size, learn_sigma
        self.out_channels = out_channels or in_channels * (2 if learn_sigma else 1)
        self.model_channels = model_channels
        self.time_embed, self.down, self.middle = trunk.time_embed, trunk.down, trunk.middle
        res, attn, skips, ch, resolution = trunk.res, trunk.attn, trunk.skips, trunk.ch, trunk.resolution
        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers: list[nn.Module] = [res(ch + skips.pop(), mult * model_channels)]
                ch = mult * model_channels
                if resolution in attention_resolutions:
                    layers.append(attn(ch))
                if level and i == num_res_blocks:
                    layers.append(res(ch, ch, "up") if resblock_updown else Upsample(ch, conv_resample))
                    resolution *= 2
                self.up.append(EmbedSequential(*layers))
        self.out = nn.Sequential(normalization(ch, norm_groups), nn.SiLU(),
                                 zero_module(nn.Conv2d(ch, self.out_channels, 3, padding=1)))
        self.num_classes = num_classes
        if num_classes is not None:  # made last: the other layers draw the unconditional model's weights
            self.label_embed = nn.Embedding(num_classes + 1, 4 * model_channels)

    @property
    def null_label(self) -> int | None:
        """The label index meaning "no label" (classifier-free guidance), or ``None`` if unconditional."""
        return self.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """eps (then v) at ``x`` and timesteps ``t``; a conditional model reads ``y`` (``None``: the null label)."""
        emb = self.time_embed(timestep_embedding(t, self.model_channels).to(x.dtype))
        if self.num_classes is not None:
            y = torch.full_like(t, self.num_classes) if y is None else y
            emb = emb + self.label_embed(y).to(emb.dtype)
        elif y is not None:
            raise ValueError("this U-Net is unconditional (num_classes=None) but was given labels y")
        h, hs = x, []
        for block in self.down:
            h = block(h, emb)
            hs.append(h)
        h = self.middle(h, emb)
        for block in self.up:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


def build_unet(preset: str, in_channels: int = 3, image_size: int = 32, learn_sigma: bool = False,
               **overrides: Any) -> UNet:
    """A :class:`UNet` from a named preset in :data:`UNET_PRESETS`, with keyword overrides."""
    if preset not in UNET_PRESETS:
        raise ValueError(f"unknown U-Net preset {preset!r}; choose one of {', '.join(UNET_PRESETS)}")
    kwargs = {**UNET_PRESETS[preset], **overrides}
    return UNet(in_channels=in_channels, image_size=image_size, learn_sigma=learn_sigma, **kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
