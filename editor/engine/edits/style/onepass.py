"""The one-pass style methods: fast style networks and universal style transfer (WCT), and
the live brush preview they make possible.

- fast (Johnson et al. 2016): each region's trained network (`editor.engine.models.fast_styles`)
  once over the region's own crop, in overlapping tiles when large (`editor.ops.fast_style`);
  strength blends with the photo, keep colours keeps its chrominance.
- wct (Li et al. 2017, with the 16x-compressed encoders of Wang et al. 2020, model `wct16x`):
  whitening and colouring transforms coarse to fine, about a second; strength = alpha.
- `run_preview`: either of them on the regions' box at a reduced size, for every brush stroke.

Requests, validation and region geometry are `common`'s; `stylise` dispatches here.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from editor.core.geometry import Rect
from editor.engine.edits.style.common import (
    MAX_STYLE_SIDE,
    ONE_PASS_METHODS,
    StyleRequest,
    check_request,
    feather_px,
    limit_side,
    region_box,
    resize_pixels,
    style_reaches,
    union_mask,
)
from editor.engine.jobs import Run, RunContext, Update
from editor.engine.models.fast_styles import FastStyles
from editor.engine.models.wct import WCTNetworks
from editor.ops.pixels import from_rgb01, rgb_view, to_rgb01
from editor.ops.region import composite
from editor.ops.style_transfer import (
    scale_picture,
)

PREVIEW_MAX_SIZE = 320
"""Long side of the live preview of wct (see editor.ops.wct.PREVIEW_MAX_SIZE)."""
FAST_PREVIEW_MAX_SIZE = 512
"""Long side of the fast method's live preview. The network paints strokes of a fixed pixel
size, so a preview below the crop's own size shows them larger than the result will; up to
this size the preview is the crop itself, i.e. exactly the result."""


def run_wct(request, content, styles, wheres, ctx) -> Run:
    """WCT (Li et al. 2017) with the compressed encoders: one pass, strength = alpha."""
    from editor.ops.wct import stylise_wct

    yield Update(progress=0.0, message="Loading the universal style networks")
    models = ctx.models.load(WCTNetworks.id)
    yield Update(progress=0.1, message="Universal style transfer")
    # The style picture at style_scale x the content's long side, as the optimiser has it.
    scaled = [
        scale_picture(style, request.style_scale * max(content.shape[-2:]) / max(style.shape[-2:]))
        for style in styles
    ]
    with torch.no_grad():
        return stylise_wct(
            content,
            list(zip(scaled, wheres, strict=True)),
            models.encoders,
            models.decoders,
            alpha=request.strength,
            keep_colors=request.keep_colors,
            cancel=ctx.check_cancelled,
        )


def _from01(rgb01: np.ndarray, like: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 0..1 -> `like`'s layout and dtype (see pixels.from_rgb01)."""
    return from_rgb01(torch.from_numpy(rgb01).permute(2, 0, 1)[None], like)


def run_fast(request: StyleRequest, ctx: RunContext) -> Run:
    """Fast styles: each region's network once over its own crop (tiled when large)."""
    from editor.ops.fast_style import iter_stylise_fast

    yield Update(progress=0.0, message="Loading the fast style networks")
    nets = [ctx.models.load(FastStyles.id, name=region.model) for region in request.regions]
    image = request.image
    out = image
    count = len(request.regions)
    for i, (region, net) in enumerate(zip(request.regions, nets, strict=True)):
        ctx.check_cancelled()
        rect, alpha = region_box(image, region.mask)
        crop = image[rect.slices]
        name = Path(region.model).stem if region.model else "fast style"
        label = f"Fast style {name} on {rect.w}×{rect.h}"
        tiles = iter_stylise_fast(
            net,
            rgb_view(crop),
            stats_image=rgb_view(image),
            origin=(rect.x, rect.y),
            strength=request.strength,
            keep_colors=request.keep_colors,
            style_scale=request.style_scale,
            device=ctx.device,
        )
        while True:
            try:
                done = next(tiles)
            except StopIteration as stop:
                styled = stop.value
                break
            ctx.check_cancelled()
            yield Update(progress=0.05 + 0.9 * (i + done) / count, message=label)
        out = composite(out, _from01(styled, crop), rect, alpha)
    return out


_statistics_cache: dict[tuple, object] = {}
_STATISTICS_KEEP = 4


