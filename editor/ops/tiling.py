"""Large outputs in overlapping tiles, the tiles under the viewport first.

An upscaler cannot take a 24-megapixel photo in one piece, and the user wants to see the part
they are looking at before the rest. `plan_tiles` cuts the image into tiles that each *own* a
core and *read* the core plus `overlap` pixels of context; `TileBlender` stitches the outputs with
linear cross-fades over the overlaps, so a convolutional op shows no seams.

Layout: cores partition the image into ``ceil(W / tile) x ceil(H / tile)`` blocks of nearly equal
size (at most `tile` pixels; evening them out avoids slivers at the right and bottom); a tile's
input rect is its core grown by `overlap` on each side, clipped to the image. Neighbouring inputs
therefore share a band ``2 * overlap`` wide, across which the blender fades from one to the next.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from editor.core.geometry import Rect

_MIN_WEIGHT = 1e-4


@dataclass(frozen=True)
class Tile:
    """One piece of work: read `rect` (core plus overlap, clipped), own `core`."""

    rect: Rect
    core: Rect


def _cuts(size: int, tile: int) -> list[int]:
    """Boundaries splitting [0, size) into ceil(size / tile) nearly equal parts."""
    n = max(1, math.ceil(size / tile))
    return [round(i * size / n) for i in range(n + 1)]


def plan_tiles(
    width: int, height: int, tile: int, overlap: int, viewport: Rect | None = None
) -> list[Tile]:
    """Tiles covering a width x height image, in the order to process them.

    tile: the largest core side; overlap: context pixels read on each side of a core.
    viewport: the visible part of the image (image pixels). With it, the tiles whose core meets
        the viewport come first, then the rest; each group sorted by the distance of the core's
        centre to the viewport's centre. Without it, raster order (rows top to bottom).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if tile <= 0 or overlap < 0:
        raise ValueError(f"need tile > 0 and overlap >= 0, got {tile}, {overlap}")
    xs, ys = _cuts(width, tile), _cuts(height, tile)
    tiles = [
        Tile(
            rect=Rect.from_bounds(x0, y0, x1, y1).expand(overlap).clip(width, height),
            core=Rect.from_bounds(x0, y0, x1, y1),
        )
        for y0, y1 in pairwise(ys)
        for x0, x1 in pairwise(xs)
    ]
    if viewport is None:
        return tiles
    cx, cy = viewport.x + viewport.w / 2, viewport.y + viewport.h / 2

    def priority(t: Tile) -> tuple[bool, float]:
        visible = not t.core.intersect(viewport).empty
        dx, dy = t.core.x + t.core.w / 2 - cx, t.core.y + t.core.h / 2 - cy
        return (not visible, dx * dx + dy * dy)

    return sorted(tiles, key=priority)  # stable: ties keep raster order


def _ramp(length: int, fade_start: bool, fade_end: bool, band: int) -> np.ndarray:
    """1-D weights for one tile side by side with neighbours that share `band` pixels with it.

    Across a shared band the weight is 0 for the outer quarter (where the tile's own border
    effects live), rises linearly over the middle half, and is 1 for the inner quarter. The
    falling ramp of one tile and the rising ramp of its neighbour (the same band seen from the
    other side) add up to exactly 1. The weight never drops below `_MIN_WEIGHT`, so a covered
    pixel always has a positive total however small the tiles are.
    """
    w = np.ones(length, np.float32)
    if band <= 0:
        return w
    d = np.arange(length, dtype=np.float32) + 0.5  # pixel centres, from the start edge
    dead, fade = band / 4, band / 2
    if fade_start:
        w = np.minimum(w, (d - dead) / fade)
    if fade_end:
        w = np.minimum(w, (length - d - dead) / fade)
    return np.clip(w, _MIN_WEIGHT, 1.0)


