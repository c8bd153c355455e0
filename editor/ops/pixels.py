"""Document pixels <-> the RGB 0..1 tensors the perceptual edits optimise.

Documents hold (H, W, C) uint8/uint16 with C = 1 (grey), 3 (RGB) or 4 (RGBA). The networks want
(1, 3, H, W) float RGB 0..1. Converting here, once, keeps every op free of layout cases: grey
goes in as three equal channels and comes back as their mean, alpha is left out and restored
from the original, 16-bit keeps its precision (divided by 65535, not truncated to 8 bits).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def max_value(dtype: np.dtype) -> float:
    return 65535.0 if dtype == np.uint16 else 255.0


def rgb_view(pixels: np.ndarray) -> np.ndarray:
    """(H, W[, C]) in any document layout -> (H, W, 3) of the same dtype (alpha dropped, grey
    repeated)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[2] >= 3:
        return pixels[..., :3]
    return np.repeat(pixels[..., :1], 3, axis=2)


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """Document pixels (any layout, 8 or 16 bit) -> (H, W, 3) uint8 RGB, contiguous: what the
    patch search, dlib and OpenCV take (16-bit keeps its top 8 bits)."""
    values = (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels
    return np.ascontiguousarray(rgb_view(values))


def to_rgb01(pixels: np.ndarray, device: str | torch.device = "cpu") -> Tensor:
    """(H, W, C) or (H, W) uint8/uint16 -> (1, 3, H, W) float32 RGB 0..1 (alpha dropped)."""
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {pixels.dtype}")
    array = np.ascontiguousarray(rgb_view(pixels)).astype(np.float32) / max_value(pixels.dtype)
    return torch.from_numpy(array).permute(2, 0, 1)[None].contiguous().to(device)


def from_rgb01(image01: Tensor, like: np.ndarray) -> np.ndarray:
    """(1, 3, H, W) RGB 0..1 -> pixels in `like`'s layout and dtype ((H, W, C) of the same size
    as image01; grey = mean of RGB; alpha copied from `like`, which must then be that size)."""
    rgb = image01[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    scale = max_value(like.dtype)
    values = np.rint(rgb * scale).astype(like.dtype)
    channels = like.shape[2] if like.ndim == 3 else 1
    if channels == 1:
        grey = np.rint(rgb.mean(axis=2, keepdims=True) * scale).astype(like.dtype)
        return grey if like.ndim == 3 else grey[..., 0]
    if channels == 4:
        return np.concatenate([values, like[..., 3:]], axis=2)
    return values


def rgb01_to_uint8(image01: Tensor) -> np.ndarray:
    """(1, 3, H, W) RGB 0..1 -> (H, W, 3) uint8 (rounded, clipped)."""
    array = image01[0].detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    return np.ascontiguousarray(array.cpu().numpy())


def mask01(mask: np.ndarray, device: str | torch.device = "cpu") -> Tensor:
    """(H, W) uint8 (> 0 inside) -> (1, 1, H, W) float 0/1."""
    return torch.from_numpy((mask > 0).astype(np.float32))[None, None].to(device)
