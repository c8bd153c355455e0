"""Remove: paint over an object, get the image without it (classic OpenCV inpainting for now).

The first edit riding the engine, and the template for the others: validate the request, cut out
the region that matters (`crop_rect`), process only that crop, composite it back through a
feathered mask, yielding progress and a preview of the crop along the way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from editor.engine.jobs import Run, RunContext, Update
from editor.ops.inpaint_classic import inpaint_opencv
from editor.ops.region import composite, crop_rect, feather_alpha

METHODS = ("telea", "ns")

FEATHER_PX = 4.0
"""Width of the soft edge outside the mask. OpenCV inpainting leaves unmasked pixels untouched,
so for it the feather changes nothing; it is here because learned removers repaint the whole crop,
and the same path must then hide the seam."""


@dataclass(frozen=True)
class RemoveRequest:
    """What to remove: image (H, W, C) uint8/uint16, mask (H, W) uint8 (> 0 = remove).

    method: one of METHODS; radius: the inpainting neighbourhood in pixels; margin: context
    pixels around the mask's bounding box handed to the inpainter.
    """

    image: np.ndarray
    mask: np.ndarray
    method: str = "telea"
    radius: float = 5.0
    margin: int = 32


def run(request: RemoveRequest, ctx: RunContext) -> Run:
    """Inpaint the masked region; return the full-size image (same shape and dtype).

    Pixels farther than FEATHER_PX from the mask are bit-identical to the input.
    Raises ValueError for a mask of the wrong size, an empty mask or an unknown method.
    """
    image, mask = request.image, request.mask
    if mask.ndim != 2 or mask.shape != image.shape[:2]:
        raise ValueError(
            f"the mask is {_size(mask.shape)} but the image is {_size(image.shape)}: "
            "they must be the same size"
        )
    if request.method not in METHODS:
        raise ValueError(f"unknown method {request.method!r}; valid: {', '.join(METHODS)}")
    if request.margin < 0:
        raise ValueError(f"margin must be >= 0, got {request.margin}")
    margin = max(request.margin, math.ceil(FEATHER_PX))  # the soft edge must fit in the crop
    rect = crop_rect(mask, margin)
    if rect is None:
        raise ValueError("the mask is empty: paint over what to remove")
    ctx.check_cancelled()

    yield Update(progress=0.0, message=f"Removing ({request.method}, {rect.w}x{rect.h} crop)")
    crop_mask = mask[rect.slices]
    filled = inpaint_opencv(image[rect.slices], crop_mask, request.method, request.radius)
    ctx.check_cancelled()

    yield Update(progress=0.8, message="Blending")
    result = composite(image, filled, rect, feather_alpha(crop_mask, FEATHER_PX))
    ctx.check_cancelled()

    yield Update(progress=1.0, message="Done", preview=result[rect.slices], preview_rect=rect)
    return result


def _size(shape: tuple[int, ...]) -> str:
    """'128x96' (width x height), the way the UI speaks of sizes."""
    return f"{shape[1]}x{shape[0]}" if len(shape) >= 2 else str(shape)
