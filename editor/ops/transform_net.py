"""Feed-forward style networks (Johnson, Alahi, Fei-Fei 2016), one style per network.

Johnson et al., "Perceptual Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016:
a transform network is trained on many photos against the Gram style loss of one painting, and
afterwards stylises any image in one forward pass. The shape is theirs: a wide 9x9 convolution,
two strided convolutions down, residual blocks at 1/4 resolution, two upsampling stages back, a 9x9
convolution to RGB, with instance normalisation (Ulyanov, Vedaldi, Lempitsky 2016, "Instance
Normalization: The Missing Ingredient for Fast Stylization") after every convolution but the last.

Two networks live here:

- `TransformNet`, ours: slim by default (16/32/64 channels, 3 residual blocks, ~0.2 M
  parameters, < 1 MB) so it trains in minutes and runs on a 512x512 region in a fraction of a
  second on a CPU. Reflection padding (no dark frame at the borders), nearest-neighbour upsampling
  followed by a convolution instead of a transposed convolution (Odena, Dumoulin, Olah 2016,
  "Deconvolution and Checkerboard Artifacts", Distill). RGB 0..1 in and out. Its sizes travel in
  the safetensors metadata so `load_transform_net` rebuilds it. Optionally (`input_noise`)
  Gaussian noise is added to its input, as in Ulyanov et al.'s texture networks: a convolutional
  net maps a flat area (a night sky) to a flat area, while the painting has strokes everywhere;
  trained with noise, it paints them there too. Noise is fresh in training; at inference it is a
  fixed tile addressed by absolute pixel position (`origin`), so a region, a tile or the whole
  image get the same strokes where they overlap.
- `JohnsonTF`: the original layout of lengstrom/fast-style-transfer (TensorFlow) with TF "SAME"
  zero padding, 0..255 ranges and transposed convolutions, exactly as the shared MANIFEST
  (section 1) describes, so the six known-good nets in ../shared/models/fast_style check our
  inference path in tests. Those weights are research-only and never ship.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURE = "TransformNet"
DEFAULT_CHANNELS = (16, 32, 64)
DEFAULT_BLOCKS = 3
NOISE_TILE = 256
"""Side of the fixed inference noise, repeated across larger images."""


class ConvLayer(nn.Module):
    """Reflection padding + convolution: no zero frame for the network to learn around."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.pad = kernel // 2
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (self.pad,) * 4, mode="reflect"))


