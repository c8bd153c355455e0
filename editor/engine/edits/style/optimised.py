"""The optimising style methods: Gatys et al. 2016 (Gram matrices), Li & Wand 2016 (CNNMRF,
nearest neural patches) and texture synthesis, streaming each step (`editor.ops.style_transfer`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import cv2
import numpy as np
import torch
from torch import Tensor

from editor.core.geometry import Rect
from editor.engine.edits.style.common import (
    CONTEXT_PX,
    DEFAULT_ITERATIONS,
    DEFAULT_METHOD,
    DEFAULT_STRENGTH,
    FEATHER_PX,
    FEATURE_PREFER,
    FULL_COARSEST,
    FULL_CONTENT_LAYER,
    FULL_LEVEL_RATIO,
    FULL_MIN_WEIGHT_SHARE,
    FULL_SMALL_CONTENT_LAYER,
    FULL_SMALL_SIDE,
    FULL_WEIGHT_SIDE,
    GATYS_PREFER,
    MAX_STYLE_SIDE,
    MRF_PREFER,
    TEXTURE_CONTENT_WEIGHT,
    TUNED_FULL_METHODS,
    TextureRequest,
    check_common,
    check_image,
    check_mask,
    default_iterations,
    fit_size,
    has_full_network,
    limit_side,
    resize_pixels,
    style_weight,
)
from editor.engine.jobs import Run, RunContext, Update
from editor.engine.models.vgg import VGGFeatures
from editor.ops.pixels import from_rgb01, mask01, to_rgb01
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

_STREAM_START, _STREAM_SHARE = 0.03, 0.94


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


def run_optimised(request, content, styles, wheres, ctx, crop, alpha, rect) -> Run:
    """Gatys or CNNMRF: optimise the crop's pixels, streaming each step."""
    yield Update(progress=0.0, message="Loading VGG19 features")
    prefer = GATYS_PREFER if request.method == "gatys" else MRF_PREFER
    features = ctx.models.load(VGGFeatures.id, style=True, prefer=prefer, bf16=True)
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


def run_texture(request: TextureRequest, ctx: RunContext) -> Run:
    """Texture from `request.sample`: a new (h, w, 3) uint8 image (no `image` given), or the
    image with its masked area filled (same shape and dtype as `request.image`)."""
    check_image(request.sample, "sample")
    check_common(request.iterations, request.sample_scale, request.max_size)
    image, mask = request.image, request.mask
    if image is None:
        width, height = request.size
        if not (16 <= width <= 8192 and 16 <= height <= 8192):
            raise ValueError(f"texture size must be 16..8192 px a side, got {width}×{height}")
    else:
        check_image(image, "image")
        if mask is None:
            raise ValueError("a texture fill needs a mask: paint where the texture goes")
        check_mask(mask, image, "mask")
    yield Update(progress=0.0, message="Loading VGG19 features")
    features = ctx.models.load(VGGFeatures.id, style=True, prefer=FEATURE_PREFER)
    device = ctx.device
    sample = to_rgb01(limit_side(request.sample, MAX_STYLE_SIDE), device)

    if image is None:
        work = fit_size((height, width), request.max_size)
        # The sample keeps its own scale at the output's size, however it is worked on.
        scale = request.sample_scale * max(work) / max(height, width)
        settings = texture_settings(request.iterations, scale, content_weight=0.0)
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
    work = fit_size((rect.h, rect.w), request.max_size)
    scale = request.sample_scale * max(work) / max(rect.h, rect.w)
    with torch.no_grad():
        content = resize(to_rgb01(crop, device), work)
        where = resize(mask01(hole[rect.slices].astype(np.uint8), device), work)
        noise = torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
        start = sample.mean(dim=(2, 3), keepdim=True) + 0.1 * noise.to(device)
        init = torch.where(where > 0.5, start.clamp(0, 1), content)
    settings = texture_settings(request.iterations, scale, TEXTURE_CONTENT_WEIGHT)
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


def texture_settings(iterations: int | None, scale: float, content_weight: float) -> Settings:
    return Settings(
        style_weight=1.0,
        content_weight=content_weight,
        tv_weight=0.05,
        iterations=DEFAULT_ITERATIONS if iterations is None else iterations,
        style_scale=scale,
        style_relative=False,
    )


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
        base = resize_pixels(crop, (h, w))
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
