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
    2: {"channels": 48, "depth": 8},
    3: {"channels": 48, "depth": 8},
    4: {"channels": 48, "depth": 8},
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
        # He et al. 2015 ("Delving Deep into Rectifiers", the PReLU paper) initialisation for a
        # plain conv stack with PReLU(0.25): it keeps the activation variance constant with
        # depth. PyTorch's default init shrinks it layer by layer, so with 10 layers the tail saw
        # almost no signal and training stalled at the bicubic loss.
        for module in self.body:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=0.25, nonlinearity="leaky_relu")
                nn.init.zeros_(module.bias)
        # Start as exact bicubic: the residual branch contributes nothing until it has learned
        # something, so early checkpoints are never worse than the baseline.
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context one output pixel sees on each side (tile overlap to use).

        depth + 2 stacked 3x3 convolutions add one pixel each; bicubic alone reaches 2.
        """
        return max(self.depth + 2, 2)

    def upsample(self, lr: torch.Tensor) -> torch.Tensor:
        """The bicubic baseline the residual is added to (N, 3, h*s, w*s)."""
        return F.interpolate(lr, scale_factor=self.scale, mode="bicubic", align_corners=False)

    def residual(self, lr: torch.Tensor) -> torch.Tensor:
        """The learned HR residual (N, 3, h*s, w*s), computed on the LR grid."""
        return F.pixel_shuffle(self.tail(self.body(lr)), self.scale)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.upsample(lr) + self.residual(lr)


def build(scale: int, channels: int | None = None, depth: int | None = None) -> ResidualSR:
    """The network for `scale` (2, 3 or 4), freshly initialised (it equals bicubic).

    `channels` / `depth` override the shipped sizes (experiments; loading weights whose
    safetensors metadata records other sizes).
    """
    if scale not in ARCHITECTURES:
        raise ValueError(f"no architecture for scale {scale}; have {sorted(ARCHITECTURES)}")
    sizes = dict(ARCHITECTURES[scale])
    if channels is not None:
        sizes["channels"] = channels
    if depth is not None:
        sizes["depth"] = depth
    return ResidualSR(scale, **sizes)


def from_weights(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> ResidualSR:
    """A `ResidualSR` from a shipped safetensors file's tensors and metadata (no file access).

    The metadata carries ``scale``, ``channels`` and ``depth`` (written by
    tools/train_upscaler.py), so weights trained with other sizes still load. float16 weights are
    promoted to float32.
    """
    model = ResidualSR(int(metadata["scale"]), int(metadata["channels"]), int(metadata["depth"]))
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    return model.eval()
