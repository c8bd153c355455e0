"""Remove: paint over an object, get the image without it.

Methods (Yang et al. 2017, "High-Resolution Image Inpainting using Multi-Scale Neural Patch
Synthesis", with a classical content stage since no inpainting network is available offline):

- ``refined`` (default): a content stage — the mean of several PatchMatch completions
  (`editor.ops.inpaint.content`), hedged with Telea's fill — then the neural-patch
  texture stage: the hole's pixels are optimised so each VGG feature patch inside it matches its
  nearest patch from the known region (CNNMRF, Li & Wand 2016), while staying close to the
  content at a coarse scale. Streams a preview every few iterations. Needs VGG19 feature weights
  from the model store.
- ``quick``: multi-scale PatchMatch completion (Barnes et al. 2009; Wexler et al. 2007): the
  hole is rebuilt from patches of the surrounding image. About a second, no weights.
- ``telea`` / ``ns``: OpenCV's diffusion inpainting; smooth, fine for thin scratches and wires.

The content stage is pluggable: when the model store has the content network (`big-lama`,
LaMa's TorchScript export; `semedit models fetch big-lama`, 196 MB, Apache-2.0), refined runs it
on the crop at <= 512 px (`editor.ops.inpaint.network`) in place of the PatchMatch completions, and
the texture stage works from its prediction at full resolution. Offline it is not installed.

Only the mask's bounding box plus context is processed; the result is composited back through a
feathered mask, so pixels away from the mask stay bit-identical. Colour and illumination are
matched at the boundary inside the patch fill: its last vote is in the gradient domain (a
screened Poisson solve with the known pixels as boundary, `editor.ops.patchmatch`), so neither
the hole's edge nor the joins between regions copied from different places show a tone step.

Layouts: the patch methods work on 8-bit RGB. Grey images are filled as RGB and averaged back;
alpha is filled with Telea; 16-bit images are searched at 8 bits and the hole's new pixels are
written back scaled to 16 bits (known pixels keep their full precision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from editor.engine.jobs import Run, RunContext, Update
from editor.engine.models.content import ContentStages
from editor.engine.models.manager import Models
from editor.engine.models.vgg import TUNED_ON_CONV3, VGGFeatures
from editor.ops.inpaint.classic import inpaint_opencv
from editor.ops.inpaint.content import ContentGuess, completion
from editor.ops.inpaint.hole import FEATHER_PX, from_rgb8, patch_hole, work_rect
from editor.ops.inpaint.texture import NoTextureSource, texture_stage
from editor.ops.pixels import to_rgb8
from editor.ops.region import composite, feather_alpha
from editor.ops.steps import mapped

METHODS = ("refined", "quick", "telea", "ns")
DEFAULT_METHOD = "refined"
PATCH_METHODS = ("refined", "quick")

CONTENT_SHARE = 0.3
"""Of refined's progress bar: the content stage's part (the texture stage has the rest)."""

FEATURE_PREFER = TUNED_ON_CONV3
"""The texture stage's VGG19: the exact conv1-3 weights, layers relu2_1 + relu3_1. relu3_1 +
relu4_1 of the full network were worse on every group of benchmarks/bench_remove.py --deep's
78 fills (perceptual distance +0.028 +- 0.004, lower on 17 of 78; +0.025 on the five photos not
tuned on; sharpness 0.86 -> 0.78), likely because relu4_1's cells are 8 px: too coarse to carry
the known region's fine texture into the hole (not measured further)."""


@dataclass(frozen=True)
class RemoveRequest:
    """What to remove: image (H, W, C) uint8/uint16, mask (H, W) uint8 (> 0 = remove).

    method: one of METHODS; radius: Telea/NS neighbourhood in pixels; margin: context pixels
    around the mask's bounding box (patch methods take at least half the hole's size, so there
    is texture to copy from). The weights refined needs
    come from the run's `ctx.models`.
    """

    image: np.ndarray
    mask: np.ndarray
    method: str = DEFAULT_METHOD
    radius: float = 5.0
    margin: int = 32


