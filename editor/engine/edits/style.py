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
shipped or user-trained fast style, `editor.engine.fast_styles`) applied in one forward pass over
the region's own crop, in overlapping tiles when the crop is large (`editor.ops.fast_style`);
strength blends with the photo, keep colours keeps its chrominance.

``run_preview(request)``: the live brush preview of the one-pass methods (fast, wct): the regions'
box at a reduced size, in a fraction of a second, returned as (pixels, rect) for the canvas.
The one-pass methods live in `editor.engine.edits.style_onepass`.

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

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor

from editor.core.geometry import Rect
from editor.engine.edits.pixels import from_rgb01, mask01, to_rgb01
from editor.engine.features import FULL_FIRST, TUNED_ON_CONV3, style_features
from editor.engine.jobs import Run, RunContext, Update
from editor.ops.region import composite, crop_rect, feather_alpha
from editor.ops.style_losses import keep_luminance_only, match_colour, resize
from editor.ops.style_transfer import (
    Evaluation,
    Settings,
    Step,
    StyleTarget,
    layer_plan,
    synthesise,
)

METHODS = ("gatys", "mrf", "wct", "fast")
"""gatys: Gram-matrix style loss (Gatys et al. 2016); mrf: nearest neural patch (Li & Wand);
wct: universal style transfer (Li et al. 2017) in one pass, no optimisation; fast: a trained
feed-forward network per style (Johnson et al. 2016), one pass."""
PICTURE_METHODS = ("gatys", "mrf", "wct")
"""The methods whose style is a picture (fast styles are networks)."""
ONE_PASS_METHODS = ("wct", "fast")
"""The methods quick enough for a live brush preview (`run_preview`)."""
DEFAULT_METHOD = "gatys"
DEFAULT_STRENGTH = 0.5
FAST_STRENGTH = 1.0
"""Default strength of a fast style: the network's output as it is (it has no content knob;
lower values blend it with the photo)."""
DEFAULT_ITERATIONS = 120
DEFAULT_MAX_SIZE = 1024

STYLE_WEIGHT_AT_HALF = 2.0
STYLE_WEIGHT_DECADES = 3.0
"""strength s in 0..1 -> style weight 2 x 10^(3 (s - 0.5)): 0.06 at s = 0 (a light wash of the
style), 2 at 0.5, 63 at 1 (the content barely holds). Both losses are relative (see
`editor.ops.style_losses`), so the scale does not depend on the image or the style. The default
was 20 until a region of golden_gate x starry_night lost its sky, cables and hills to the
painting's own composition (edge correlation with the photo inside the region 0.36; 0.50 at 3,
0.67 at 1, with the painting's texture still there: see the README's style section)."""

MRF_WEIGHT_FACTOR = 1.0
"""The patch term's weight relative to the Gram term's at the same strength. The patch loss is a
distance to the nearest style patch (~0.5-1 relative even when matched well), the Gram loss a
difference of averages (~0.01 when matched), and the patch weight was tuned on its own:
tubingen x starry_night at 256 px: weight 1 barely shows the painting, 4 paints its stars over
the houses, 2 (strength 0.5) keeps the town with the painting's strokes."""

