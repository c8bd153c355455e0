"""Work on the region that matters: cut the mask's neighbourhood out, blend the result back in.

An edit on a 24-megapixel photo with a small mask should cost what its crop costs. The three
steps every local edit shares live here:

1. `crop_rect` — the bounding box of the mask plus context margin, clipped to the image;
2. `feather_alpha` — blend weights that are 1 on the mask and fall smoothly to 0 outside it
   (`feathered` is its inward twin: 0 outside the mask, rising inside it, for an edit such as
   the face swap whose every pixel outside the mask must stay);
3. `composite` — the result blended into a copy of the original through those weights, leaving
   every pixel with weight 0 bit-identical.

Shapes: images (H, W, C) uint8/uint16 (a 2-D (H, W) image is accepted too); masks (H, W) uint8,
255 = selected (any value >= the threshold counts as selected).
"""

from __future__ import annotations

import cv2
import numpy as np

from editor.core.geometry import Rect


def crop_rect(
    mask: np.ndarray, margin: int, *, multiple: int = 1, threshold: int = 1
) -> Rect | None:
    """The box to cut out for an edit of `mask`: its bounding box grown by `margin` context pixels.

    mask: (H, W), selected where ``mask >= threshold``.
    margin: context pixels on every side (the edit needs to see what surrounds the hole).
    multiple: grow w and h up to a multiple of this (networks that downsample need it), spreading
        the growth over both sides and shifting inward at the image border; an axis that cannot
        reach the next multiple inside the image keeps its clipped size.
    Returns a rectangle inside the image, or None when nothing is selected.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if margin < 0 or multiple < 1:
        raise ValueError(f"need margin >= 0 and multiple >= 1, got {margin}, {multiple}")
    height, width = mask.shape
    selected = mask >= threshold
    rows = np.flatnonzero(selected.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(selected.any(axis=0))
    box = Rect.from_bounds(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    box = box.expand(margin).clip(width, height)
    if multiple > 1:
        x, w = _grow_to_multiple(box.x, box.w, width, multiple)
        y, h = _grow_to_multiple(box.y, box.h, height, multiple)
        box = Rect(x, y, w, h)
    return box


def _grow_to_multiple(start: int, length: int, size: int, multiple: int) -> tuple[int, int]:
    """Grow [start, start+length) within [0, size) to a multiple of `multiple`, if it fits."""
    target = -(-length // multiple) * multiple
    if target > size:
        return start, length
    start -= (target - length) // 2
    start = min(max(start, 0), size - target)
    return start, target


def feather_alpha(mask: np.ndarray, feather_px: float) -> np.ndarray:
    """Blend weights for `composite`: 1 on the mask, a smooth fall to 0 over `feather_px` outside.

    The weight of an unselected pixel at distance d from the nearest selected pixel is
    smoothstep(1 - d / feather_px): its value and slope meet the surroundings without a step,
    so no seam shows where the edit's result meets the original. Pixels at d >= feather_px get
    exactly 0 (and stay bit-identical in `composite`); the mask itself gets exactly 1, so what
    was selected is fully replaced. `feather_px <= 0` gives the hard mask.

    mask: (H, W), selected where > 0. Returns (H, W) float32 in 0..1.
    """
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    selected = mask > 0
    if feather_px <= 0 or not selected.any():
        return selected.astype(np.float32)
    # Distance of every pixel to the nearest selected one (selected pixels are the zeros).
    distance = cv2.distanceTransform(
        np.where(selected, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    t = np.clip(1.0 - distance / np.float32(feather_px), 0.0, 1.0)
    alpha = t * t * (3.0 - 2.0 * t)
    alpha[selected] = 1.0
    return alpha.astype(np.float32, copy=False)


def feathered(mask: np.ndarray, width: float) -> np.ndarray:
    """(H, W) float32 alpha: 1 deep inside `mask`, falling linearly to 0 over `width` pixels
    towards its edge, 0 outside."""
    # Padded: a mask reaching the array's edge fades there too (its box's edge is its own).
    padded = cv2.copyMakeBorder((mask > 0).astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, 0)
    inside = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    return np.clip(inside / max(width, 1e-6), 0.0, 1.0).astype(np.float32)


def composite(base: np.ndarray, result: np.ndarray, rect: Rect, alpha: np.ndarray) -> np.ndarray:
    """A new full image: `base` with `result` blended in over `rect` through `alpha`.

    base: (H, W, C) or (H, W), uint8/uint16 (any numeric dtype works).
    result: the edit's output for the crop, shape ``(rect.h, rect.w) + base.shape[2:]``.
    alpha: (rect.h, rect.w) float weights in 0..1 (see `feather_alpha`).
    The blend is done in float32 and rounded to nearest (clipped to the dtype's range for
    integers); pixels with alpha == 0 keep base's exact value and alpha == 1 gives result's.
    """
    height, width = base.shape[:2]
    if rect.empty or rect.clip(width, height) != rect:
        raise ValueError(f"rect {rect} is not inside the {width}x{height} image")
    crop_shape = (rect.h, rect.w) + base.shape[2:]
    if result.shape != crop_shape:
        raise ValueError(f"result has shape {result.shape}, expected {crop_shape}")
    if alpha.shape != (rect.h, rect.w):
        raise ValueError(f"alpha has shape {alpha.shape}, expected {(rect.h, rect.w)}")

    out = base.copy()
    under = base[rect.slices].astype(np.float32)
    weight = np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)
    if base.ndim == 3:
        weight = weight[..., None]
    blended = under + (result.astype(np.float32) - under) * weight
    if np.issubdtype(base.dtype, np.integer):
        info = np.iinfo(base.dtype)
        blended = np.clip(np.rint(blended), info.min, info.max)
    blended = blended.astype(base.dtype)
    keep = alpha <= 0
    if keep.any():  # exact, whatever float rounding did
        blended[keep] = base[rect.slices][keep]
    out[rect.slices] = blended
    return out