def _with_photo_statistics(net, model, image: np.ndarray, style_scale: float, device):
    """The fast style net normalised with the whole photo's statistics, as `run_fast` does (see
    `editor.ops.fast_style`). Cached per model, photo (a 64 x 64 sample of it) and scale: the
    live preview asks again on every stroke."""
    from editor.ops.fast_style import with_statistics_of

    step_y, step_x = max(1, image.shape[0] // 64), max(1, image.shape[1] // 64)
    sample = np.ascontiguousarray(image[::step_y, ::step_x]).tobytes()
    key = (str(model), image.shape, image.dtype.str, hash(sample), style_scale, str(device))
    if key not in _statistics_cache:
        while len(_statistics_cache) >= _STATISTICS_KEEP:
            _statistics_cache.pop(next(iter(_statistics_cache)))
        _statistics_cache[key] = with_statistics_of(net, rgb_view(image), style_scale, device)
    return _statistics_cache[key]


# ------------------------------------------------------------------------------ live preview

_prepared_cache: dict[tuple, tuple[np.ndarray, object]] = {}
_PREPARED_KEEP = 4


def _prepared_style(style_pixels: np.ndarray, scale: float, keep_colors: bool, models, device):
    """The WCT statistics of a style picture at a scale, kept for the next strokes.

    Keyed by the array itself (the UI hands the same array stroke after stroke; a reference is
    kept with the entry so its address cannot be reused), the scale, keep_colors and device."""
    from editor.ops.wct import DEFAULT_LEVELS, prepare_style

    key = (id(style_pixels), style_pixels.shape, round(scale, 4), bool(keep_colors), str(device))
    hit = _prepared_cache.get(key)
    if hit is not None and hit[0] is style_pixels:
        return hit[1]
    style01 = to_rgb01(limit_side(style_pixels, MAX_STYLE_SIDE), device)
    picture = scale_picture(style01, scale)
    prepared = prepare_style(picture, models.encoders, DEFAULT_LEVELS, luminance=keep_colors)
    while len(_prepared_cache) >= _PREPARED_KEEP:
        _prepared_cache.pop(next(iter(_prepared_cache)))
    _prepared_cache[key] = (style_pixels, prepared)
    return prepared


def run_preview(request: StyleRequest, ctx: RunContext) -> Run:
    """A quick look at what `run` will paint, for the live brush preview (methods fast, wct).

    The box of the regions (as `run` would process it) is stylised at a reduced size: wct at
    PREVIEW_MAX_SIZE with the style's statistics cached between strokes, fast at up to
    FAST_PREVIEW_MAX_SIZE. Returns (pixels, rect): pixels (h, w, C) in the image's layout and
    dtype, already blended through the feathered masks, covering `rect` of the image (the
    canvas stretches them over it). Also yields them as the run's one preview update.
    """
    image = request.image
    check_request(request, ONE_PASS_METHODS)
    masks = [r.mask for r in request.regions]
    union = union_mask(masks)
    rect, alpha = region_box(image, None if union is None else union.astype(np.uint8))
    cap = FAST_PREVIEW_MAX_SIZE if request.method == "fast" else PREVIEW_MAX_SIZE
    factor = min(1.0, cap / max(rect.w, rect.h))
    if request.method == "wct":
        factor = cap / max(rect.w, rect.h)  # always this size: the cached style matches it
    size = (max(1, round(rect.h * factor)), max(1, round(rect.w * factor)))
    crop = image[rect.slices]
    small = resize_pixels(crop, size)
    small_alpha = cv2.resize(alpha, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    # Each style reaches over its feather ramp, as in `run`, so the preview's edge fades too.
    reaches = style_reaches(masks, rect, feather_px(image.shape))
    small_masks = [
        None
        if m is None
        else cv2.resize(m.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_AREA)
        for m in reaches
    ]
    yield Update(progress=0.1, message="Preview")
    device = ctx.device
    if request.method == "fast":
        from editor.ops.fast_style import stylise_fast

        result = small
        for region, where in zip(request.regions, small_masks, strict=True):
            ctx.check_cancelled()
            net = ctx.models.load(FastStyles.id, name=region.model)
            # Statistics of the whole photo at the result's scale: the preview of a shrunk crop
            # normalises like the full-size pass.
            scale = request.style_scale
            styled = stylise_fast(
                _with_photo_statistics(net, region.model, image, scale, device),
                rgb_view(small),
                origin=(round(rect.x * factor), round(rect.y * factor)),
                strength=request.strength,
                keep_colors=request.keep_colors,
                style_scale=request.style_scale,
                device=device,
            )
            weights = np.ones(size, np.float32) if where is None else where
            result = composite(result, _from01(styled, small), Rect(0, 0, size[1], size[0]),
                               weights)  # fmt: skip
    else:
        from editor.ops.wct import stylise_wct

        models = ctx.models.load(WCTNetworks.id)
        ctx.check_cancelled()
        content = to_rgb01(small, device)
        styles = []
        for region, where in zip(request.regions, small_masks, strict=True):
            style_long = max(region.style.shape[:2])
            scale = request.style_scale * max(size) / min(style_long, MAX_STYLE_SIDE)
            prepared = _prepared_style(region.style, scale, request.keep_colors, models, device)
            mask = None if where is None else torch.from_numpy(where).to(device)
            styles.append((prepared, mask))
        with torch.no_grad():
            out01 = stylise_wct(
                content,
                styles,
                models.encoders,
                models.decoders,
                alpha=request.strength,
                keep_colors=request.keep_colors,
                cancel=ctx.check_cancelled,
            )
        result = from_rgb01(out01, small)
    ctx.check_cancelled()
    preview = composite(small, result, Rect(0, 0, size[1], size[0]), small_alpha)
    yield Update(progress=1.0, message="Preview", preview=preview, preview_rect=rect)
    return preview, rect
