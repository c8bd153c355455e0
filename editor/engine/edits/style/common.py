"""Style requests, their validation and the region geometry every style method shares
(the bounding box, its context margin, the feather, how far each style reaches)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.engine.models.vgg import FULL_FIRST, TUNED_ON_CONV3
from editor.ops.region import crop_rect, feather_alpha

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
0.67 at 1, with the painting's texture still there: see docs/style.md)."""


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
deep x 8.1 -> 3.8 / 2.4). The photos not tuned on: docs/style.md
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
    `model`, a fast style's name or .safetensors path (`editor.engine.models.fast_styles`), for
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
    """

    image: np.ndarray
    regions: tuple[StyleRegion, ...]
    method: str = DEFAULT_METHOD
    strength: float = DEFAULT_STRENGTH
    keep_colors: bool = False
    style_scale: float = 1.0
    iterations: int | None = None
    max_size: int = DEFAULT_MAX_SIZE


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


def check_request(request: StyleRequest, methods: tuple[str, ...]) -> None:
    """ValueError naming what is wrong with a request for one of `methods`."""
    check_image(request.image, "image")
    if request.method not in methods:
        raise ValueError(f"unknown method {request.method!r} here; valid: {', '.join(methods)}")
    if not request.regions:
        raise ValueError("no style given")
    if not 0.0 <= request.strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {request.strength}")
    check_common(request.iterations, request.style_scale, request.max_size)
    check_regions(request)


def union_mask(masks: list[np.ndarray | None]) -> np.ndarray | None:
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


def region_box(image: np.ndarray, mask: np.ndarray | None) -> tuple[Rect, np.ndarray]:
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


def check_regions(request: StyleRequest) -> None:
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
            check_image(region.style, f"style {i}")
        if region.mask is not None:
            check_mask(region.mask, request.image, f"mask {i}")


"""The optimiser's share of the job's progress bar: after loading, before blending."""


def fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(h, w) shrunk to at most max_side on the long side, aspect kept."""
    h, w = size
    factor = min(1.0, max_side / max(h, w))
    return max(1, round(h * factor)), max(1, round(w * factor))


def limit_side(pixels: np.ndarray, max_side: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    if max(h, w) <= max_side:
        return pixels
    return resize_pixels(pixels, fit_size((h, w), max_side))


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W[, C]) image to (h, w), same layout and dtype."""
    h, w = size
    if pixels.shape[:2] == (h, w):
        return pixels.copy()
    mode = cv2.INTER_AREA if h <= pixels.shape[0] else cv2.INTER_CUBIC
    out = cv2.resize(np.ascontiguousarray(pixels), (w, h), interpolation=mode)
    return out[..., None] if out.ndim == 2 and pixels.ndim == 3 else out


def check_image(pixels: np.ndarray, what: str) -> None:
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"the {what} must be 8- or 16-bit, got {pixels.dtype}")
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (1, 3, 4)):
        raise ValueError(f"the {what} has an unsupported layout {pixels.shape}")
    if min(pixels.shape[:2]) < 16:
        raise ValueError(
            f"the {what} is {pixels.shape[1]}×{pixels.shape[0]} px; at least 16×16 is needed"
        )


def check_mask(mask: np.ndarray, image: np.ndarray, what: str) -> None:
    if mask.ndim != 2 or mask.shape != image.shape[:2]:
        raise ValueError(
            f"the {what} is {mask.shape[1] if mask.ndim > 1 else '?'}×{mask.shape[0]} but the "
            f"image is {image.shape[1]}×{image.shape[0]}: they must be the same size"
        )
    if not mask.any():
        raise ValueError(f"the {what} is empty: paint where the style goes")


def check_common(iterations: int | None, scale: float, max_size: int) -> None:
    if iterations is not None and iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    if not (math.isfinite(scale) and 0.1 <= scale <= 10):
        raise ValueError(f"the scale must be between 0.1 and 10, got {scale}")
    if max_size < 64:
        raise ValueError(f"max_size must be at least 64 px, got {max_size}")
