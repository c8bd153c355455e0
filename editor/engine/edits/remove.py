"""Remove: paint over an object, get the image without it.

Methods (Yang et al. 2017, "High-Resolution Image Inpainting using Multi-Scale Neural Patch
Synthesis", with a classical content stage since no inpainting network is available offline):

- ``refined`` (default): a content stage — the mean of several PatchMatch completions
  (`CONTENT_FILLS`), hedged with Telea's fill (`CONTENT_PATCH_SHARE`) — then the neural-patch
  texture stage: the hole's pixels are optimised so each VGG feature patch inside it matches its
  nearest patch from the known region (CNNMRF, Li & Wand 2016), while staying close to the
  content at a coarse scale. Streams a preview every few iterations. Needs VGG19 feature weights
  from the model store.
- ``quick``: multi-scale PatchMatch completion (Barnes et al. 2009; Wexler et al. 2007): the
  hole is rebuilt from patches of the surrounding image. About a second, no weights.
- ``telea`` / ``ns``: OpenCV's diffusion inpainting; smooth, fine for thin scratches and wires.

The content stage is pluggable: when the model store has the content network (`big-lama`,
LaMa's TorchScript export; `semedit models fetch big-lama`, 196 MB, Apache-2.0), refined runs it
on the crop at <= 512 px (`editor.ops.inpaint_net`) in place of the PatchMatch completions, and
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

import math
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.engine.features import TUNED_ON_CONV3, shared_features, vgg_available
from editor.engine.inpaint_models import installed_content_network
from editor.engine.jobs import Run, RunContext, Update
from editor.ops.inpaint_classic import inpaint_opencv
from editor.ops.region import composite, crop_rect, feather_alpha

METHODS = ("refined", "quick", "telea", "ns")
DEFAULT_METHOD = "refined"
PATCH_METHODS = ("refined", "quick")

FEATHER_PX = 4.0
"""Width of the soft edge outside the mask; hides the seam of a fill that repaints the crop."""

CONTENT_FILLS: tuple[dict[str, int], ...] = (
    {"seed": 1},
    {"min_size": 48},
    {"min_size": 48, "seed": 1},
)
"""The refined method's content stage: the quick fill and PatchMatch completions with these
`patchmatch_fill` settings (another random start; a coarsest level of 48 px instead of 32, which
settles the layout differently), averaged. Yang et al.'s content network predicts a hole's
expected content; the mean of several plausible completions stands in for it without weights:
where they agree it keeps their structure and detail, where they disagree it is a hedge the
texture stage then details. benchmarks/bench_remove.py, refined with the quick fill alone ->
this mean: 0.650 -> 0.623 mean perceptual distance, 0.852 -> 0.836 on the second set of masks,
0.782 -> 0.750 on a third (--mask-seed 20). Each completion costs about as much as `quick`; they
run side by side (refined 9.8 -> 9.1 s mean on the benchmark, 2 cores)."""

CONTENT_PATCH_SHARE = 0.4
"""The content target (and coarsest start): this share of the patch fills' mean, the rest
Telea's smooth fill. A hole's content is uncertain; the two err in different ways, and their
mean is nearer the truth perceptually than either (measured with one patch fill: 0.68 mean
perceptual distance for a plain 50/50 blend, 0.71 Telea, 0.73 the patch fill). The texture term
then puts sharp detail back on top of that hedged layout."""

CONTENT_DISAGREE = (25.0, 60.0)
"""...except where the two fills disagree outright (their mean absolute difference, 8-bit levels,
over a Gaussian of CONTENT_DISAGREE_SIGMA px): from the first number to the second the share
moves to the patch fills alone. There Telea has smeared a structure into the hole (a tower, an
arcade), and half of a smear is a ghost the texture term turns into a washed-out copy; the
patch fill's coherent guess looks right and scores better too (bench_remove: refined 0.664 ->
0.649, the Tübingen facades and the Hoover arcade without their pale ghosts)."""
CONTENT_DISAGREE_SIGMA = 4.0

FEATURE_PREFER = TUNED_ON_CONV3
"""The texture stage's VGG19: the exact conv1-3 weights, layers relu2_1 + relu3_1. relu3_1 +
relu4_1 of the full network were worse on every group of benchmarks/bench_remove.py --deep's
78 fills (perceptual distance +0.028 +- 0.004, lower on 17 of 78; +0.025 on the five photos not
tuned on; sharpness 0.86 -> 0.78), likely because relu4_1's cells are 8 px: too coarse to carry
the known region's fine texture into the hole (not measured further)."""