FULL_STYLE_WEIGHT_AT_HALF = 40.0
FULL_COARSEST = 128
FULL_LEVEL_RATIO = 1.5
FULL_ITERATIONS = 50
"""Gatys on the full VGG19 (`vgg19-torchvision` or `vgg19-full`: style relu1_1..relu5_1, the paper's
layers; content: FULL_CONTENT_LAYER below, tuned here with relu4_2). Each finer level starts from
the coarser result plus the photo's own detail (`Settings.keep_detail`): a blurred enlargement reads
to relu4_1/relu5_1 as "not the painting", so the finest level used to start almost from scratch and
the fine iterations, ~1.6 s each at 512 px, were all spent undoing blur. With the detail kept, the
pyramid 128 / 256 / 512 px gets 23 / 16 / 11 of FULL_ITERATIONS (each level 1.5x fewer; tuned with
30 / 15 / 10). Tuned at 512 px x starry_night on tubingen and two training photos (raceway,
pasture); mean Gram distance over relu1_1..relu5_1 falls x / over relu4_1+relu5_1 x / edge
correlation with the photo / seconds: the pyramid without the detail, weight 20, 30 / 15 / 12
iterations: 7.3 / 5.1 / 0.16 / 34 s (tubingen's houses smeared, edges 0.09); plain L-BFGS at 512 px
only, weight 40, 14 iterations: 8.2 / 6.3 / 0.60 / 25 s (the photo with the painting's texture on
it, none of its swirls); with the detail, weight 20: 6.5 / 4.3 / 0.67 (one photo stalled at 2.1 x);
weight 40: 9.5 / 6.5 / 0.60 / 32 s (kept: the sky takes the painting's swirls and moon, the houses,
car and horses stay). Fewer cost too much: 40 iterations (19 / 13 / 8): tubingen 9.4 / 7.0, raceway
7.1 / 4.5 against 10.2 / 7.7 and 9.0 / 6.3 at 0.8x the time; a level ratio of 2 (29 / 14 / 7):
8.0 / 6.2 and 4.9 / 3.6. Each level's L-BFGS now starts at the coarser level's step size
(`editor.ops.style_transfer._Curvature`): the first iteration of the 256 and 512 px levels had
cost 6 and 7 evaluations, now 2, so the 50 iterations take 57 evaluations instead of 66, and the
same tuning photos came out at tubingen 10.4 / 7.7 / 0.68, raceway 9.1 / 6.1 / 0.61, pasture
12.3 / 8.5 / 0.53 (before: 10.7 / 8.1 / 0.68, 7.4 / 4.9 / 0.64, 11.5 / 8.5 / 0.56). Not kept:
the finest level without relu5_1 (or without relu4_1 and relu5_1), which saves 20-40 % of its
evaluations but lets the content term pull the deep statistics back to the photo's (tubingen
deep x 8.1 -> 3.8 / 2.4). The photos not tuned on: the README's style section
(benchmarks/bench_style.py --quality)."""

FULL_CONTENT_LAYER = "relu3_2"
FULL_SMALL_SIDE = 256
FULL_SMALL_CONTENT_LAYER = "relu2_2"
FULL_WEIGHT_SIDE = 512
FULL_MIN_WEIGHT_SHARE = 0.5
"""On the full VGG19 the photo is kept at relu3_2, not the paper's relu4_2, and below
FULL_SMALL_SIDE (the region's working size, long side, context included) at relu2_2; Gatys's
style weight falls in proportion to that size below FULL_WEIGHT_SIDE, to FULL_MIN_WEIGHT_SHARE
of it (CNNMRF's does not: at 256 px, half of it left tubingen nearly untouched, edges 0.98).
A small region's deep Grams paint the painting's own composition over it, and relu4_2's map
(an eighth of the image) is too coarse to hold it: a 128 px wing of Set14 monarch, edge
correlation inside the box: relu4_2 at weight 40: 0.29, relu3_2: 0.34, relu2_2: 0.42, relu2_2
at weight 20: 0.57, at 10: 0.70 (conv1-3: 0.65). At 512 px relu3_2 is no worse than relu4_2 on
the tuning photos (Gram x / deep x / edges: tubingen 10.2 / 7.7 / 0.66 against 10.0 / 7.2 /
0.67; raceway 9.0 / 6.3 / 0.60 against 8.8 / 5.7 / 0.61), and relu2_2 there keeps too much of
the photo (raceway 7.3 / 5.5). The weight's ramp replaced a step (weight 20 below 256 px, 40
above): boxes on four training photos (1024 px; Gram x / edges inside the box, step -> ramp):
a 180 px train front 4.0 / 0.33 -> 4.4 / 0.38, a 240 px abbey tower 8.1 / 0.66 -> 7.5 / 0.68,
a 300 px brewery 10.0 / 0.60 -> 9.1 / 0.62, a 320 px fountain 8.1 / 0.52 -> 8.1 / 0.54
(relu2_2 up to 384 px: train 3.6 / 0.51, tower 6.6 / 0.79, the painting too faint there). The
train's front is still painted over: a box that small takes the painting's whole swirl."""