class ConvNormReLU(nn.Sequential):
    """ConvLayer -> affine instance norm (Ulyanov et al. 2016) -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            ConvLayer(c_in, c_out, kernel, stride),
            nn.InstanceNorm2d(c_out, affine=True),
            nn.ReLU(inplace=True),
        )


class ResidualBlock(nn.Module):
    """x + IN(conv(ReLU(IN(conv(x))))), He et al. 2016 "Deep Residual Learning", as Johnson et al.
    use it: the identity path carries the content, the block learns the texture on top."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3),
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Sequential):
    """Nearest-neighbour x2, then a convolution: no checkerboard from uneven kernel overlap
    (Odena, Dumoulin, Olah 2016, https://distill.pub/2016/deconv-checkerboard/)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvLayer(c_in, c_out, kernel),
            nn.InstanceNorm2d(c_out, affine=True),
            nn.ReLU(inplace=True),
        )


class TransformNet(nn.Module):
    """One style's feed-forward stylisation network.

    forward(x (B, 3, H, W) float RGB 0..1) -> (B, 3, H, W) float RGB 0..1, any H, W >= 1: the
    input is padded (edge replicate) to a multiple of 4 for the two stride-2 stages and the
    output cropped back. `channels` are the widths at full, 1/2 and 1/4 resolution; `blocks`
    residual blocks run at 1/4 resolution.
    """

    MULTIPLE = 4

    def __init__(
        self,
        channels: tuple[int, int, int] = DEFAULT_CHANNELS,
        blocks: int = DEFAULT_BLOCKS,
        input_noise: float = 0.0,
    ) -> None:
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.channels = (c1, c2, c3)
        self.blocks = int(blocks)
        self.input_noise = float(input_noise)
        self.down = nn.Sequential(
            ConvNormReLU(3, c1, 9),
            ConvNormReLU(c1, c2, 3, stride=2),
            ConvNormReLU(c2, c3, 3, stride=2),
        )
        self.res = nn.Sequential(*(ResidualBlock(c3) for _ in range(self.blocks)))
        self.up = nn.Sequential(UpsampleConv(c3, c2), UpsampleConv(c2, c1))
        self.to_rgb = ConvLayer(c1, 3, 9)

    @property
    def context(self) -> int:
        """Receptive radius in input pixels: how far a pixel's output reads (instance norms'
        image-wide statistics aside). Kernel radius times stride per layer: 9x9 (4), two 3x3/2
        (1 + 2), two 3x3 per residual block at 1/4 resolution (8), two upsampled 3x3 (2 + 1),
        the closing 9x9 (4); plus 3 where a pixel sits unevenly on the stride-2 grids."""
        return 17 + 8 * self.blocks

    def config(self) -> dict[str, object]:
        config: dict[str, object] = {"channels": list(self.channels), "blocks": self.blocks}
        if self.input_noise:
            config["input_noise"] = self.input_noise
        return config

    def forward(self, x: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """origin: (x, y) of the input's top-left pixel in the whole image (the inference noise
        is addressed by it; nothing else depends on it)."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an RGB batch (B, 3, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if self.input_noise:
            noise = torch.randn_like(x) if self.training else _noise_at(x, origin)
            x = (x + self.input_noise * noise).clamp(0.0, 1.0)
        m = self.MULTIPLE
        ph, pw = (-h) % m, (-w) % m
        # Small images: a margin so the 9x9 reflection pads have room (reflect needs pad < size).
        extra = 4 if min(h, w) < 16 else 0
        if ph or pw or extra:
            x = F.pad(x, (extra, pw + extra, extra, ph + extra), mode="replicate")
        y = self.to_rgb(self.up(self.res(self.down(x))))
        # Johnson et al.'s scaled tanh: centred on mid-grey, saturating a little beyond 0..1 so the
        # extremes are reachable without infinite pre-activations; clipped to the image range.
        y = (0.5 + 0.6 * torch.tanh(y)).clamp(0.0, 1.0)
        return y[..., extra : extra + h, extra : extra + w]


@cache
def _noise_tile() -> torch.Tensor:
    return torch.randn(3, NOISE_TILE, NOISE_TILE, generator=torch.Generator().manual_seed(0))


def _noise_at(x: torch.Tensor, origin: tuple[int, int]) -> torch.Tensor:
    """The fixed noise under x's pixels when x's top-left sits at `origin` = (x, y)."""
    h, w = x.shape[-2:]
    rows = (torch.arange(h) + int(origin[1])) % NOISE_TILE
    cols = (torch.arange(w) + int(origin[0])) % NOISE_TILE
    tile = _noise_tile()[:, rows][:, :, cols]
    return tile.to(x.device, x.dtype).expand_as(x)


def metadata_for(net: TransformNet) -> dict[str, str]:
    """The safetensors metadata that `load_transform_net` needs (callers add provenance)."""
    return {
        "architecture": ARCHITECTURE,
        "config": json.dumps(net.config()),
        "input": "RGB float 0..1 NCHW; output RGB 0..1",
    }