def run(request: RemoveRequest, ctx: RunContext) -> Run:
    """Fill the masked region; return the full-size image (same shape and dtype).

    Refined takes its VGG19 features (`vgg19`) and its content stage (`content`: the content
    network when installed, else the mean of PatchMatch completions) from `ctx.models`. Raises
    ValueError for a mask of the wrong size, an empty mask or an unknown method, and
    ModelMissing when refined has no VGG19 weights.
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
    rect = work_rect(mask, request.method in PATCH_METHODS, request.margin)
    if rect is None:
        raise ValueError("the mask is empty: paint over what to remove")
    if bool((mask > 0).all()):
        raise ValueError(
            "the mask covers the whole image: nothing is left to fill it from "
            "(paint only over what to remove)"
        )
    ctx.check_cancelled()
    features = stage = None
    if request.method == "refined":
        yield Update(progress=0.0, message="Loading VGG19 features")
        features = ctx.models.load(VGGFeatures.id, prefer=FEATURE_PREFER)
        stage = ctx.models.load(ContentStages.id)

    crop, crop_mask = image[rect.slices], mask[rect.slices]
    yield Update(progress=0.02, message=f"Removing ({request.method}, {rect.w}×{rect.h} crop)")
    if request.method in PATCH_METHODS:
        hole = patch_hole(crop_mask)
        if stage is None:
            fill = _quick(crop, hole, ctx)
        else:
            fill = _refined(crop, hole, ctx, features, stage)
        filled = yield from _with_previews(fill, crop, hole, rect)
        alpha_mask = hole.astype(np.uint8) * 255
    else:
        filled = inpaint_opencv(crop, crop_mask, request.method, request.radius)
        alpha_mask = crop_mask
    ctx.check_cancelled()

    yield Update(progress=0.97, message="Blending")
    result = composite(image, filled, rect, feather_alpha(alpha_mask, FEATHER_PX))
    ctx.check_cancelled()
    yield Update(progress=1.0, message="Done", preview=result[rect.slices], preview_rect=rect)
    return result


def _quick(crop: np.ndarray, hole: np.ndarray, ctx: RunContext):
    quick = completion(to_rgb8(crop), hole, ctx.check_cancelled)
    yield 0.95, "Patch fill done", quick
    return quick


def _refined(crop: np.ndarray, hole: np.ndarray, ctx: RunContext, features, stage):
    """The content stage, then the texture stage, as (progress, message, rgb8 | None) steps."""
    content = stage(to_rgb8(crop), hole, ctx.check_cancelled)
    guess: ContentGuess = yield from mapped(
        content, lambda fraction, message, preview: (CONTENT_SHARE * fraction, message, preview)
    )
    texture = texture_stage(guess, hole, features, ctx.device, ctx.check_cancelled)
    try:
        return (yield from mapped(texture, lambda fraction, pixels: (
            CONTENT_SHARE + (1 - CONTENT_SHARE) * 0.95 * fraction, "Refining texture", pixels
        )))  # fmt: skip
    except NoTextureSource:
        yield 1.0, "Too small for the texture stage: the content fill is kept", guess.start
        return guess.start


def _with_previews(fill, crop: np.ndarray, hole: np.ndarray, rect) -> Run:
    """Updates from a fill's (progress, message, rgb8 | None) steps, previews in the crop's
    layout; returns the final fill in that layout."""
    final = yield from mapped(fill, lambda progress, message, rgb8: Update(
        progress=progress,
        message=message,
        preview=None if rgb8 is None else from_rgb8(rgb8, crop, hole),
        preview_rect=None if rgb8 is None else rect,
    ))  # fmt: skip
    return from_rgb8(final, crop, hole)


def refined_available(models: Models) -> bool:
    """Whether the refined method can run: a VGG19 feature model is installed (and verified)."""
    return models.available(VGGFeatures.id, prefer=FEATURE_PREFER)


def _size(shape: tuple[int, ...]) -> str:
    """'128x96' (width x height), the way the UI speaks of sizes."""
    return f"{shape[1]}x{shape[0]}" if len(shape) >= 2 else str(shape)