GATYS_PREFER = FULL_FIRST
"""Gatys's network: the full VGG19 first (exact, else quantised), conv1-3 + wct16x's deep layers
where neither is installed. With the content layer chosen by size (FULL_SMALL_SIDE) it keeps a
small region's outlines too; on the held-out photos (README, bench_style.py --quality)
it matches the painting's Grams ~3x better than conv1-3 + aux, with more of the photo's edges."""
TUNED_FULL_METHODS = ("gatys", "mrf")
"""The methods with settings of their own on the full VGG19 (content rule, pyramid, iterations)."""
MRF_PREFER = FULL_FIRST
"""CNNMRF's network: the full VGG19 first, its patches at the real relu3_1 + relu4_1 (Li &
Wand's layers), with Gatys's content rule (FULL_CONTENT_LAYER...), detail-keeping pyramid and
FULL_ITERATIONS at CNNMRF's own weight. On tubingen (tuned on; 512 px x starry_night, Gram x /
deep x / edges): conv1-3 + aux, 120 iterations: 1.6 / 1.6 / 0.38 (brush texture, none of the
painting's stars); full, relu4_2, 120: 1.7 / 1.6 / 0.25 (stars over the houses, twice the
time); full, relu3_2, 120: 1.9 / 2.2 / 0.45; full, relu3_2, 50 with the detail: 1.9 / 2.3 /
0.78 in conv1-3's time (kept: stars in the sky and the river, the houses crisp)."""
FEATURE_PREFER = TUNED_ON_CONV3
"""Texture synthesis's network: the exact conv1-3 weights (+ wct16x's deep layers) it is tuned
on; a full network only where conv1-3 is absent."""

TEXTURE_CONTENT_WEIGHT = 5.0
"""Texture fill: how strongly the surroundings of the hole are held while the hole is
synthesised (they are composited back anyway; the term makes the texture meet them)."""

CONTEXT_PX = 32
CONTEXT_SHARE = 0.25
CONTEXT_MAX_PX = 160
"""Context around a region's box: CONTEXT_PX, a quarter of the box's long side for larger boxes
(at most CONTEXT_MAX_PX), and more than the style's reach. The optimiser sees an object the
box's edge cuts continue past it, held by the content term, rather than the crop's border."""
FEATHER_PX = 6.0
FEATHER_SHARE = 0.015
FEATHER_MAX_PX = 64.0
"""The blend ramp outside a region: 1.5 % of the image's long side, at least FEATHER_PX (a
979 px photo gets ~15 px): a fixed 6 px ramp reads as a hard box on a large photo."""
MAX_STYLE_SIDE = 1536
"""Style pictures are cut down to this long side before anything else: each pyramid level
resizes them again, and a 6000 px scan would only cost memory."""


@dataclass(frozen=True)
class StyleRegion:
    """A style and where it goes: mask (H, W) uint8 of the document's size, > 0 inside (None:
    the whole image). The style is a picture (h, w, C) uint8/uint16 for the picture methods, or
    `model`, a fast style's name or .safetensors path (`editor.engine.fast_styles`), for
    method "fast"."""

    style: np.ndarray | None = None
    mask: np.ndarray | None = None
    model: str | None = None


@dataclass(frozen=True)
class StyleRequest:
    """Stylise `image` (H, W, C) uint8/uint16 with one or more styles, each in its region.

    method: "gatys" or "mrf". strength: 0..1, from "mostly content" to "mostly style".
    keep_colors: keep the image's colours, take only the style's texture.
    style_scale: > 1 makes the style's brush strokes larger, < 1 smaller.
    iterations: optimisation steps in all (spread over the coarse-to-fine pyramid); None: the
        network's own default (`default_iterations`).
    max_size: longest side the crop is optimised at; larger crops are processed at this size and
        the stylised result is upsampled.
    models_dir: where VGG19 weights are looked for first.
    """

    image: np.ndarray
    regions: tuple[StyleRegion, ...]
    method: str = DEFAULT_METHOD
    strength: float = DEFAULT_STRENGTH
    keep_colors: bool = False
    style_scale: float = 1.0
    iterations: int | None = None
    max_size: int = DEFAULT_MAX_SIZE
    models_dir: Path | None = None