def load_transform_net(
    state_dict: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> TransformNet:
    """Rebuild a `TransformNet` from its weights and safetensors metadata (eval mode, frozen).

    Without metadata the default sizes are assumed. ValueError when the file is another network.
    """
    meta = dict(metadata or {})
    arch = meta.get("architecture", ARCHITECTURE)
    if arch != ARCHITECTURE:
        raise ValueError(f"not a fast-style network: architecture {arch!r}")
    config = json.loads(meta["config"]) if "config" in meta else {}
    net = TransformNet(
        tuple(config.get("channels", DEFAULT_CHANNELS)),
        config.get("blocks", DEFAULT_BLOCKS),
        float(config.get("input_noise", 0.0)),
    )
    try:
        net.load_state_dict({k: v.float() for k, v in state_dict.items()}, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"weights do not fit a {arch} {config}: {exc}") from exc
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


# --------------------------------------------------------------------------------------------
# The TensorFlow layout of the known-good nets (tests only)


def _same_pad(n: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME": total = max((ceil(n/s) - 1) * s + k - n, 0), the extra pixel at the end."""
    total = max((math.ceil(n / stride) - 1) * stride + kernel - n, 0)
    return total // 2, total - total // 2


class JohnsonTF(nn.Module):
    """The lengstrom/fast-style-transfer network with the shared MANIFEST's conventions.

    forward(x (B, 3, H, W) float RGB 0..255) -> (B, 3, H, W) float RGB 0..255; H, W are padded
    (edge replicate) to multiples of 4 and the output cropped back. Weights: `load_johnson_tf`.
    Layers: conv1 9x9 32, conv2 3x3/2 64, conv3 3x3/2 128, 5 residual blocks at 128, two
    stride-2 transposed convolutions (64, 32), conv4 9x9 3; instance norm with eps 1e-3 after every
    convolution (conv4 included), ReLU after all but `res*_2` and conv4.
    """

    CONVS = (("conv1", 3, 32, 9, 1), ("conv2", 32, 64, 3, 2), ("conv3", 64, 128, 3, 2))

    def __init__(self, width: int = 128, res_blocks: int = 5) -> None:
        super().__init__()
        self.res_blocks = res_blocks
        shapes: dict[str, tuple[int, ...]] = {
            "conv1": (32, 3, 9, 9),
            "conv2": (64, 32, 3, 3),
            "conv3": (width, 64, 3, 3),
            "deconv1": (width, 64, 3, 3),
            "deconv2": (64, 32, 3, 3),
            "conv4": (3, 32, 9, 9),
        }
        for i in range(1, res_blocks + 1):
            for j in (1, 2):
                shapes[f"res{i}_{j}"] = (width, width, 3, 3)
        for name, shape in shapes.items():
            out_channels = shape[1] if name.startswith("deconv") else shape[0]
            weight = torch.randn(shape) * math.sqrt(2.0 / (shape[1] * shape[2] * shape[3]))
            self.register_parameter(f"{name}_weight", nn.Parameter(weight))
            self.register_parameter(f"{name}_in_scale", nn.Parameter(torch.ones(out_channels)))
            self.register_parameter(f"{name}_in_shift", nn.Parameter(torch.zeros(out_channels)))

    def _p(self, name: str, part: str) -> torch.Tensor:
        return getattr(self, f"{name}_{part}")

    def _norm(self, x: torch.Tensor, name: str, relu: bool = True) -> torch.Tensor:
        mean = x.mean((2, 3), keepdim=True)
        var = x.var((2, 3), keepdim=True, unbiased=False)
        scale = self._p(name, "in_scale").view(1, -1, 1, 1)
        shift = self._p(name, "in_shift").view(1, -1, 1, 1)
        y = scale * (x - mean) / torch.sqrt(var + 1e-3) + shift
        return F.relu(y) if relu else y

    def _conv(self, x: torch.Tensor, name: str, stride: int) -> torch.Tensor:
        weight = self._p(name, "weight")
        k = weight.shape[-1]
        top, bottom = _same_pad(x.shape[-2], k, stride)
        left, right = _same_pad(x.shape[-1], k, stride)
        return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, stride=stride)

    def _deconv(self, x: torch.Tensor, name: str) -> torch.Tensor:
        weight = self._p(name, "weight")
        y = F.conv_transpose2d(x, weight, stride=2, padding=1, output_padding=1)
        return self._norm(y, name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4  # the transposed convolutions double exactly
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        for name, _, _, _, stride in self.CONVS:
            x = self._norm(self._conv(x, name, stride), name)
        for i in range(1, self.res_blocks + 1):
            y = self._norm(self._conv(x, f"res{i}_1", 1), f"res{i}_1")
            x = x + self._norm(self._conv(y, f"res{i}_2", 1), f"res{i}_2", relu=False)
        x = self._deconv(x, "deconv1")
        x = self._deconv(x, "deconv2")
        x = self._norm(self._conv(x, "conv4", 1), "conv4", relu=False)
        return (torch.tanh(x) * 150.0 + 127.5).clamp(0.0, 255.0)[..., :h, :w]


def load_johnson_tf(state_dict: Mapping[str, torch.Tensor]) -> JohnsonTF:
    """A `JohnsonTF` from the MANIFEST keys (`conv1.weight`, `conv1.in_scale`, ...) as float32."""
    blocks = len({k.split(".")[0] for k in state_dict if k.startswith("res")}) // 2
    net = JohnsonTF(res_blocks=blocks)
    renamed = {k.replace(".", "_"): v.float() for k, v in state_dict.items()}
    net.load_state_dict(renamed, strict=True)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()