class TileBlender:
    """Accumulates overlapping tile outputs with linear-ramp weights over the overlap.

    Two neighbouring inputs share a band ``2 * overlap * scale`` output pixels wide. Across it,
    each tile's weight is ~0 for the quarter nearest its own edge (where padding artefacts of the
    op live), ramps linearly over the middle half and is 1 beyond; the two ramps sum to 1. Edges
    on the image border are not faded. `result` divides the weighted sum by the summed weights.
    An op exact per pixel (identity) stitches exactly; a local op whose reach is under
    ``overlap / 2`` input pixels stitches to within rounding of the untiled output.

    Memory: one float32 accumulator (H*S x W*S x C) and one float32 weight map (H*S x W*S), i.e.
    ``4 * (C + 1)`` bytes per output pixel (a 4x upscale of a 12 MP RGB photo: 192 MP x 16 B ≈
    3 GB). For outputs that do not fit in RAM, pass ``allocate`` returning e.g. a ``np.memmap``
    (the engine owns the file; ops never touch the disk); tiles only touch their own rows.

    height, width: the *input* image size; the output is (height*scale, width*scale, channels).
    """

    def __init__(
        self,
        height: int,
        width: int,
        channels: int,
        overlap: int,
        scale: int = 1,
        *,
        allocate: Callable[[tuple[int, ...], type], np.ndarray] | None = None,
    ) -> None:
        if scale < 1 or overlap < 0:
            raise ValueError(f"need scale >= 1 and overlap >= 0, got {scale}, {overlap}")
        alloc = allocate or (lambda shape, dtype: np.zeros(shape, dtype))
        self.width, self.height, self.channels = width, height, channels
        self.overlap, self.scale = overlap, scale
        self._sum = alloc((height * scale, width * scale, channels), np.float32)
        self._weight = alloc((height * scale, width * scale), np.float32)

    def _scaled(self, rect: Rect) -> Rect:
        s = self.scale
        return Rect(rect.x * s, rect.y * s, rect.w * s, rect.h * s)

    def add(self, tile: Tile, output: np.ndarray) -> Rect:
        """Blend in a tile's output (it covers ``tile.rect`` scaled); return that output rect."""
        out_rect = self._scaled(tile.rect)
        if output.ndim == 2:
            output = output[..., None]
        expected = (out_rect.h, out_rect.w, self.channels)
        if output.shape != expected:
            raise ValueError(f"tile output has shape {output.shape}, expected {expected}")
        band = 2 * self.overlap * self.scale
        r = tile.rect
        wy = _ramp(out_rect.h, r.y > 0, r.bottom < self.height, band)
        wx = _ramp(out_rect.w, r.x > 0, r.right < self.width, band)
        weight = wy[:, None] * wx[None, :]
        self._sum[out_rect.slices] += output.astype(np.float32) * weight[..., None]
        self._weight[out_rect.slices] += weight
        return out_rect

    def region(self, rect: Rect, dtype: np.dtype | type) -> np.ndarray:
        """The stitched output inside `rect` (output pixels) so far; uncovered pixels are 0.

        Useful for previews: show what is done under the viewport without finishing the image.
        """
        total = self._sum[rect.slices]
        weight = self._weight[rect.slices][..., None]
        values = np.divide(total, weight, out=np.zeros_like(total), where=weight > 0)
        dtype = np.dtype(dtype)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            values = np.clip(np.rint(values), info.min, info.max)
        return values.astype(dtype)

    def result(self, dtype: np.dtype | type) -> np.ndarray:
        """The whole stitched output, (H*scale, W*scale, C), rounded to nearest for integers."""
        return self.region(Rect(0, 0, self.width * self.scale, self.height * self.scale), dtype)


def _priority(tile: Tile, viewport: Rect) -> tuple[bool, float]:
    """The plan_tiles order: tiles meeting the viewport first, then by centre distance."""
    cx, cy = viewport.x + viewport.w / 2, viewport.y + viewport.h / 2
    dx, dy = tile.core.x + tile.core.w / 2 - cx, tile.core.y + tile.core.h / 2 - cy
    return (tile.core.intersect(viewport).empty, dx * dx + dy * dy)


def next_tile(pending: list[Tile], viewport: Rect | None) -> Tile:
    """The tile to do next: nearest the current viewport (plan order on ties / no viewport)."""
    if viewport is None or viewport.empty:
        return pending[0]
    return min(pending, key=lambda t: _priority(t, viewport))  # min keeps the first of ties