@dataclass(frozen=True)
class TextureRequest:
    """Synthesise the texture of `sample` (h, w, C) uint8/uint16.

    size: (width, height) of the new texture when `image` is None.
    image + mask: fill the masked region (mask (H, W) uint8, > 0 inside) of `image` instead.
    sample_scale: > 1 makes the texture's elements larger than in the sample.
    iterations: None = DEFAULT_ITERATIONS (Auto).
    """

    sample: np.ndarray
    size: tuple[int, int] = (512, 512)
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    iterations: int | None = None
    sample_scale: float = 1.0
    max_size: int = DEFAULT_MAX_SIZE
    models_dir: Path | None = None


def style_weight(strength: float, method: str = DEFAULT_METHOD, full: bool = False) -> float:
    """The style term's weight for a strength in 0..1 (see STYLE_WEIGHT_AT_HALF; `full`: the
    full VGG19's layers, FULL_STYLE_WEIGHT_AT_HALF)."""
    if method == "mrf":  # the patch weight was tuned on its own, on either network
        at_half = STYLE_WEIGHT_AT_HALF * MRF_WEIGHT_FACTOR
    else:
        at_half = FULL_STYLE_WEIGHT_AT_HALF if full else STYLE_WEIGHT_AT_HALF
    return at_half * 10 ** (STYLE_WEIGHT_DECADES * (strength - 0.5))


def has_full_network(available: Sequence[str]) -> bool:
    """Whether the features are the full VGG19 (relu4_2, the paper's content layer, is real;
    the wct16x aux heads give only relu4_1 and relu5_1)."""
    return "relu4_2" in available


def default_iterations(available: Sequence[str], method: str = DEFAULT_METHOD) -> int:
    """The iterations a style edit runs when the user leaves them on Auto: FULL_ITERATIONS for
    Gatys and CNNMRF on the full VGG19 (each is dearer, and the pyramid keeps the detail), else
    DEFAULT_ITERATIONS."""
    full = has_full_network(available)
    return FULL_ITERATIONS if full and method in TUNED_FULL_METHODS else DEFAULT_ITERATIONS


def gatys_settings(
    available: Sequence[str],
    strength: float = DEFAULT_STRENGTH,
    iterations: int | None = None,
    method: str = DEFAULT_METHOD,
    style_scale: float = 1.0,
    long_side: int | None = None,
) -> Settings:
    """The optimiser's settings for a style edit on features providing `available` layers:
    Gatys's weights, layers, pyramid and iterations (None: `default_iterations`) tuned for the
    full VGG19 when it is there, for conv1-3 (+ aux) else. long_side: the working size of the
    region (None: a large one); the full network's content layer and weight depend on it
    (FULL_SMALL_SIDE, FULL_WEIGHT_SIDE)."""
    full = has_full_network(available)
    tuned_full = full and method in TUNED_FULL_METHODS
    weight = style_weight(strength, method, full)
    layers = None
    if tuned_full:
        side = FULL_WEIGHT_SIDE if long_side is None else long_side
        if method == "gatys":  # CNNMRF's patches do not copy the painting's composition
            weight *= min(1.0, max(FULL_MIN_WEIGHT_SHARE, side / FULL_WEIGHT_SIDE))
        content = FULL_SMALL_CONTENT_LAYER if side < FULL_SMALL_SIDE else FULL_CONTENT_LAYER
        layers = replace(layer_plan(available), content=content)
    return Settings(
        method=method,
        style_weight=weight,
        layers=layers,
        iterations=default_iterations(available, method) if iterations is None else iterations,
        style_scale=style_scale,
        coarsest=FULL_COARSEST if full else Settings.coarsest,
        level_ratio=FULL_LEVEL_RATIO if full else Settings.level_ratio,
        keep_detail=tuned_full,
    )