REFINE_PARAMS = {
    "content_weight": 20.0,
    "content_pool": (2, 4, 8),
    "texture_weight": 0.1,
    "iterations_per_scale": (36, 18, 7),
    "source_band": 16,
    "chroma_tv_weight": 10.0,
    "adam_eps": 1e-4,
}
"""Stage-2 settings for object removal: a strong content term, on 2x2 means at the coarsest scale
(so the hedged layout holds) and on ever larger cells at the finer ones (so the texture term owns
the detail there instead of being pulled back to the smooth blend), texture copied only from a
16 px band round the hole at each scale (so a nearby object of another colour is not painted into
it), total variation on colour only (the pixel-level VGG gradients otherwise leave red/blue
speckle on fine stripes; luminance detail is untouched), and most steps at the coarse scales,
where one costs least, so a 512 px photo refines in under 15 s on one core. Adam's epsilon at
1e-4 instead of 1e-8: with the default, every pixel of a flat sky moved a full step on its
vanishing gradient and the hole came out grainy (high-pass energy 2.3 levels against the sky's
0.6 on a Golden Gate sky hole; 0.7 now). Mean perceptual distance 0.649 -> 0.650 on the
benchmark, 0.844 -> 0.852 on its second set of masks (3e-5: 0.646 / 0.846, but 1.1 levels of
grain left in the sky) — a flat fill that looks flat was worth that."""

DETAIL_SIGMA = 1.5
DETAIL_GAIN = 3.0
"""The finest scale starts from the coarse result plus DETAIL_GAIN x the patch fills' detail
layer (their mean minus its Gaussian blur of DETAIL_SIGMA px): the coarse scales fix the layout
but an upsampled result has no pixel-scale grain, which the few full-size steps then only need
to correct, not grow. Without it the hedged blend leaves smooth, smeared fills (sharpness 0.52
on lenna's face hole in benchmarks/bench_remove.py, 0.77 with a gain of 2). Taken from the mean,
the detail is strong where the completions agree and faint where they guess differently, so a
guess is not sharpened into a confident wrong texture (detail from the quick fill alone at a
gain of 2.5: 0.637 mean distance; from the mean at 3: 0.623, sharpness 0.82)."""

HOLE_DILATE_PX = 2
"""The patch methods also replace a thin ring round the painted mask: a brush seldom covers an
object's anti-aliased outline, and a left-over halo is the first thing the eye finds."""


@dataclass(frozen=True)
class RemoveRequest:
    """What to remove: image (H, W, C) uint8/uint16, mask (H, W) uint8 (> 0 = remove).

    method: one of METHODS; radius: Telea/NS neighbourhood in pixels; margin: context pixels
    around the mask's bounding box (patch methods take at least half the hole's size, so there
    is texture to copy from); models_dir: where the refined method looks for VGG19 weights
    first (then the user data folder).
    """

    image: np.ndarray
    mask: np.ndarray
    method: str = DEFAULT_METHOD
    radius: float = 5.0
    margin: int = 32
    models_dir: Path | None = None


