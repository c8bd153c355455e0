"""Style: paint a picture's style onto regions of the image, or fill a region with its texture.

- ``run(StyleRequest)``: Gatys et al. 2016 (Gram matrices) or Li & Wand 2016 (``mrf``: nearest
  neural patches) by optimising the pixels of the regions' bounding box coarse to fine
  (`editor.ops.style_transfer`); each region has its own style (spatial control, Gatys et al.
  2017: masked Gram matrices), all in one run. Keep colours = the style picture recoloured to
  the region's palette first, then the result's luminance on the photo's chrominance.
- ``run_texture(TextureRequest)``: texture synthesis from a sample (Gram loss only, noise start),
  either as a new image or filling a masked area, whose surroundings are kept by a content term
  so the texture meets them.

``method="wct"`` is universal style transfer instead (Li et al. 2017, with the 16x-compressed
encoders of Wang et al. 2020, model `wct16x`): one pass of whitening and colouring transforms,
about a second, strength = the blend alpha; `editor.ops.wct`.

``method="fast"``: each region's style is a feed-forward style network (Johnson et al. 2016; a
shipped or user-trained fast style, `editor.engine.models.fast_styles`) applied in one forward pass
over the region's own crop, in overlapping tiles when the crop is large (`editor.ops.fast_style`);
strength blends with the photo, keep colours keeps its chrominance.

``run_preview(request)``: the live brush preview of the one-pass methods (fast, wct): the regions'
box at a reduced size, in a fraction of a second, returned as (pixels, rect) for the canvas.
The requests and region geometry are in `common`, the optimising methods in `optimised`, the
one-pass methods in `onepass`; this module dispatches.

The optimising methods stream a preview every few iterations (the current pyramid level,
composited into the region and stretched to it by the canvas) and honour
``ctx.finish_requested``: the user presses Apply while it runs and gets what they see, finished
to full size.

Only the bounding box of the masks plus a context margin (`context_px`) is processed, at most
`max_size` px on its long side (larger boxes are stylised at that size and upsampled: painted
strokes survive it); the style reaches over the feather ramp (`style_reaches`) and the result is
composited back through the masks feathered by `feather_px` (scaled to the image), so a
rectangle's edge fades in and pixels beyond the ramp stay bit-identical.
"""

from __future__ import annotations

import torch

from editor.engine.edits.style.common import (
    MAX_STYLE_SIDE,
    METHODS,
    StyleRequest,
    check_request,
    feather_px,
    fit_size,
    limit_side,
    region_box,
    style_reaches,
    union_mask,
)
from editor.engine.edits.style.onepass import run_fast, run_wct
from editor.engine.edits.style.optimised import run_optimised
from editor.engine.jobs import Run, RunContext, Update
from editor.ops.pixels import from_rgb01, mask01, to_rgb01
from editor.ops.region import composite
from editor.ops.style_losses import keep_luminance_only, resize


def run(request: StyleRequest, ctx: RunContext) -> Run:
    """Stylise the regions; return the full image (same shape and dtype as request.image).

    The networks (VGG19 features, WCT, fast styles) come from `ctx.models`. Raises
    ValueError for bad input (wrong mask size, empty mask, unknown method, odd style picture)
    and ModelMissing when no VGG19 weights are installed.
    """
    image = request.image
    check_request(request, METHODS)
    if request.method == "fast":
        return (yield from run_fast(request, ctx))
    rect, alpha = region_box(image, union_mask([r.mask for r in request.regions]))

    device = ctx.device
    crop = image[rect.slices]
    work = fit_size((rect.h, rect.w), request.max_size)
    with torch.no_grad():
        content = resize(to_rgb01(crop, device), work)
    styles, wheres = [], []
    reaches = style_reaches([r.mask for r in request.regions], rect, feather_px(image.shape))
    for region, reach in zip(request.regions, reaches, strict=True):
        styles.append(to_rgb01(limit_side(region.style, MAX_STYLE_SIDE), device))
        wheres.append(None if reach is None else resize(mask01(reach, device), work))
    if request.method == "wct":
        result01 = yield from run_wct(request, content, styles, wheres, ctx)
    else:
        result01 = yield from run_optimised(
            request, content, styles, wheres, ctx, crop, alpha, rect
        )
    ctx.check_cancelled()
    yield Update(progress=0.98, message="Blending")
    with torch.no_grad():
        full = resize(result01, (rect.h, rect.w)).clamp(0, 1)
        if request.keep_colors and request.method != "wct":
            full = keep_luminance_only(full, to_rgb01(crop, device))
    return composite(image, from_rgb01(full, crop), rect, alpha)
