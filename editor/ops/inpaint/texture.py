"""Yang et al.'s texture stage: the hole's pixels optimised so every VGG feature patch inside
it is close to its nearest patch from the known region (CNNMRF, Li & Wand 2016), held to the
content stage's guess at coarse scales, coarse to fine."""

from __future__ import annotations

from collections.abc import Callable, Generator

import cv2
import numpy as np
import torch

from editor.ops.inpaint.content import ContentGuess
from editor.ops.neural_patch import NoTextureSource, refine_hole
from editor.ops.pixels import rgb01_to_uint8
from editor.ops.steps import mapped

__all__ = ["DETAIL_GAIN", "DETAIL_SIGMA", "REFINE_PARAMS", "NoTextureSource", "texture_stage"]

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


def texture_stage(
    guess: ContentGuess,
    hole: np.ndarray,
    features,
    device: str | torch.device,
    cancel: Callable[[], None],
) -> Generator[tuple[float, np.ndarray], None, np.ndarray]:
    """From `guess.start`, held to `guess.target` at coarse scales, the finest scale seeded with
    `guess.mean`'s detail; yields (fraction done, current rgb8), returns the final rgb8.
    Raises NoTextureSource when the crop is too small for the feature patches."""
    device = torch.device(device)
    image01 = torch.from_numpy(guess.start).permute(2, 0, 1)[None].float().div(255).to(device)
    hole_t = torch.from_numpy(hole.astype(np.float32))[None, None].to(device)
    content01 = torch.from_numpy(guess.target).permute(2, 0, 1)[None].div(255).to(device)
    detail01 = None
    if DETAIL_GAIN:
        mean01 = guess.mean / 255
        detail = DETAIL_GAIN * (mean01 - cv2.GaussianBlur(mean01, (0, 0), DETAIL_SIGMA))
        detail01 = torch.from_numpy(detail).permute(2, 0, 1)[None].to(device)
    refine = refine_hole(
        image01,
        hole_t,
        features,
        content01=content01,
        finest_detail01=detail01,
        cancel=cancel,
        **REFINE_PARAMS,
    )
    final = yield from mapped(refine, lambda progress, image: (progress, rgb01_to_uint8(image)))
    return rgb01_to_uint8(final)