def run(request: RemoveRequest, ctx: RunContext, features=None, content_network=None) -> Run:
    """Fill the masked region; return the full-size image (same shape and dtype).

    `features` (a FeatureExtractor) is loaded from the model store when the refined method
    needs it and none is given; so is `content_network` (`big-lama`) when it is installed,
    else refined's content stage is the mean of PatchMatch completions. Raises ValueError for
    a mask of the wrong size, an empty mask or an unknown method, and ModelMissing when refined
    has no VGG19 weights.
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
    rect = work_rect(mask, request.method, request.margin)
    if rect is None:
        raise ValueError("the mask is empty: paint over what to remove")
    if bool((mask > 0).all()):
        raise ValueError(
            "the mask covers the whole image: nothing is left to fill it from "
            "(paint only over what to remove)"
        )
    ctx.check_cancelled()
    if request.method == "refined" and features is None:
        yield Update(progress=0.0, message="Loading VGG19 features")
        features = shared_features(request.models_dir, ctx.device, prefer=FEATURE_PREFER)
    if request.method == "refined" and content_network is None:
        content_network = installed_content_network(request.models_dir, ctx.device)

    crop, crop_mask = image[rect.slices], mask[rect.slices]
    yield Update(progress=0.02, message=f"Removing ({request.method}, {rect.w}×{rect.h} crop)")
    if request.method in PATCH_METHODS:
        hole = patch_hole(crop_mask)
        filled = yield from _patch_fill(
            crop, hole, request.method, ctx, features, rect, content_network
        )
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


def work_rect(mask: np.ndarray, method: str, margin: int) -> Rect | None:
    """The part of the image a removal reads and may change: the mask's bounding box plus
    `margin` (at least the feather and the halo ring; for the patch methods at least half the
    hole's size, so there is texture to copy from). None for an empty mask."""
    hole_box = crop_rect(mask, 0)
    if hole_box is None:
        return None
    margin = max(margin, math.ceil(FEATHER_PX) + HOLE_DILATE_PX)
    if method in PATCH_METHODS:
        margin = max(margin, max(hole_box.w, hole_box.h) // 2)
    return crop_rect(mask, margin)


def patch_hole(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: what the patch methods replace, the mask grown by HOLE_DILATE_PX (unless
    that would leave nothing to fill from, as on an image a few pixels wide)."""
    grown = cv2.dilate((mask > 0).astype(np.uint8), _disc(HOLE_DILATE_PX)) > 0
    return mask > 0 if bool(grown.all()) else grown


def _patch_fill(
    crop: np.ndarray, hole: np.ndarray, method: str, ctx: RunContext, features, rect,
    content_network=None,
) -> Run:  # fmt: skip
    """PatchMatch, or for refined a content stage (the content network when there is one,
    else PatchMatch completions) and the neural texture stage, on an 8-bit RGB view of the
    crop."""
    rgb8 = _to_rgb8(crop)
    if method == "refined" and content_network is not None:
        from editor.ops.inpaint_net import network_fill

        start = network_fill(content_network, rgb8, hole, ctx.device)
        share = 0.3
        yield Update(
            progress=share,
            message="Content network done",
            preview=_from_rgb8(start, crop, hole),
            preview_rect=rect,
        )
        mean = start.astype(np.float32)  # the network's prediction is the expected content
        content = mean
    else:
        quick = completion(rgb8, hole, ctx)
        share = 0.15 if method == "refined" else 0.95
        yield Update(
            progress=share,
            message="Patch fill done",
            preview=_from_rgb8(quick, crop, hole),
            preview_rect=rect,
        )
        if method == "quick":
            return _from_rgb8(quick, crop, hole)
        mean = yield from _completions_mean(rgb8, hole, quick, ctx, share)
        share += 0.15
        content = content_target(mean, rgb8, hole)
        start = quick
    return (yield from _texture_stage(crop, hole, start, mean, content, share, ctx, features,
                                      rect))  # fmt: skip


def _completions_mean(
    rgb8: np.ndarray, hole: np.ndarray, quick: np.ndarray, ctx: RunContext, share: float
) -> Run:
    """The offline content stage: the mean of the quick fill and CONTENT_FILLS completions."""
    fills = [quick.astype(np.float32)] + [None] * len(CONTENT_FILLS)
    workers = max(1, min(len(CONTENT_FILLS), os.cpu_count() or 1))
    with ThreadPoolExecutor(workers, thread_name_prefix="content-fill") as pool:
        # numpy releases the GIL in the heavy parts: on 2 cores two at once take ~0.75x the time
        futures = {
            pool.submit(completion, rgb8, hole, ctx, **settings): index
            for index, settings in enumerate(CONTENT_FILLS, start=1)
        }
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                fills[futures[future]] = future.result().astype(np.float32)
                yield Update(
                    progress=share + 0.15 * done / len(CONTENT_FILLS),
                    message=f"Content fill {done + 1} of {len(CONTENT_FILLS) + 1}",
                )
        finally:  # cancelled or closed: drop the queued ones (running ones see the flag)
            for future in futures:
                future.cancel()
    return np.mean(fills, axis=0)


def _texture_stage(crop, hole, start, mean, content, share, ctx: RunContext, features, rect) -> Run:
    """Yang et al.'s second stage from `start` (uint8), held to `content` (float 0..255) at
    coarse scales, its finest scale seeded with `mean`'s detail."""
    import torch

    from editor.ops.neural_patch import NoTextureSource, refine_hole

    device = torch.device(ctx.device)
    image01 = torch.from_numpy(start).permute(2, 0, 1)[None].float().div(255).to(device)
    hole_t = torch.from_numpy(hole.astype(np.float32))[None, None].to(device)
    content01 = torch.from_numpy(content).permute(2, 0, 1)[None].div(255).to(device)
    detail01 = None
    if DETAIL_GAIN:
        mean01 = mean / 255
        detail = DETAIL_GAIN * (mean01 - cv2.GaussianBlur(mean01, (0, 0), DETAIL_SIGMA))
        detail01 = torch.from_numpy(detail).permute(2, 0, 1)[None].to(device)
    refine = refine_hole(
        image01,
        hole_t,
        features,
        content01=content01,
        finest_detail01=detail01,
        cancel=ctx.check_cancelled,
        **REFINE_PARAMS,
    )
    final = image01
    while True:
        try:
            progress, current = next(refine)
        except StopIteration as stop:
            final = stop.value if stop.value is not None else final
            break
        except NoTextureSource:
            yield Update(
                progress=1.0,
                message="Too small for the texture stage: the content fill is kept",
                preview=_from_rgb8(start, crop, hole),
                preview_rect=rect,
            )
            return _from_rgb8(start, crop, hole)
        final = current
        pixels = _tensor_to_rgb8(current)
        yield Update(
            progress=share + (1 - share) * 0.95 * progress,
            message="Refining texture",
            preview=_from_rgb8(pixels, crop, hole),
            preview_rect=rect,
        )
    return _from_rgb8(_tensor_to_rgb8(final), crop, hole)


def completion(rgb8: np.ndarray, hole: np.ndarray, ctx: RunContext, **settings) -> np.ndarray:
    """One PatchMatch completion (`settings` go to `patchmatch_fill`; none = the quick fill);
    Telea where no whole patch lies outside the hole (a mask over nearly everything)."""
    from editor.ops.patchmatch import patchmatch_fill

    try:
        return patchmatch_fill(rgb8, hole, cancel=ctx.check_cancelled, **settings)
    except ValueError:
        return _telea(rgb8, hole)


def content_target(mean: np.ndarray, rgb8: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Refined's content target, (H, W, 3) float32 0..255: the completions' `mean` (float32),
    hedged with Telea's fill where the two roughly agree (CONTENT_PATCH_SHARE, CONTENT_DISAGREE)."""
    smooth = _telea(rgb8, hole)
    weight = _patch_share(mean, smooth)[..., None]
    return weight * mean + (1 - weight) * smooth.astype(np.float32)


def _telea(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Telea's smooth fill of the (H, W) bool `hole`, at RemoveRequest's default radius: the
    patch methods' hedge, their fallback, and the alpha channel's fill."""
    return inpaint_opencv(pixels, hole.astype(np.uint8), "telea", 5.0)


def _patch_share(patch: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    """(H, W) float32 weight of the patch fills in the content target: CONTENT_PATCH_SHARE where
    they agree with Telea's, rising to 1 where they disagree (see CONTENT_DISAGREE)."""
    difference = np.abs(patch.astype(np.float32) - smooth.astype(np.float32)).mean(axis=2)
    difference = cv2.GaussianBlur(difference, (0, 0), CONTENT_DISAGREE_SIGMA)
    low, high = CONTENT_DISAGREE
    rise = np.clip((difference - low) / (high - low), 0.0, 1.0)
    return (CONTENT_PATCH_SHARE + (1.0 - CONTENT_PATCH_SHARE) * rise).astype(np.float32)


def refined_available(models_dir: Path | None) -> bool:
    """Whether the refined method can run: a VGG19 feature model is installed (and verified)."""
    return vgg_available(models_dir)


def _to_rgb8(pixels: np.ndarray) -> np.ndarray:
    values = (pixels >> 8).astype(np.uint8) if pixels.dtype == np.uint16 else pixels
    if values.shape[2] == 1:
        return np.repeat(values, 3, axis=2)
    return np.ascontiguousarray(values[..., :3])


def _from_rgb8(filled: np.ndarray, crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Back to the crop's layout; outside the hole the crop's own pixels, untouched."""
    values = filled.astype(np.uint16) * 257 if crop.dtype == np.uint16 else filled
    channels = crop.shape[2]
    if channels == 1:
        values = np.rint(values.mean(axis=2, keepdims=True)).astype(crop.dtype)
    elif channels == 4:
        alpha = _telea(crop[..., 3:], hole)
        values = np.concatenate([values.astype(crop.dtype), alpha], axis=2)
    out = crop.copy()
    out[hole] = values.astype(crop.dtype)[hole]
    return out


def _tensor_to_rgb8(image01) -> np.ndarray:
    array = image01[0].detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    return np.ascontiguousarray(array.cpu().numpy())


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _size(shape: tuple[int, ...]) -> str:
    """'128x96' (width x height), the way the UI speaks of sizes."""
    return f"{shape[1]}x{shape[0]}" if len(shape) >= 2 else str(shape)
