"""A small residual super-resolution network: bicubic plus a residual learned at low resolution.

Two ideas, each from a paper:

- **Residual on bicubic** (Kim, Lee, Lee 2016, "Accurate Image Super-Resolution Using Very Deep
  Convolutional Networks", VDSR): the network only predicts ``HR - bicubic(LR)``. The residual
  is small and mostly high-frequency, so training converges quickly, and a network whose last
  layer is zero returns exactly bicubic: the model can only start from the baseline and improve.
- **Compute at low resolution, upsample at the end** (Shi et al. 2016, "Real-Time Single Image
  and Video Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network", ESPCN;
  Dong, Loy, Tang 2016, "Accelerating the Super-Resolution Convolutional Neural Network",
  FSRCNN): VDSR runs all its layers on the upscaled image; here every convolution runs on the
  LR grid and the last one emits ``3 * scale**2`` channels that ``pixel_shuffle`` rearranges into
  the HR residual. That is ``scale**2`` times fewer operations per layer for the same depth.

Colour: the network works on **RGB** directly (input and output RGB float in 0..1, NCHW), so the
editor needs no YCbCr round trip and chroma gets sharpened too. The luma-only OpenCV models in the
shared MANIFEST need a Y/CbCr split; CARN-M and RFDN are RGB like this one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Sizes per scale, chosen by the quality gained per CPU second of training on one thread
#: (see training/README.md). `channels` is the width of every hidden layer, `depth` the number
#: of hidden 3x3 convolutions after the first one.
ARCHITECTURES: dict[int, dict[str, int]] = {
    2: {"channels": 32, "depth": 6},
    3: {"channels": 32, "depth": 6},
    4: {"channels": 32, "depth": 6},
}


class ResidualSR(nn.Module):
    """``forward(lr) = bicubic(lr) + pixel_shuffle(body(lr))`` for a fixed integer `scale`.

    Input ``lr``: float tensor (N, 3, h, w), RGB in 0..1. Output: (N, 3, h * scale, w * scale),
    RGB, *not clipped* (clip to 0..1 where you quantise; clipping here would stop gradients at
    saturated pixels during training).

    Body: conv 3x3 (3 -> C) + PReLU, `depth` x [conv 3x3 (C -> C) + PReLU], conv 3x3
    (C -> 3 * scale**2), pixel_shuffle(scale). PReLU follows FSRCNN. Zero padding keeps the size,
    so any h, w >= 1 works and tiles only need a few pixels of overlap (receptive field:
    ``depth + 2`` LR pixels on each side).
    """

    def __init__(self, scale: int, channels: int = 32, depth: int = 6) -> None:
        super().__init__()
        if scale < 2:
            raise ValueError(f"scale must be >= 2, got {scale}")
        self.scale = scale
        self.channels = channels
        self.depth = depth
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.PReLU(channels)]
        for _ in range(depth):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels)]
        self.body = nn.Sequential(*layers)
        self.tail = nn.Conv2d(channels, 3 * scale * scale, 3, padding=1)
        # Start as exact bicubic: the residual branch contributes nothing until it has learned
        # something, so early checkpoints are never worse than the baseline.
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context each output pixel depends on (for tile overlap), bicubic's 2 incl."""
        return max(self.depth + 2, 2)

    def upsample(self, lr: torch.Tensor) -> torch.Tensor:
        """The bicubic baseline the residual is added to (N, 3, h*s, w*s)."""
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)

    def residual(self, lr: torch.Tensor) -> torch.Tensor:
        """The learned HR residual (N, 3, h*s, w*s), computed on the LR grid."""
        return F.pixel_shuffle(self.tail(self.body(lr)), self.scale)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.upsample(lr) + self.residual(lr)


def build(scale: int) -> ResidualSR:
    """The network shipped for `scale` (2, 3 or 4), freshly initialised (equals bicubic)."""
    if scale not in ARCHITECTURES:
        raise ValueError(f"no architecture for scale {scale}; have {sorted(ARCHITECTURES)}")
    return ResidualSR(scale, **ARCHITECTURES[scale])
