"""Classic (non-learned) inpainting with OpenCV: fast, no weights, good for small blemishes.

Two methods from `cv2.inpaint`:
- "telea": fast marching, each hole pixel a weighted average of its known neighbourhood
  (A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method", 2004);
- "ns": Navier–Stokes, propagates isophotes (lines of equal intensity) into the hole
  (Bertalmio, Bertozzi, Sapiro, CVPR 2001). Keeps edges running into the hole a bit better.

Both blur large holes; they are the instant fallback, not the best remover.
"""

from __future__ import annotations

import cv2
import numpy as np

METHODS: dict[str, int] = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def inpaint_opencv(
    image: np.ndarray, mask: np.ndarray, method: str = "telea", radius: float = 5.0
) -> np.ndarray:
    """Fill the masked pixels of `image` from their surroundings.

    image: (H, W, C) with C in {1, 3, 4}, or (H, W); uint8 or uint16.
    mask: (H, W) uint8, pixels > 0 are filled; every other pixel is returned unchanged.
    method: "telea" or "ns". radius: the neighbourhood (pixels) each filled pixel looks at.
    Returns a new array with the shape and dtype of `image`.

    Channels: RGB is inpainted as one 3-channel image (one fill order for all channels). Alpha is
    inpainted too, as its own channel, so a filled hole gets the opacity of its surroundings
    instead of keeping the removed object's silhouette in the alpha channel.
    uint16: cv2.inpaint takes 16-bit only as single-channel images, so each channel is inpainted
    on its own at full 16-bit precision. Both methods treat channels independently anyway (we
    checked: per-channel and 3-channel results are identical on uint8), so nothing is lost.
    """
    key = method.strip().lower()
    if key not in METHODS:
        raise ValueError(f"unknown inpaint method {method!r}; valid: {', '.join(METHODS)}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be uint8 or uint16, got {image.dtype}")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"image must be (H, W) or (H, W, 1|3|4), got shape {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask is {mask.shape}, image is {image.shape[:2]}: sizes must match")
    if radius <= 0:
        raise ValueError(f"radius must be positive, got {radius}")

    flag = METHODS[key]
    hole = np.where(mask > 0, 255, 0).astype(np.uint8)
    if not hole.any():
        return image.copy()

    def fill(channels: np.ndarray) -> np.ndarray:
        return cv2.inpaint(np.ascontiguousarray(channels), hole, float(radius), flag)

    if image.ndim == 2:
        return fill(image)
    groups: list[np.ndarray]
    if image.dtype == np.uint8 and image.shape[2] in (3, 4):
        groups = [fill(image[..., :3])]
        if image.shape[2] == 4:
            groups.append(fill(image[..., 3])[..., None])
    else:
        groups = [fill(image[..., c])[..., None] for c in range(image.shape[2])]
    return np.concatenate(groups, axis=2)
