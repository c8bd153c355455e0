"""One face for every super-resolution network: `SRUpscaler(lr01) -> hr01` at a fixed scale.

The engine (tiling, previews, the CLI, benchmarks) should not care which family a model is. Each
family has its own native call — our `ResidualSR` is ``net(lr)`` at one scale, `CARNM` is
``net(lr, scale)`` for 2/3/4, `RFDN` is ``net(lr)`` at x4 — so `SRUpscaler` binds a network to one
scale and exposes what a tiler needs: ``scale``, ``overlap`` (LR pixels of context per side) and
``min_size`` (smallest LR tile side the network handles natively).

Pure: state dicts arrive as arguments (the engine reads them with
``editor.engine.store.load_state_dict`` for the store's models, or with safetensors for our own
``editor/resources/models/upscaler_x{S}.safetensors``, which may not exist yet: it then simply
has no "residual" model for that scale).

Every model takes and returns float (N, 3, h, w) RGB in 0..1; the output is (N, 3, h*s, w*s),
not clipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import nn

from editor.ops.rrdbnet import RRDBNet, rrdbnet_from_ncnn
from editor.ops.sr_compact import CompactSR
from editor.ops.sr_compact import from_state_dict as compact_from_state_dict
from editor.ops.sr_net import ARCHITECTURES, ResidualSR, from_weights
from editor.ops.sr_pretrained import CARNM, RFDN

SRKind = Literal["residual", "carn-m", "rfdn", "rrdbnet", "compact"]

#: Scales each family can serve (for "residual": one file, hence one net, per scale).
KIND_SCALES: dict[str, tuple[int, ...]] = {
    "residual": tuple(sorted(ARCHITECTURES)),
    "carn-m": CARNM.scales,
    "rfdn": RFDN.scales,
    "rrdbnet": (2, 3, 4),  # native x4; x2/x3 = x4 then an area downscale (`area_downscale`)
    "compact": (2, 3, 4),  # likewise (our distilled GAN look, `CompactSR`)
}

#: Suggested LR tile overlap per family. CARN-M's receptive radius is ~21 LR pixels (a tile with
#: 16 pixels of context already equals the whole-image result). RFDN's ESA attention is pooled
#: over the whole tile (on a stride-6 grid), so tiles never match the whole image exactly; with
#: 96-pixel cores, 32 of overlap and `editor.ops.tiling.TileBlender` the Set5 x4 PSNR is the
#: whole-image one (32.150 dB; max |diff| 5/255), with 48-pixel cores and 16 it is 32.136 dB.
#: RRDBNet (Real-ESRGAN, 347 convolutions at LR resolution) settles slowly: on a 64 px Set14
#: baboon crop in 32 px cores, tiled vs untiled x4 output differs by mean 2.6 / max 42 levels
#: with 16 px of overlap and mean 1.3 / max 24 with 24 (cross-faded by the blender: no seams, a
#: GAN's texture simply is not bit-stable under a changed context). Real-ESRGAN's own tiling pads
#: 10. 24 costs (240/192)^2 = 1.56x the work on 192 px cores.
RRDB_OVERLAP = 24
_OVERLAP = {"carn-m": 24, "rfdn": 32, "rrdbnet": RRDB_OVERLAP}


class SRUpscaler(nn.Module):
    """A network bound to one scale: ``forward(lr01) -> hr01``.

    Attributes: ``kind`` ("residual", "carn-m", "rfdn", "rrdbnet", "compact"), ``scale``,
    ``net`` (the wrapped module), ``overlap`` (LR pixels of context to give each tile on every
    side) and ``min_size`` (the smallest LR side handled without internal padding; smaller
    tiles still work, see `RFDN`).
    Input (N, 3, h, w) RGB 0..1 float; output (N, 3, h*scale, w*scale) RGB ~0..1, not clipped.
    """

    def __init__(self, kind: SRKind, net: nn.Module, scale: int) -> None:
        super().__init__()
        if scale not in KIND_SCALES[kind]:
            raise ValueError(f"{kind} cannot upscale x{scale}; it has {KIND_SCALES[kind]}")
        self.kind = kind
        self.scale = scale
        self.net = net
        if isinstance(net, (ResidualSR, CompactSR)):
            self.overlap = net.receptive_radius
        else:
            self.overlap = _OVERLAP[kind]
        self.min_size = RFDN.MIN_SIZE if isinstance(net, RFDN) else 1
        self.channels_last = False
        self.bf16 = False

    def use_channels_last(self) -> SRUpscaler:
        """NHWC weights and inputs (RRDBNet only): ~10-15 % faster on CPU (oneDNN's preferred
        layout; benchmarks/bench_upscale_gan.py), outputs within one 8-bit level. Returns self."""
        if isinstance(self.net, RRDBNet):
            self.net.to(memory_format=torch.channels_last)
            self.channels_last = True
        return self

    def use_bf16(self) -> SRUpscaler:
        """Run the network under CPU bfloat16 autocast (the GAN networks, RRDBNet and
        CompactSR; the caller decides the CPU computes bf16 natively). On 2 AVX-512 BF16 cores
        Real-ESRGAN ran 2.8x faster, SemEdit GAN 2x, with the same texture statistics; on a
        Set14 comic crop Real-ESRGAN's picture moved 0.6 8-bit levels on average, 14 at most
        (benchmarks/bench_upscale_gan.py). Emulated bf16 is many times slower. Returns self."""
        if isinstance(self.net, (RRDBNet, CompactSR)):
            self.bf16 = True
        return self

    def forward(self, lr01: torch.Tensor) -> torch.Tensor:
        if isinstance(self.net, CARNM):
            return self.net(lr01, self.scale)
        if isinstance(self.net, (RRDBNet, CompactSR)):  # native x4 only
            if self.channels_last:
                lr01 = lr01.contiguous(memory_format=torch.channels_last)
            if self.bf16 and lr01.device.type == "cpu":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    hr = self.net(lr01).float()
            else:
                hr = self.net(lr01)
            if self.scale == self.net.scale:
                return hr
            h, w = lr01.shape[-2:]  # downscale the x4 *picture*: clipped first, as saved
            return area_downscale(hr.clamp(0.0, 1.0), h * self.scale, w * self.scale)
        return self.net(lr01)


def _area_matrix(n_in: int, n_out: int, like: torch.Tensor) -> torch.Tensor:
    """(n_out, n_in) weights: output pixel i averages input [i*r, (i+1)*r), r = n_in / n_out,
    partly covered pixels weighted by the covered fraction (OpenCV's INTER_AREA)."""
    edges = torch.arange(n_out + 1, dtype=torch.float64) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = torch.arange(n_in, dtype=torch.float64)[None, :]
    cover = (torch.minimum(hi, j + 1) - torch.maximum(lo, j)).clamp(min=0.0)
    return (cover / (n_in / n_out)).to(dtype=like.dtype, device=like.device)


def area_downscale(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Shrink (N, C, H, W) to (N, C, height, width) by area averaging, as ``cv2.INTER_AREA``
    does when shrinking (also by a non-integer factor such as 4 -> 3): the high-quality
    downscale that turns a x4 GAN result into x2/x3. Needs height <= H and width <= W.
    Tiles whose LR origin is an integer line up exactly with the whole-image result."""
    n_h, n_w = x.shape[-2:]
    if height > n_h or width > n_w:
        raise ValueError(f"area_downscale shrinks only: {n_w}x{n_h} -> {width}x{height}")
    rows = _area_matrix(n_h, height, x)
    cols = _area_matrix(n_w, width, x)
    return rows @ x @ cols.T


def sr_forward(model: nn.Module, lr01: torch.Tensor, scale: int) -> torch.Tensor:
    """Upscale (N, 3, h, w) RGB 0..1 by `scale` with any supported network or an `SRUpscaler`.

    Raises ValueError if the model cannot do that scale.
    """
    if isinstance(model, SRUpscaler):
        if model.scale != scale:
            raise ValueError(f"this {model.kind} model is x{model.scale}, not x{scale}")
        return model(lr01)
    if isinstance(model, CARNM):
        return SRUpscaler("carn-m", model, scale)(lr01)
    if isinstance(model, RFDN):
        return SRUpscaler("rfdn", model, scale)(lr01)
    if isinstance(model, RRDBNet):
        return SRUpscaler("rrdbnet", model, scale)(lr01)
    if isinstance(model, CompactSR):
        return SRUpscaler("compact", model, scale)(lr01)
    if isinstance(model, ResidualSR):
        if model.scale != scale:
            raise ValueError(f"this residual model is x{model.scale}, not x{scale}")
        return model(lr01)
    raise TypeError(f"not a super-resolution network: {type(model).__name__}")


def build_rrdbnet_from_ncnn(param_text: str, bin_data: bytes, scale: int) -> SRUpscaler:
    """An eval-mode `SRUpscaler` around Real-ESRGAN's RRDBNet read from ncnn files (their text
    and bytes; `editor.ops.rrdbnet.rrdbnet_from_ncnn`), bound to `scale` (4 native; 2/3 by an
    area downscale), in channels_last layout (`SRUpscaler.use_channels_last`). Raises
    ValueError when the files do not describe an RRDBNet."""
    upscaler = SRUpscaler("rrdbnet", rrdbnet_from_ncnn(param_text, bin_data), scale)
    return upscaler.use_channels_last().eval()


def _residual_sizes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """``ResidualSR`` sizes read off a state dict's shapes (as safetensors-style metadata)."""
    convs = sorted(
        int(k.split(".")[1])
        for k, v in state_dict.items()
        if k.startswith("body.") and k.endswith(".weight") and v.dim() == 4
    )
    if not convs or "tail.weight" not in state_dict:
        raise ValueError("not a ResidualSR state dict (no body.N.weight / tail.weight)")
    channels = int(state_dict[f"body.{convs[0]}.weight"].shape[0])
    return {"channels": str(channels), "depth": str(len(convs) - 1)}


def build_from_state_dict(
    kind: SRKind, state_dict: Mapping[str, torch.Tensor], scale: int
) -> SRUpscaler:
    """An eval-mode `SRUpscaler` of `kind` for `scale`, weights loaded strictly.

    - "residual": our `ResidualSR` (the tensors of ``upscaler_x{S}.safetensors``); its sizes are
      read from the tensor shapes, and its tail must produce `scale` (one file per scale).
    - "carn-m": ``sr/CARN-M_x234.pth``, any of 2/3/4.
    - "rfdn": ``sr/RFDN_AIM_x4.pth``, 4 only.
    - "compact": our distilled `CompactSR` (``semedit-gan-x4.safetensors``), native x4; 2/3 by
      an area downscale of the x4 result.

    float16 tensors are promoted to float32. Raises ValueError for a scale the kind lacks or a
    state dict that does not fit (the message comes from ``load_state_dict(strict=True)``).
    """
    if kind == "rrdbnet":
        raise ValueError("RRDBNet weights come as ncnn files: use build_rrdbnet_from_ncnn")
    if kind not in KIND_SCALES:
        raise ValueError(f"unknown SR model kind {kind!r}; known: {sorted(KIND_SCALES)}")
    if scale not in KIND_SCALES[kind]:
        raise ValueError(f"{kind} cannot upscale x{scale}; it has {KIND_SCALES[kind]}")
    tensors = {k: v.float() for k, v in state_dict.items()}
    net: nn.Module
    if kind == "residual":
        tail = tensors.get("tail.weight")
        if tail is not None and tail.shape[0] != 3 * scale * scale:
            raise ValueError(f"these residual weights are not for x{scale}")
        net = from_weights(tensors, {"scale": str(scale), **_residual_sizes(tensors)})
    elif kind == "compact":
        net = compact_from_state_dict(tensors)
    else:
        net = CARNM() if kind == "carn-m" else RFDN()
        try:
            net.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"the weights do not fit {kind}: {exc}") from exc
    return SRUpscaler(kind, net, scale).eval()


__all__ = [
    "KIND_SCALES",
    "SRKind",
    "SRUpscaler",
    "area_downscale",
    "build_from_state_dict",
    "build_rrdbnet_from_ncnn",
    "sr_forward",
]