# ------------------------------------------------------------------------------------ style


def run(request: StyleRequest, ctx: RunContext, features=None) -> Run:
    """Stylise the regions; return the full image (same shape and dtype as request.image).

    `features` (a FeatureExtractor) is loaded from the model store when not given. Raises
    ValueError for bad input (wrong mask size, empty mask, unknown method, odd style picture)
    and ModelMissing when no VGG19 weights are installed.
    """
    image = request.image
    _check_request(request, METHODS)
    if request.method == "fast":
        from editor.engine.edits.style_onepass import run_fast

        return (yield from run_fast(request, ctx))
    rect, alpha = _region_box(image, _union([r.mask for r in request.regions]))

    device = ctx.device
    crop = image[rect.slices]
    work = _fit((rect.h, rect.w), request.max_size)
    with torch.no_grad():
        content = resize(to_rgb01(crop, device), work)
    styles, wheres = [], []
    reaches = style_reaches([r.mask for r in request.regions], rect, feather_px(image.shape))
    for region, reach in zip(request.regions, reaches, strict=True):
        styles.append(to_rgb01(_limit(region.style, MAX_STYLE_SIDE), device))
        wheres.append(None if reach is None else resize(mask01(reach, device), work))
    if request.method == "wct":
        from editor.engine.edits.style_onepass import run_wct

        result01 = yield from run_wct(request, content, styles, wheres, ctx)
    else:
        result01 = yield from _optimised(request, content, styles, wheres, ctx, features, crop,
                                         alpha, rect)  # fmt: skip
    ctx.check_cancelled()
    yield Update(progress=0.98, message="Blending")
    with torch.no_grad():
        full = resize(result01, (rect.h, rect.w)).clamp(0, 1)
        if request.keep_colors and request.method != "wct":
            full = keep_luminance_only(full, to_rgb01(crop, device))
    return composite(image, from_rgb01(full, crop), rect, alpha)


def _optimised(request, content, styles, wheres, ctx, features, crop, alpha, rect) -> Run:
    """Gatys or CNNMRF: optimise the crop's pixels, streaming each step."""
    if features is None:
        yield Update(progress=0.0, message="Loading VGG19 features")
        prefer = GATYS_PREFER if request.method == "gatys" else MRF_PREFER
        features = style_features(request.models_dir, ctx.device, prefer=prefer, bf16=True)
    targets = []
    for style, where in zip(styles, wheres, strict=True):
        if request.keep_colors:
            style = match_colour(style, _pixels_in(content, where))
        targets.append(StyleTarget(style, where))
    settings = gatys_settings(
        features.available_layers,
        request.strength,
        request.iterations,
        request.method,
        request.style_scale,
        long_side=max(content.shape[-2:]),
    )
    yield Update(progress=0.02, message=f"Stylising {rect.w}×{rect.h} ({request.method})")
    steps = synthesise(
        features,
        features.available_layers,
        targets,
        settings,
        content=content,
        cancel=ctx.check_cancelled,
        finish=lambda: ctx.finish_requested,
        on_evaluation=partial(_report_evaluation, ctx),
    )

    def finish_colours(x: Tensor) -> Tensor:
        if not request.keep_colors:
            return x
        return keep_luminance_only(x, resize(content, tuple(x.shape[-2:])))

    return (yield from _stream(steps, crop, alpha, rect, finish_colours))


def _check_request(request: StyleRequest, methods: tuple[str, ...]) -> None:
    """ValueError naming what is wrong with a request for one of `methods`."""
    _check_image(request.image, "image")
    if request.method not in methods:
        raise ValueError(f"unknown method {request.method!r} here; valid: {', '.join(methods)}")
    if not request.regions:
        raise ValueError("no style given")
    if not 0.0 <= request.strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {request.strength}")
    _check_common(request.iterations, request.style_scale, request.max_size)
    _check_regions(request)


