"""Style: paint a picture's style onto regions of the image, or fill a region with its texture.

API CONTRACT (implementation in progress by the lead; UI code may rely on these names):

- ``StyleRegion(style, mask)``: one style picture and where it goes.
- ``StyleRequest(image, regions, method, strength, keep_colors, style_scale, iterations,
  max_size, models_dir)`` -> ``run(request, ctx, features=None)`` yields ``Update``s whose
  previews cover ``preview_rect`` of the document (the processed crop), returns the full-size
  image (same shape and dtype as ``request.image``). If ``ctx.finish_requested`` becomes true,
  it returns the current state as the result (Apply while running).
- ``TextureRequest(sample, size, image, mask, iterations, sample_scale, models_dir)`` ->
  ``run_texture(request, ctx, features=None)``: a new (h, w, 3) uint8 texture when ``image`` is
  None, else ``image`` with the masked region filled with the sample's texture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from editor.engine.jobs import Run, RunContext

METHODS = ("gatys", "mrf")
"""gatys: Gram-matrix style loss (Gatys et al. 2016); mrf: nearest neural patch (Li & Wand)."""
DEFAULT_METHOD = "gatys"
DEFAULT_STRENGTH = 0.6
DEFAULT_ITERATIONS = 200
DEFAULT_MAX_SIZE = 1024


@dataclass(frozen=True)
class StyleRegion:
    """A style picture (h, w, C) uint8/uint16 and where it goes: mask (H, W) uint8 of the
    document's size, > 0 inside (None: the whole image)."""

    style: np.ndarray
    mask: np.ndarray | None = None


@dataclass(frozen=True)
class StyleRequest:
    """Stylise `image` (H, W, C) uint8/uint16 with one or more styles, each in its region.

    strength: 0..1, from "mostly content" to "mostly style".
    keep_colors: keep the image's colours, take only the style's texture (luminance transfer).
    style_scale: > 1 makes the style's brush strokes larger, < 1 smaller.
    iterations: optimisation steps in all (spread over the coarse-to-fine pyramid).
    max_size: longest side the crop is optimised at; larger crops are processed at this size and
        the stylised result is upsampled.
    models_dir: where VGG19 (and optional deep-layer) weights are looked for first.
    """

    image: np.ndarray
    regions: tuple[StyleRegion, ...]
    method: str = DEFAULT_METHOD
    strength: float = DEFAULT_STRENGTH
    keep_colors: bool = False
    style_scale: float = 1.0
    iterations: int = DEFAULT_ITERATIONS
    max_size: int = DEFAULT_MAX_SIZE
    models_dir: Path | None = None


@dataclass(frozen=True)
class TextureRequest:
    """Synthesise the texture of `sample` (h, w, C) uint8/uint16.

    size: (width, height) of the new texture when `image` is None.
    image + mask: fill the masked region (mask (H, W) uint8, > 0 inside) of `image` instead.
    sample_scale: > 1 makes the texture's elements larger.
    """

    sample: np.ndarray
    size: tuple[int, int] = (512, 512)
    image: np.ndarray | None = None
    mask: np.ndarray | None = None
    iterations: int = DEFAULT_ITERATIONS
    sample_scale: float = 1.0
    models_dir: Path | None = None


def run(request: StyleRequest, ctx: RunContext, features=None) -> Run:
    raise NotImplementedError
    yield


def run_texture(request: TextureRequest, ctx: RunContext, features=None) -> Run:
    raise NotImplementedError
    yield
