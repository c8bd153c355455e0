"""A compact x4 upscaler for the "Sharp (GAN)" look: a plain stack of 3x3 convolutions at LR
resolution, a pixel shuffle, and the nearest-neighbour enlargement of the input added back.

The shape follows Real-ESRGAN's SRVGGNetCompact (Wang et al. 2021): no dense blocks, every
convolution at low resolution, so it costs ~0.6 M multiply-adds per LR pixel at 64 channels x
16 convolutions against RRDBNet's ~19 M. Its weights are distilled here from Real-ESRGAN's
outputs (`editor.ops.gan_distil`); this module only defines the function.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn


class CompactSR(nn.Module):
    """forward(lr01 (N, 3, h, w)) -> (N, 3, h*scale, w*scale) RGB ~0..1, not clipped.

    channels / convs: the body's width and its number of 3x3 convolutions (each followed by a
    PReLU); the receptive radius is `convs + 2` LR pixels, which is what a tiler must overlap.
    """

    def __init__(self, channels: int = 64, convs: int = 16, scale: int = 4) -> None:
        super().__init__()
        self.scale, self.channels, self.convs = scale, channels, convs
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1), nn.PReLU(channels)]
        for _ in range(convs):
            layers += [nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(channels)]
        layers.append(nn.Conv2d(channels, 3 * scale * scale, 3, padding=1))
        self.body = nn.Sequential(*layers)
        self.shuffle = nn.PixelShuffle(scale)
        self.receptive_radius = convs + 2
        # He initialisation for the PReLU stack (PyTorch's default shrinks the signal layer by
        # layer; training/README.md), and the last convolution at zero, so an untrained net is
        # exactly the nearest-neighbour enlargement and training moves away from it.
        for conv in layers[:-1:2]:
            nn.init.kaiming_normal_(conv.weight, a=0.25, nonlinearity="leaky_relu")
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)

    def forward(self, lr01: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(lr01, scale_factor=self.scale, mode="nearest")
        return self.shuffle(self.body(lr01)) + base

    def metadata(self) -> dict[str, str]:
        """The sizes a safetensors file stores beside the weights (`from_state_dict`)."""
        return {"kind": "compact", "channels": str(self.channels), "convs": str(self.convs),
                "scale": str(self.scale)}  # fmt: skip


def sizes(state: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """`CompactSR.metadata` read off a state dict's shapes (a file without metadata still
    loads). Raises ValueError for a state dict that is not a CompactSR's."""
    convs = sorted(
        int(k.split(".")[1])
        for k, v in state.items()
        if k.startswith("body.") and k.endswith(".weight") and v.dim() == 4
    )
    if len(convs) < 2:
        raise ValueError("not a CompactSR state dict (no body.N.weight convolutions)")
    channels = int(state[f"body.{convs[0]}.weight"].shape[0])
    out = int(state[f"body.{convs[-1]}.weight"].shape[0])
    scale = round((out / 3) ** 0.5)
    if 3 * scale * scale != out:
        raise ValueError(f"the last convolution has {out} outputs: not 3 x scale²")
    return {"kind": "compact", "channels": str(channels), "convs": str(len(convs) - 2),
            "scale": str(scale)}  # fmt: skip


def from_state_dict(
    state: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None
) -> CompactSR:
    """An eval-mode CompactSR of the stored sizes (`metadata`, else read off the shapes),
    loaded strictly. Raises ValueError when the weights do not fit."""
    meta = metadata if metadata and "channels" in metadata else sizes(state)
    net = CompactSR(int(meta["channels"]), int(meta["convs"]), int(meta["scale"]))
    try:
        net.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights do not fit CompactSR: {exc}") from exc
    return net.eval()