def _union(masks: list[np.ndarray | None]) -> np.ndarray | None:
    """Where any region's mask is set (bool), or None when a region covers the whole image."""
    if any(m is None for m in masks):
        return None
    return np.maximum.reduce([m > 0 for m in masks])


def feather_px(shape: tuple[int, ...]) -> float:
    """The width of the blend ramp around a region of an image of this shape (H, W[, C]): it
    grows with the image (FEATHER_SHARE of its long side) so the edge looks as soft at any size."""
    return float(min(FEATHER_MAX_PX, max(FEATHER_PX, FEATHER_SHARE * max(shape[:2]))))


def context_px(box: Rect, feather: float) -> int:
    """Context margin around a region's bounding box (see CONTEXT_SHARE); the style's reach
    (`style_reaches`) lies inside it."""
    share = min(CONTEXT_MAX_PX, round(CONTEXT_SHARE * max(box.w, box.h)))
    return max(CONTEXT_PX, share, math.ceil((REACH_FACTOR + 1) * feather))


def _region_box(image: np.ndarray, mask: np.ndarray | None) -> tuple[Rect, np.ndarray]:
    """The crop a region is processed in (its mask's box + `context_px`) and its blend weights
    (the mask feathered by `feather_px`); the whole image with weight 1 when there is no mask."""
    if mask is None:
        h, w = image.shape[:2]
        return Rect(0, 0, w, h), np.ones((h, w), np.float32)
    inside = (mask > 0).astype(np.uint8)
    feather = feather_px(image.shape)
    box = crop_rect(inside, 0)
    rect = crop_rect(inside, context_px(box, feather))
    return rect, feather_alpha(inside[rect.slices], feather)


REACH_FACTOR = 2.0
"""How far past its mask a style is painted, in feathers: the style fades out toward the edge of
its reach (its Gram statistics are pooled over cells there), so the ramp must lie well inside."""


def style_reaches(
    masks: list[np.ndarray | None], rect: Rect, feather: float
) -> list[np.ndarray | None]:
    """Where each region's style is painted inside `rect`: its mask grown past the feather ramp
    (by REACH_FACTOR feathers; uint8 0/1 crops, None = everywhere), minus the other regions'
    masks.

    The composite fades the result into the photo across the ramp; if the style stopped at the
    mask's edge the ramp would fade photo into photo and the region would end in a hard step.
    """
    hard = [None if m is None else (m[rect.slices] > 0) for m in masks]
    out: list[np.ndarray | None] = []
    for i, inside in enumerate(hard):
        if inside is None:
            out.append(None)
            continue
        reach = feather_alpha(inside.astype(np.uint8), REACH_FACTOR * feather) > 0
        for j, other in enumerate(hard):
            if j != i and other is not None:
                reach &= ~other
        out.append((reach | inside).astype(np.uint8))
    return out


def _check_regions(request: StyleRequest) -> None:
    """Each region has what its method needs: a picture, or (fast) a network's name/path."""
    for i, region in enumerate(request.regions, 1):
        if request.method == "fast":
            if not region.model:
                raise ValueError(
                    f"region {i} has no fast style: method fast needs a style network "
                    "(a name from `semedit style --list` or a .safetensors file)"
                )
        elif region.style is None:
            raise ValueError(f"region {i} has no style picture (method {request.method})")
        else:
            _check_image(region.style, f"style {i}")
        if region.mask is not None:
            _check_mask(region.mask, request.image, f"mask {i}")


def run_preview(request: StyleRequest, ctx: RunContext) -> Run:
    """The live brush preview of the one-pass methods: see `style_onepass.run_preview`."""
    from editor.engine.edits.style_onepass import run_preview as preview

    return preview(request, ctx)


# ---------------------------------------------------------------------------------- texture


