"""numpy <-> QImage at the edge of the UI: display conversion only, never edit pixels here."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def to_display_rgba(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1|3|4) uint8/uint16 -> (H, W, 4) uint8 RGBA, alpha premultiplied, for drawing."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    h, w, c = pixels.shape
    out = np.empty((h, w, 4), np.uint8)
    if c == 1:
        out[..., :3] = pixels
        out[..., 3] = 255
    elif c == 3:
        out[..., :3] = pixels
        out[..., 3] = 255
    else:
        alpha = pixels[..., 3:4].astype(np.uint16)
        out[..., :3] = ((pixels[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
        out[..., 3] = pixels[..., 3]
    return out


def qimage_from_rgba(rgba: np.ndarray) -> QImage:
    """Premultiplied (H, W, 4) uint8 -> an owning QImage (the numpy buffer may then be freed)."""
    rgba = np.ascontiguousarray(rgba)
    h, w = rgba.shape[:2]
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888_Premultiplied)
    return image.copy()


def qimage_from_pixels(pixels: np.ndarray) -> QImage:
    return qimage_from_rgba(to_display_rgba(pixels))


def overlay_rgba(mask: np.ndarray, rgb: tuple[int, int, int], opacity: float) -> np.ndarray:
    """A mask as a tinted premultiplied RGBA overlay: alpha = mask * opacity."""
    alpha = (mask.astype(np.float32) * opacity).astype(np.uint8)
    out = np.empty(mask.shape + (4,), np.uint8)
    a16 = alpha.astype(np.uint16)
    for i, value in enumerate(rgb):
        out[..., i] = (a16 * value // 255).astype(np.uint8)
    out[..., 3] = alpha
    return out
