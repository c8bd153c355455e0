"""Pretrained RGB super-resolution networks: CARN-M (x2/x3/x4) and RFDN (x4), as pure torch.

These are our own definitions of two published networks, written so that the original weight
files (shared MANIFEST section 5) load with ``load_state_dict(strict=True)`` — the parameter
names below are the files' keys. No file access here: the engine reads the weights
(``editor.engine.store.load_state_dict``) and hands the dict over.

- **CARN-M**: Ahn, Kang, Sohn 2018, "Fast, Accurate, and Lightweight Super-Resolution with
  Cascading Residual Network" (ECCV), the mobile variant. Weights: nmhkahn/CARN-pytorch
  ``checkpoint/carn_m.pth`` (MIT, (c) 2018 Namhyuk Ahn); one file serves x2, x3 and x4.
- **RFDN**: Liu, Tang, Wu 2020, "Residual Feature Distillation Network for Lightweight Image
  Super-Resolution" (ECCV AIM workshop; winner of the AIM 2020 efficient-SR challenge). Weights:
  njulj/RFDN ``trained_model/RFDN_AIM.pth`` (MIT, (c) 2021 njulj); x4 only.

Convention for callers (the same as `editor.ops.sr_net.ResidualSR`): input float (N, 3, h, w) RGB
in 0..1, output (N, 3, h*s, w*s) RGB in 0..1 *not clipped* (clip where you quantise). Each class
converts to its network's native range inside ``forward`` (CARN-M already works on 0..1 and
subtracts the DIV2K mean itself; RFDN works on 0..255).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------- CARN-M


class _ConvReLU(nn.Module):
    """1x1 conv + ReLU; the file's ``<name>.body.0`` (CARN's ``BasicBlock``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _EfficientResidual(nn.Module):
    """CARN-M's efficient residual unit: ``relu(x + conv1x1(relu(gconv(relu(gconv(x))))))``.

    Grouped 3x3 convolutions (4 groups) and a 1x1 pointwise conv replace the two full 3x3 convs
    of a plain residual block (Ahn et al. 2018, sec. 3.3, "efficient residual block").
    """

    def __init__(self, channels: int = 64, groups: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


def _cascade(
    x: torch.Tensor,
    units: tuple[nn.Module, nn.Module, nn.Module],
    fusions: tuple[nn.Module, nn.Module, nn.Module],
) -> torch.Tensor:
    """The cascading connection (Ahn et al. 2018, Fig. 2): each unit's output is concatenated to
    everything before it and fused back to 64 channels by a 1x1 conv + ReLU."""
    cat = out = x
    for unit, fuse in zip(units, fusions, strict=True):
        cat = torch.cat([cat, unit(out)], dim=1)
        out = fuse(cat)
    return out


class _CascadingBlock(nn.Module):
    """A cascading block of CARN-M: one efficient residual unit ``b1`` applied three times with
    *shared* weights (the "recursive" trick of CARN-M), fused by ``c1``/``c2``/``c3``."""

    def __init__(self, channels: int = 64, groups: int = 4) -> None:
        super().__init__()
        self.b1 = _EfficientResidual(channels, groups)
        self.c1 = _ConvReLU(channels * 2, channels)
        self.c2 = _ConvReLU(channels * 3, channels)
        self.c3 = _ConvReLU(channels * 4, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _cascade(x, (self.b1, self.b1, self.b1), (self.c1, self.c2, self.c3))


class _MeanShift(nn.Module):
    """``shifter``: a 1x1 conv 3 -> 3 (identity weight, bias -mean or +mean), stored in the file."""

    def __init__(self) -> None:
        super().__init__()
        self.shifter = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shifter(x)


class _Upsample(nn.Module):
    """Stages of grouped conv 3x3 (C -> C*r*r) + ReLU + pixel_shuffle(r)."""

    def __init__(self, channels: int, ratio: int, stages: int, groups: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(stages):
            layers += [
                nn.Conv2d(channels, channels * ratio * ratio, 3, padding=1, groups=groups),
                nn.ReLU(inplace=True),
                nn.PixelShuffle(ratio),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _MultiScaleUpsample(nn.Module):
    """One upsampler per scale: x2 one stage of 2, x3 one stage of 3, x4 two stages of 2."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.up2 = _Upsample(channels, 2, 1, groups)
        self.up3 = _Upsample(channels, 3, 1, groups)
        self.up4 = _Upsample(channels, 2, 2, groups)

    def forward(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        ups = {2: self.up2, 3: self.up3, 4: self.up4}
        if scale not in ups:
            raise ValueError(f"CARN-M upscales by 2, 3 or 4, not {scale}")
        return ups[scale](x)


class CARNM(nn.Module):
    """CARN-M (Ahn et al. 2018): one network for x2, x3 and x4, ~415k parameters.

    ``forward(rgb01_lr, scale)``: input float (N, 3, h, w) RGB in 0..1 (any h, w >= 1), output
    (N, 3, h*scale, w*scale) RGB in ~0..1, not clipped. Data path: ``sub_mean`` (minus the DIV2K
    mean) -> ``entry`` 3x3 conv 3 -> 64 -> a cascade of three cascading blocks ``b1..b3`` fused by
    ``c1..c3`` -> the upsampler for `scale` -> ``exit`` 3x3 conv 64 -> 3 -> ``add_mean``. There is
    no global skip and no bicubic add. All convolutions zero-pad, so the output only depends on
    ~21 LR pixels around each point (use that much tile overlap).
    """

    scales: tuple[int, ...] = (2, 3, 4)

    def __init__(self, channels: int = 64, groups: int = 4) -> None:
        super().__init__()
        self.sub_mean = _MeanShift()
        self.add_mean = _MeanShift()
        self.entry = nn.Conv2d(3, channels, 3, padding=1)
        self.b1 = _CascadingBlock(channels, groups)
        self.b2 = _CascadingBlock(channels, groups)
        self.b3 = _CascadingBlock(channels, groups)
        self.c1 = _ConvReLU(channels * 2, channels)
        self.c2 = _ConvReLU(channels * 3, channels)
        self.c3 = _ConvReLU(channels * 4, channels)
        self.upsample = _MultiScaleUpsample(channels, groups)
        self.exit = nn.Conv2d(channels, 3, 3, padding=1)

    def forward(self, rgb01_lr: torch.Tensor, scale: int) -> torch.Tensor:
        x = self.entry(self.sub_mean(rgb01_lr))  # CARN's native input is RGB 0..1 already
        x = _cascade(x, (self.b1, self.b2, self.b3), (self.c1, self.c2, self.c3))
        return self.add_mean(self.exit(self.upsample(x, scale)))


# --------------------------------------------------------------------------------------- RFDN


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU with slope 0.05, RFDN's activation."""
    return F.leaky_relu(x, 0.05)


class _ESA(nn.Module):
    """Enhanced Spatial Attention (Liu et al. 2020, from RFANet, Liu et al. CVPR 2020).

    A cheap attention mask from a strongly downsampled copy of the features: 1x1 reduce to 12
    channels, stride-2 3x3 conv (no padding), 7x7/3 max-pool, three 3x3 convs, bilinear back to
    full size, plus a 1x1 skip from the reduced features, 1x1 to C, sigmoid, times the input.
    Needs h, w >= 15 (the pool needs a 7x7 map after the stride-2 conv); because the pooled map
    spans the whole input, the mask depends on the tile, so tile with generous overlap.
    """

    def __init__(self, channels: int = 50) -> None:
        super().__init__()
        f = channels // 4
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv_max = nn.Conv2d(f, f, 3, padding=1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv3_ = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        a = self.conv1(y)
        b = F.max_pool2d(self.conv2(a), kernel_size=7, stride=3)
        b = F.relu(self.conv_max(b))
        b = F.relu(self.conv3(b))
        b = self.conv3_(b)
        b = F.interpolate(b, size=y.shape[-2:], mode="bilinear", align_corners=False)
        return y * torch.sigmoid(self.conv4(b + self.conv_f(a)))


class _RFDB(nn.Module):
    """Residual feature distillation block: three steps that each *distil* 25 channels with a 1x1
    conv and *refine* the rest with a shallow residual 3x3 conv, a last 3x3 distillation, a 1x1
    fusion of the four distilled parts, then ESA. No skip around the block."""

    def __init__(self, channels: int = 50) -> None:
        super().__init__()
        d = channels // 2
        self.c1_d = nn.Conv2d(channels, d, 1)
        self.c1_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c2_d = nn.Conv2d(channels, d, 1)
        self.c2_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c3_d = nn.Conv2d(channels, d, 1)
        self.c3_r = nn.Conv2d(channels, channels, 3, padding=1)
        self.c4 = nn.Conv2d(channels, d, 3, padding=1)
        self.c5 = nn.Conv2d(d * 4, channels, 1)
        self.esa = _ESA(channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        distilled = []
        r = h
        for distil, refine in (
            (self.c1_d, self.c1_r),
            (self.c2_d, self.c2_r),
            (self.c3_d, self.c3_r),
        ):
            distilled.append(_lrelu(distil(r)))
            r = _lrelu(refine(r) + r)
        distilled.append(_lrelu(self.c4(r)))
        return self.esa(self.c5(torch.cat(distilled, dim=1)))


class RFDN(nn.Module):
    """RFDN (Liu et al. 2020), the AIM 2020 x4 model, ~433k parameters.

    ``forward(rgb01_lr)``: input float (N, 3, h, w) RGB in 0..1 (any h, w >= 1), output
    (N, 3, 4h, 4w) RGB in ~0..1, not clipped. Internally the network works on RGB **0..255**
    with no mean removed; ``forward`` multiplies by 255 on the way in and divides on the way out.

    Small inputs: ESA needs an LR of at least ``MIN_SIZE`` (15) pixels per side, so a smaller
    input is padded at the bottom/right by reflection (repeated, or replicated for a 1-pixel side)
    up to 15 and the output cropped back to 4h x 4w. Results near such a padded edge are
    plausible but not what a larger crop would give; the tiler should hand over tiles >= 15.

    Data path: ``fea_conv`` 3x3 3 -> 50 = F -> RFDB ``B1..B4`` in series -> ``c.0`` 1x1 on the
    concatenated block outputs + LReLU -> ``LR_conv`` 3x3 -> + F -> ``upsampler.0`` 3x3 50 -> 48
    -> pixel_shuffle(4).
    """

    scales: tuple[int, ...] = (4,)
    MIN_SIZE = 15

    def __init__(self, channels: int = 50, blocks: int = 4) -> None:
        super().__init__()
        self.fea_conv = nn.Conv2d(3, channels, 3, padding=1)
        self.B1 = _RFDB(channels)
        self.B2 = _RFDB(channels)
        self.B3 = _RFDB(channels)
        self.B4 = _RFDB(channels)
        self.c = nn.Sequential(nn.Conv2d(channels * blocks, channels, 1), nn.LeakyReLU(0.05))
        self.LR_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.upsampler = nn.Sequential(
            nn.Conv2d(channels, 3 * 16, 3, padding=1), nn.PixelShuffle(4)
        )

    def forward(self, rgb01_lr: torch.Tensor) -> torch.Tensor:
        h, w = rgb01_lr.shape[-2:]
        x = _pad_to_min(rgb01_lr, self.MIN_SIZE) * 255.0
        fea = self.fea_conv(x)
        outs = []
        out = fea
        for block in (self.B1, self.B2, self.B3, self.B4):
            out = block(out)
            outs.append(out)
        lr_features = self.LR_conv(self.c(torch.cat(outs, dim=1))) + fea
        hr = self.upsampler(lr_features) / 255.0
        return hr[..., : h * 4, : w * 4]


def _pad_to_min(x: torch.Tensor, size: int) -> torch.Tensor:
    """Pad (N, C, h, w) at the bottom/right up to `size` per side: reflection, repeated while the
    side is too short for one reflection (pad must be < side), replication for a side of 1."""
    while x.shape[-2] < size or x.shape[-1] < size:
        h, w = x.shape[-2:]
        pad_h = min(max(size - h, 0), max(h - 1, 0))
        pad_w = min(max(size - w, 0), max(w - 1, 0))
        if (h < size and pad_h == 0) or (w < size and pad_w == 0):  # a side of 1 pixel
            x = F.pad(x, (0, max(size - w, 0), 0, max(size - h, 0)), mode="replicate")
        else:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
    return x


__all__ = ["CARNM", "RFDN"]
