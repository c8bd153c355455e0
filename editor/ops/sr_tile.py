"""One tile through a super-resolution network, in the document's channel layout (grey in as
RGB and back as the mean, alpha upscaled bicubically beside it), and the bicubic stand-in the
preview shows where no tile has finished yet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

Upscaler = Callable[[Any], Any]
"""``upscaler(lr)``: torch (1, 3, h, w) RGB 0..1 float on the device -> (1, 3, h*s, w*s)."""


def upscale_tile(
    lr: np.ndarray, scale: int, upscaler: Upscaler, device: str, maxval: float
) -> np.ndarray:
    """One LR tile (h, w, C) uint -> float32 (h*s, w*s, C) in 0..maxval, in the same layout."""
    import torch

    h, w, c = lr.shape
    values = lr.astype(np.float32) / maxval
    rgb = np.repeat(values, 3, axis=2) if c == 1 else values[..., :3]
    x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].to(device)
    with torch.inference_mode():
        y = upscaler(x)
    if tuple(y.shape) != (1, 3, h * scale, w * scale):
        raise ValueError(
            f"the upscaler returned {tuple(y.shape)} for a {w}x{h} tile; "
            f"expected (1, 3, {h * scale}, {w * scale})"
        )
    hr = y[0].clamp(0.0, 1.0).permute(1, 2, 0).float().cpu().numpy()
    if c == 1:
        hr = hr.mean(axis=2, keepdims=True)
    elif c == 4:
        alpha = cv2.resize(
            np.ascontiguousarray(values[..., 3]),
            (w * scale, h * scale),
            interpolation=cv2.INTER_CUBIC,
        )
        hr = np.concatenate([hr, np.clip(alpha, 0.0, 1.0)[..., None]], axis=2)
    return hr * np.float32(maxval)


def bicubic(lr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Cheap preview fill: (h, w, C) uint resized to (width, height) = size, same C and dtype."""
    out = cv2.resize(lr, size, interpolation=cv2.INTER_CUBIC)
    return out.reshape(size[1], size[0], lr.shape[2])