def run_texture(request: TextureRequest, ctx: RunContext, features=None) -> Run:
    """Texture from `request.sample`: a new (h, w, 3) uint8 image (no `image` given), or the
    image with its masked area filled (same shape and dtype as `request.image`)."""
    _check_image(request.sample, "sample")
    _check_common(request.iterations, request.sample_scale, request.max_size)
    image, mask = request.image, request.mask
    if image is None:
        width, height = request.size
        if not (16 <= width <= 8192 and 16 <= height <= 8192):
            raise ValueError(f"texture size must be 16..8192 px a side, got {width}×{height}")
    else:
        _check_image(image, "image")
        if mask is None:
            raise ValueError("a texture fill needs a mask: paint where the texture goes")
        _check_mask(mask, image, "mask")
    if features is None:
        yield Update(progress=0.0, message="Loading VGG19 features")
        features = style_features(request.models_dir, ctx.device, prefer=FEATURE_PREFER)
    device = ctx.device
    sample = to_rgb01(_limit(request.sample, MAX_STYLE_SIDE), device)

    if image is None:
        work = _fit((height, width), request.max_size)
        # The sample keeps its own scale at the output's size, however it is worked on.
        scale = request.sample_scale * max(work) / max(height, width)
        settings = _texture_settings(request.iterations, scale, content_weight=0.0)
        yield Update(progress=0.02, message=f"Synthesising {width}×{height} texture")
        steps = synthesise(
            features,
            features.available_layers,
            [StyleTarget(sample)],
            settings,
            size=work,
            cancel=ctx.check_cancelled,
            finish=lambda: ctx.finish_requested,
            on_evaluation=partial(_report_evaluation, ctx),
        )
        rect = Rect(0, 0, width, height)
        blank = np.zeros((height, width, 3), np.uint8)
        ones = np.ones((height, width), np.float32)
        result01 = yield from _stream(steps, blank, ones, rect, lambda x: x)
        with torch.no_grad():
            return from_rgb01(resize(result01, (height, width)), blank)

    hole = mask > 0
    box = crop_rect(hole.astype(np.uint8), 0)
    rect = crop_rect(hole.astype(np.uint8), max(CONTEXT_PX, max(box.w, box.h) // 4))
    crop = image[rect.slices]
    alpha = feather_alpha(hole[rect.slices].astype(np.uint8), FEATHER_PX)
    work = _fit((rect.h, rect.w), request.max_size)
    scale = request.sample_scale * max(work) / max(rect.h, rect.w)
    with torch.no_grad():
        content = resize(to_rgb01(crop, device), work)
        where = resize(mask01(hole[rect.slices].astype(np.uint8), device), work)
        noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
        start = sample.mean(dim=(2, 3), keepdim=True) + 0.1 * noise.to(device)
        init = torch.where(where > 0.5, start.clamp(0, 1), content)
    settings = _texture_settings(request.iterations, scale, TEXTURE_CONTENT_WEIGHT)
    yield Update(progress=0.02, message=f"Filling {box.w}×{box.h} with texture")
    steps = synthesise(
        features,
        features.available_layers,
        [StyleTarget(sample, where)],
        settings,
        content=content,
        content_mask=1.0 - where,
        init=init,
        cancel=ctx.check_cancelled,
        finish=lambda: ctx.finish_requested,
        on_evaluation=partial(_report_evaluation, ctx),
    )
    result01 = yield from _stream(steps, crop, alpha, rect, lambda x: x)
    ctx.check_cancelled()
    with torch.no_grad():
        full = resize(result01, (rect.h, rect.w)).clamp(0, 1)
    return composite(image, from_rgb01(full, crop), rect, alpha)


def _texture_settings(iterations: int | None, scale: float, content_weight: float) -> Settings:
    return Settings(
        style_weight=1.0,
        content_weight=content_weight,
        tv_weight=0.05,
        iterations=DEFAULT_ITERATIONS if iterations is None else iterations,
        style_scale=scale,
        style_relative=False,
    )


# ---------------------------------------------------------------------------------- helpers

_STREAM_START, _STREAM_SHARE = 0.03, 0.94
"""The optimiser's share of the job's progress bar: after loading, before blending."""


def _stream(steps, crop: np.ndarray, alpha: np.ndarray, rect: Rect, colours) -> Run:
    """Drive the optimiser, turning each Step into a preview of the region; return its result.

    The preview is the current level's image (small at first), composited into the crop at
    that size: the canvas stretches it over `rect`, so the user sees the whole region evolve
    without the cost of upsampling every frame.
    """
    while True:
        try:
            step: Step = next(steps)
        except StopIteration as stop:
            return stop.value
        with torch.no_grad():
            shown = colours(step.image)
        h, w = shown.shape[-2:]
        base = _resize_pixels(crop, (h, w))
        weights = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
        preview = composite(base, from_rgb01(shown, base), Rect(0, 0, w, h), weights)
        yield Update(
            progress=_STREAM_START + _STREAM_SHARE * step.progress,
            message=f"level {step.level + 1}/{step.levels}, iteration {step.iteration}",
            preview=preview,
            preview_rect=rect,
        )


def _report_evaluation(ctx: RunContext, evaluation: Evaluation) -> None:
    """Each evaluation of the loss (and each level's start) as a sub-step the user sees move: on
    a large crop one takes seconds and an L-BFGS iteration runs several, with nothing yielded
    until its step ends."""
    level = f"level {evaluation.level + 1}/{evaluation.levels}"
    if evaluation.iteration == 0:
        message = f"{level}, preparing"
    else:
        message = f"{level}, iteration {evaluation.iteration}, evaluation {evaluation.evaluation}"
    progress = _STREAM_START + _STREAM_SHARE * evaluation.progress
    ctx.report(Update(progress=progress, message=message))


def _pixels_in(content: Tensor, where: Tensor | None) -> Tensor:
    """The content's pixels inside a region as a (1, 3, N, 1) 'image' (all of them if None)."""
    if where is None:
        return content
    inside = where[0, 0] > 0.5
    if not bool(inside.any()):
        return content
    return content[0][:, inside][None, :, :, None]


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(h, w) shrunk to at most max_side on the long side, aspect kept."""
    h, w = size
    factor = min(1.0, max_side / max(h, w))
    return max(1, round(h * factor)), max(1, round(w * factor))


def _limit(pixels: np.ndarray, max_side: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    if max(h, w) <= max_side:
        return pixels
    return _resize_pixels(pixels, _fit((h, w), max_side))


def _resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W[, C]) image to (h, w), same layout and dtype."""
    h, w = size
    if pixels.shape[:2] == (h, w):
        return pixels.copy()
    mode = cv2.INTER_AREA if h <= pixels.shape[0] else cv2.INTER_CUBIC
    out = cv2.resize(np.ascontiguousarray(pixels), (w, h), interpolation=mode)
    return out[..., None] if out.ndim == 2 and pixels.ndim == 3 else out


def _check_image(pixels: np.ndarray, what: str) -> None:
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"the {what} must be 8- or 16-bit, got {pixels.dtype}")
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4)):
        raise ValueError(f"the {what} has an unsupported layout {pixels.shape}")
    if min(pixels.shape[:2]) < 16:
        raise ValueError(
            f"the {what} is {pixels.shape[1]}×{pixels.shape[0]} px; at least 16×16 is needed"
        )


def _check_mask(mask: np.ndarray, image: np.ndarray, what: str) -> None:
    if mask.ndim != 2 or mask.shape != image.shape[:2]:
        raise ValueError(
            f"the {what} is {mask.shape[1] if mask.ndim > 1 else '?'}×{mask.shape[0]} but the "
            f"image is {image.shape[1]}×{image.shape[0]}: they must be the same size"
        )
    if not mask.any():
        raise ValueError(f"the {what} is empty: paint where the style goes")


def _check_common(iterations: int | None, scale: float, max_size: int) -> None:
    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if not (math.isfinite(scale) and 0.1 <= scale <= 10):
        raise ValueError(f"the scale must be between 0.1 and 10, got {scale}")
    if max_size < 64:
        raise ValueError(f"max_size must be at least 64 px, got {max_size}")
