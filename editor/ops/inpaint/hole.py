"""The part of the image a removal reads and replaces, and the way back to the document's
layout. The patch methods work on 8-bit RGB: grey is filled as RGB and averaged back, alpha is
filled with Telea, 16-bit is searched at 8 bits and the hole's new pixels written back scaled
to 16 bits (known pixels keep their full precision)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.ops.inpaint.classic import inpaint_opencv
from editor.ops.region import crop_rect

FEATHER_PX = 4.0
"""Width of the soft edge outside the mask; hides the seam of a fill that repaints the crop."""

HOLE_DILATE_PX = 2
"""The patch methods also replace a thin ring round the painted mask: a brush seldom covers an
object's anti-aliased outline, and a left-over halo is the first thing the eye finds."""


def work_rect(mask: np.ndarray, patch_method: bool, margin: int) -> Rect | None:
    """The part of the image a removal reads and may change: the mask's bounding box plus
    `margin` (at least the feather and the halo ring; for the patch methods at least half the
    hole's size, so there is texture to copy from). None for an empty mask."""
    hole_box = crop_rect(mask, 0)
    if hole_box is None:
        return None
    margin = max(margin, math.ceil(FEATHER_PX) + HOLE_DILATE_PX)
    if patch_method:
        margin = max(margin, max(hole_box.w, hole_box.h) // 2)
    return crop_rect(mask, margin)


def patch_hole(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: what the patch methods replace, the mask grown by HOLE_DILATE_PX (unless
    that would leave nothing to fill from, as on an image a few pixels wide)."""
    grown = cv2.dilate((mask > 0).astype(np.uint8), _disc(HOLE_DILATE_PX)) > 0
    return mask > 0 if bool(grown.all()) else grown


def telea(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Telea's smooth fill of the (H, W) bool `hole` at the default radius: the patch methods'
    hedge, their fallback, and the alpha channel's fill."""
    return inpaint_opencv(pixels, hole.astype(np.uint8), "telea", 5.0)


def from_rgb8(filled: np.ndarray, crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Back to the crop's layout; outside the hole the crop's own pixels, untouched."""
    values = filled.astype(np.uint16) * 257 if crop.dtype == np.uint16 else filled
    channels = crop.shape[2]
    if channels == 1:
        values = np.rint(values.mean(axis=2, keepdims=True)).astype(crop.dtype)
    elif channels == 4:
        alpha = telea(crop[..., 3:], hole)
        values = np.concatenate([values.astype(crop.dtype), alpha], axis=2)
    out = crop.copy()
    out[hole] = values.astype(crop.dtype)[hole]
    return out


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
