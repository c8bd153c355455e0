"""The mask tools' pixel work: brush and eraser strokes, shape/lasso/wand regions, grow, feather.

Conventions (shared with the canvas):

- A mask is a single-channel ``uint8`` array ``(H, W)`` at image resolution; 0 = not selected,
  255 = fully selected. Functions that make a new mask return a new array and never write their
  input; :class:`MaskStroke` is the exception, it paints the mask in place (and hands back an
  :class:`~editor.core.patch.ArrayPatch` for undo).
- Coordinates are continuous image coordinates: pixel ``(col, row)`` covers ``[col, col+1) x
  [row, row+1)``, so its centre is ``(col + 0.5, row + 0.5)``. A brush dab at ``(10.0, 10.0)`` is
  centred on the corner shared by four pixels; one at ``(10.5, 10.5)`` on the centre of a pixel.
- Work is confined to where it matters: a dab touches only the 64 px grid tiles under it, region
  builders compute only over their bounding box, grow/shrink/feather only over the mask's bbox
  plus margin (after one cheap full pass to find it). On a 24-megapixel mask a 100 px dab costs
  ~0.15 ms (benchmarks/bench_brush.py).

Pure numpy/cv2, no Qt.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.core.patch import ArrayPatch, grid_cells

# --------------------------------------------------------------------------------------------
# Brush
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Brush:
    """A round brush.

    ``size`` is the diameter in image px (>= 1); ``hardness`` the fraction of the radius painted
    at full strength, the rest falling off smoothly to 0 at the rim; ``opacity`` the most one
    stroke can add (or remove), however often it crosses itself.
    """

    size: float = 40.0
    hardness: float = 0.8
    opacity: float = 1.0

    def __post_init__(self) -> None:
        if not self.size >= 1.0:
            raise ValueError(f"brush size must be >= 1 px, got {self.size}")
        if not 0.0 <= self.hardness <= 1.0:
            raise ValueError(f"brush hardness must be in 0..1, got {self.hardness}")
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"brush opacity must be in 0..1, got {self.opacity}")

    @property
    def spacing(self) -> float:
        """Distance between dabs along a stroke: 15 % of the size, so edges stay smooth."""
        return max(1.0, 0.15 * self.size)


def _dab_bounds(size: float, cx: float, cy: float) -> tuple[float, Rect]:
    """Outer radius of a dab (the rim plus half a pixel of antialiasing) and its pixel rect."""
    outer = size / 2.0 + 0.5
    # Pixel i is touched when its centre i + 0.5 lies within `outer` of the centre.
    x0, x1 = math.floor(cx - outer), math.ceil(cx + outer)
    y0, y1 = math.floor(cy - outer), math.ceil(cy + outer)
    return outer, Rect.from_bounds(x0, y0, x1, y1)


def dab_footprint(brush: Brush, cx: float, cy: float) -> tuple[Rect, np.ndarray]:
    """Alpha of one dab centred at ``(cx, cy)``: float32 0..1 over its (unclipped) rect.

    Profile by distance ``d`` of each pixel centre from ``(cx, cy)``, radius ``r = size / 2``:
    1 up to ``hardness * r``, then ``1 - smoothstep`` down to 0 at ``r + 0.5``. The falloff is
    never narrower than one pixel straddling the rim, which is the antialiased edge of a hard
    (hardness 1) brush: alpha 1 for ``d <= r - 0.5``, 0.5 at ``d = r``, 0 for ``d >= r + 0.5``.
    """
    r = brush.size / 2.0
    outer, rect = _dab_bounds(brush.size, cx, cy)
    inner = max(0.0, min(brush.hardness * r, r - 0.5))
    dx = np.arange(rect.x, rect.right, dtype=np.float32) + np.float32(0.5 - cx)
    dy = np.arange(rect.y, rect.bottom, dtype=np.float32) + np.float32(0.5 - cy)
    dist = np.sqrt(dy[:, None] * dy[:, None] + dx[None, :] * dx[None, :])
    t = (dist - np.float32(inner)) * np.float32(1.0 / (outer - inner))
    np.clip(t, 0.0, 1.0, out=t)
    # 1 - smoothstep(t) = 1 - t^2 (3 - 2t): flat at both ends, so dabs join without ridges.
    alpha = 1.0 - t * t * (3.0 - 2.0 * t)
    return rect, alpha.astype(np.float32, copy=False)


class MaskStroke:
    """One continuous brush or eraser stroke, painted into ``mask`` in place.

    Dabs are spaced along the path every ``brush.spacing`` px (~15 % of the size), the remainder
    carried from one segment to the next, so a stroke is continuous at any zoom or pointer speed.
    Within one stroke, coverage accumulates as ``max()``, so overlapping dabs never exceed the
    brush opacity (a second stroke adds more). With ``base`` the mask before the stroke::

        paint: m = base + (255 - base) * coverage * opacity
        erase: m = base * (1 - coverage * opacity)

    Only the grid tiles under the dabs are read and written. The first touch of a tile saves its
    original, which both anchors the formula above and becomes the undo state in :meth:`finish`.
    """

    def __init__(self, mask: np.ndarray, brush: Brush, erase: bool = False, tile: int = 64) -> None:
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise ValueError(f"mask must be a (H, W) uint8 array, got {mask.shape} {mask.dtype}")
        if tile < 1:
            raise ValueError(f"tile must be >= 1, got {tile}")
        self.mask = mask
        self.brush = brush
        self.erase = erase
        self.tile = tile
        self._originals: dict[tuple[int, int], np.ndarray] = {}
        self._coverage: dict[tuple[int, int], np.ndarray] = {}
        self._last: tuple[float, float] | None = None
        self._to_next = 0.0  # path length left before the next dab
        self._end_stamped = True  # whether a dab sits exactly at self._last
        self._finished = False

    # -- public -------------------------------------------------------------------------------

    def move_to(self, x: float, y: float) -> Rect | None:
        """Start (or restart) the path at ``(x, y)`` with one dab.

        Returns the changed rect clipped to the mask (None when the dab is wholly off it); the
        same holds for :meth:`line_to`.
        """
        self._check_open()
        self._last = (x, y)
        self._to_next = self.brush.spacing
        self._end_stamped = True
        return self._stamp(x, y)

    def line_to(self, x: float, y: float) -> Rect | None:
        """Dab along the line from the last point to ``(x, y)``; return the changed rect."""
        self._check_open()
        if self._last is None:
            return self.move_to(x, y)
        x0, y0 = self._last
        length = math.hypot(x - x0, y - y0)
        spacing = self.brush.spacing
        changed: Rect | None = None
        t = self._to_next
        while t <= length:
            f = t / length
            rect = self._stamp(x0 + (x - x0) * f, y0 + (y - y0) * f)
            if rect is not None:
                changed = rect if changed is None else changed.union(rect)
            t += spacing
        if length > 0.0:
            self._end_stamped = math.isclose(t - spacing, length)
        self._to_next = t - length
        self._last = (x, y)
        return changed

    def finish(self) -> ArrayPatch:
        """End the stroke; return the before/after of every tile it changed.

        If dab spacing left the final point without a dab, one is stamped there first so the
        stroke ends exactly under the pointer; its pixels lie within the patch's rect. The mask
        already holds the after-state, so the patch is for undo (``revert``) and redo (``apply``).
        """
        self._check_open()
        if not self._end_stamped and self._last is not None:
            self._stamp(*self._last)
        patch = ArrayPatch.from_tiles(self.mask, self._originals, self.tile)
        self._finished = True
        self._originals.clear()
        self._coverage.clear()
        return patch

    # -- internals ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError("this stroke is finished; start a new MaskStroke")

    def _stamp(self, cx: float, cy: float) -> Rect | None:
        """Add one dab: raise the stroke coverage under it, recompute those mask pixels."""
        height, width = self.mask.shape
        _, bounds = _dab_bounds(self.brush.size, cx, cy)
        if bounds.clip(width, height).empty:
            return None  # wholly off the image: skip the alpha computation too
        rect, alpha = dab_footprint(self.brush, cx, cy)
        clipped = rect.clip(width, height)
        opacity = np.float32(self.brush.opacity)
        tile = self.tile
        for key, cell in grid_cells(clipped, tile):
            original = self._originals.get(key)
            if original is None:
                tile_rect = Rect(key[1] * tile, key[0] * tile, tile, tile).clip(width, height)
                original = self._originals[key] = self.mask[tile_rect.slices].copy()
                self._coverage[key] = np.zeros(original.shape, np.float32)
            ty, tx = key[0] * tile, key[1] * tile
            in_tile = Rect(cell.x - tx, cell.y - ty, cell.w, cell.h).slices
            in_dab = Rect(cell.x - rect.x, cell.y - rect.y, cell.w, cell.h).slices
            cov = self._coverage[key][in_tile]
            np.maximum(cov, alpha[in_dab], out=cov)
            strength = cov * opacity
            base = original[in_tile].astype(np.float32)
            if self.erase:
                value = base * (1.0 - strength)
            else:
                value = base + (255.0 - base) * strength
            self.mask[cell.slices] = np.rint(value)
        return clipped


# --------------------------------------------------------------------------------------------
# Regions and how they combine with the mask
# --------------------------------------------------------------------------------------------


class Combine(str, Enum):
    """How a new region (rectangle, lasso, wand …) meets the existing mask."""

    REPLACE = "replace"
    ADD = "add"
    SUBTRACT = "subtract"
    INTERSECT = "intersect"


def combine(mask: np.ndarray, region: np.ndarray, mode: Combine | str) -> np.ndarray:
    """New mask: ``region`` replaces, adds to (max), subtracts from or intersects (min) ``mask``."""
    if mask.shape != region.shape:
        raise ValueError(f"mask {mask.shape} and region {region.shape} differ in shape")
    mode = Combine(mode)
    if mode is Combine.REPLACE:
        return region.copy()
    if mode is Combine.ADD:
        return np.maximum(mask, region)
    if mode is Combine.SUBTRACT:
        return np.minimum(mask, 255 - region)
    return np.minimum(mask, region)


def _mask_shape(shape: Sequence[int]) -> tuple[int, int]:
    return int(shape[0]), int(shape[1])


def rect_region(shape: tuple[int, int], rect: Rect) -> np.ndarray:
    """A (H, W) uint8 mask with ``rect`` (clipped to the image) at 255."""
    h, w = _mask_shape(shape)
    out = np.zeros((h, w), np.uint8)
    box = rect.clip(w, h)
    if not box.empty:
        out[box.slices] = 255
    return out


def ellipse_region(shape: tuple[int, int], rect: Rect, antialias: bool = True) -> np.ndarray:
    """The ellipse inscribed in ``rect`` as a (H, W) uint8 mask.

    Rendered as a polygon through :func:`polygon_region` (same coverage rule and cost) with
    enough vertices that the chords stay within 0.01 px of the true curve.
    """
    if rect.empty:
        return np.zeros(_mask_shape(shape), np.uint8)
    a, b = rect.w / 2.0, rect.h / 2.0
    # Sagitta of a chord spanning angle 2pi/n on radius r: r (1 - cos(pi/n)) ~ r pi^2 / (2 n^2).
    n = max(32, math.ceil(math.pi * math.sqrt(max(a, b) / (2 * 0.01))))
    theta = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    ring = np.stack([rect.x + a + a * np.cos(theta), rect.y + b + b * np.sin(theta)], axis=1)
    return polygon_region(shape, ring, antialias)


#: Scanline sub-rows per pixel row for polygons (vertical resolution of the coverage; the
#: horizontal coverage is exact), and how many pixel rows are accumulated at once (memory bound).
_POLY_SUBROWS = 16
_POLY_BAND_ROWS = 512


def polygon_region(
    shape: tuple[int, int], points: Sequence[tuple[float, float]], antialias: bool = True
) -> np.ndarray:
    """A closed polygon (lasso or polygon tool) as a (H, W) uint8 mask; < 3 points gives empty.

    Points are sub-pixel image coordinates; the nonzero winding rule decides what is inside, so a
    lasso that loops over itself stays filled. With ``antialias`` each pixel holds its covered
    area: 16 scanlines per pixel row, each crossing of an edge entered with its exact fractional
    column into a difference array, then summed along the row. (cv2.fillPoly rounds vertices to
    its sample grid and fills both end samples of every span, about half a pixel too much all
    round; its LINE_AA draws a soft line around that.) Without ``antialias`` a pixel is in when at
    least half of it is covered. Cost: the crossings plus the bbox, never the whole image.
    """
    h, w = _mask_shape(shape)
    out = np.zeros((h, w), np.uint8)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3 or not np.isfinite(pts).all():
        return out
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    box = Rect.from_bounds(
        math.floor(lo[0]), math.floor(lo[1]), math.ceil(hi[0]), math.ceil(hi[1])
    ).clip(w, h)
    if box.empty:
        return out
    rows, cols, weights = _polygon_crossings(pts, box)
    width = box.w + 2  # columns col and col + 1 of a crossing at the right edge stay in range
    order = np.argsort(rows, kind="stable")
    rows, cols, weights = rows[order], cols[order], weights[order]
    for y0 in range(0, box.h, _POLY_BAND_ROWS):
        n = min(_POLY_BAND_ROWS, box.h - y0)
        i0, i1 = np.searchsorted(rows, [y0, y0 + n])
        flat = (rows[i0:i1] - y0) * width + cols[i0:i1]
        diff = np.bincount(flat, weights=weights[i0:i1], minlength=n * width)
        winding = np.cumsum(diff.reshape(n, width)[:, : box.w], axis=1, dtype=np.float32)
        # One pass: |winding| * 255, rounded and saturated (winding 2 where a lasso overlaps).
        band = cv2.convertScaleAbs(winding, alpha=255.0)
        if not antialias:
            band = cv2.threshold(band, 127, 255, cv2.THRESH_BINARY)[1]
        out[box.y + y0 : box.y + y0 + n, box.x : box.right] = band
    return out


def _polygon_crossings(pts: np.ndarray, box: Rect) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each scanline inside ``box`` crosses a polygon edge, as difference-array entries.

    Returns (pixel row, column, weight) relative to ``box``: a crossing at fractional column ``u``
    in direction ``d`` (+1 downwards, -1 upwards) adds ``d * (1 - frac(u)) / S`` at ``floor(u)``
    and ``d * frac(u) / S`` at ``floor(u) + 1``, so the running sum along a row is the
    area-weighted winding number.
    """
    s = _POLY_SUBROWS
    xa, ya = pts[:, 0], pts[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    keep = ya != yb  # horizontal edges cross no scanline
    xa, ya, xb, yb = xa[keep], ya[keep], xb[keep], yb[keep]
    # Scanline k has y = box.y + (k + 0.5) / s; an edge crosses those in [ymin, ymax) (half-open,
    # so a vertex shared by two edges counts once).
    n_lines = box.h * s
    k0 = np.ceil((np.minimum(ya, yb) - box.y) * s - 0.5).astype(np.int64).clip(0, n_lines)
    k1 = np.ceil((np.maximum(ya, yb) - box.y) * s - 0.5).astype(np.int64).clip(0, n_lines)
    counts = np.maximum(k1 - k0, 0)
    edge = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(int(counts.sum()), dtype=np.int64) - starts[edge] + k0[edge]
    y = box.y + (k + 0.5) / s
    x = xa[edge] + (y - ya[edge]) * ((xb - xa) / (yb - ya))[edge]
    direction = np.where(yb > ya, 1.0 / s, -1.0 / s)[edge]
    u = np.clip(x - box.x, 0.0, float(box.w))  # left of the box: covers from column 0
    col = np.floor(u).astype(np.int64)
    frac = u - col
    row = k // s
    return (
        np.concatenate([row, row]),
        np.concatenate([col, col + 1]),
        np.concatenate([direction * (1.0 - frac), direction * frac]),
    )


def _colour_channels(image: np.ndarray) -> np.ndarray:
    """The colour channels of an (H, W) or (H, W, C) image: alpha (the 4th/2nd channel) dropped."""
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W) or (H, W, 1|2|3|4) image, got {image.shape}")
    channels = 3 if image.shape[2] >= 3 else 1
    colour = image[..., :channels] if image.shape[2] != channels else image
    return np.ascontiguousarray(colour[..., 0] if channels == 1 else colour)


def magic_wand(
    image: np.ndarray,
    x: int,
    y: int,
    tolerance: float,
    contiguous: bool = True,
    *,
    connectivity: int = 4,
) -> np.ndarray:
    """Select pixels whose colour is within ``tolerance`` of the seed pixel ``(x, y)``.

    ``tolerance`` is in 0..255 units whatever the image depth (x257 for uint16, /255 for float
    images in 0..1). A pixel matches when every colour channel (alpha ignored) differs from the
    seed by at most ``tolerance``. ``contiguous`` keeps only matches connected to the seed
    (``connectivity`` 4 or 8); otherwise every match in the image is selected.

    Returns a (H, W) uint8 mask of 0/255. The in-range test is one cv2.inRange pass on the native
    dtype; the contiguous part is a flood fill of that binary mask, which is what a fixed-range
    flood fill on the image selects, without converting a 16-bit image to float first.
    """
    colour = _colour_channels(image)
    h, w = colour.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"seed ({x}, {y}) lies outside a {w}x{h} image")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    if colour.dtype == np.uint8:
        tol = float(math.floor(tolerance))  # integer bounds: inRange would round a fraction
    elif colour.dtype == np.uint16:
        tol = float(math.floor(tolerance * 257.0))
    elif colour.dtype in (np.float32, np.float64):
        colour = colour.astype(np.float32, copy=False)
        tol = tolerance / 255.0
    else:
        raise TypeError(f"unsupported image dtype {colour.dtype}")
    seed = np.atleast_1d(colour[y, x]).astype(np.float64)
    lower, upper = tuple(seed - tol), tuple(seed + tol)  # tuples: cv2 takes them as Scalars
    matches = cv2.inRange(colour, lower, upper)
    if not contiguous:
        return matches
    flood = np.zeros((h + 2, w + 2), np.uint8)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
    cv2.floodFill(matches, flood, (int(x), int(y)), 0, 0, 0, flags)
    return flood[1:-1, 1:-1].copy()


# --------------------------------------------------------------------------------------------
# Whole-mask operations
# --------------------------------------------------------------------------------------------


def mask_bbox(mask: np.ndarray, threshold: int = 1) -> Rect | None:
    """Bounding rect of the pixels ``>= threshold``; None when there are none."""
    points = mask if threshold <= 1 else (mask >= threshold).view(np.uint8)
    x, y, w, h = cv2.boundingRect(np.ascontiguousarray(points))
    return None if w == 0 or h == 0 else Rect(x, y, w, h)


def _distance_to_zero(binary: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance from each nonzero pixel to the nearest zero pixel (float32)."""
    return cv2.distanceTransform(binary, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


# distanceTransform's PRECISE result is float32; allow for its rounding at whole distances.
_DIST_EPS = 1e-3


def _hard_selection(mask: np.ndarray, px: int) -> tuple[np.ndarray, np.ndarray, Rect | None]:
    """(selected >= 128, the output to fill, the selection's bbox). The bbox is None when the
    output is already final: nothing selected (all zeros) or px <= 0 (the hard-edged mask)."""
    selected = mask >= 128
    if px <= 0:
        return selected, np.where(selected, 255, 0).astype(np.uint8), None
    return selected, np.zeros(mask.shape, np.uint8), mask_bbox(selected.view(np.uint8))


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Every pixel within ``px`` (Euclidean) of a selected pixel (>= 128) becomes selected.

    The result is hard-edged (0/255); feather it afterwards for a soft edge. Uses an exact distance
    transform over the selection's bbox plus ``px``, so a radius of hundreds of pixels costs no
    more than a small one (a dilation kernel would grow with px^2).
    """
    selected, out, bbox = _hard_selection(mask, px)
    if bbox is None:
        return out
    h, w = mask.shape
    crop = bbox.expand(int(px) + 1).clip(w, h)
    outside = (~selected[crop.slices]).view(np.uint8)
    dist = _distance_to_zero(outside)  # 0 on selected pixels
    out[crop.slices] = np.where(dist <= px + _DIST_EPS, 255, 0).astype(np.uint8)
    return out


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    """Keep only selected pixels (>= 128) farther than ``px`` from every unselected pixel.

    The dual of :func:`grow`; hard-edged result. The image border does not count as unselected, so
    a selection that touches the edge stays against it (select-all shrunk is still select-all).
    """
    selected, out, bbox = _hard_selection(mask, px)
    if bbox is None:
        return out
    h, w = mask.shape
    # One ring of unselected pixels round the bbox holds the nearest unselected pixel of every
    # pixel inside it (projection onto a rectangle never moves a point farther away).
    crop = bbox.expand(1).clip(w, h)
    dist = _distance_to_zero(selected[crop.slices].view(np.uint8).copy())
    out[crop.slices] = np.where(dist > px + _DIST_EPS, 255, 0).astype(np.uint8)
    return out


def feather(mask: np.ndarray, px: float) -> np.ndarray:
    """Soften the mask edge: Gaussian blur with ``sigma = px / 2`` (px <= 0 returns a copy).

    With sigma = px/2 about 95 % of the ramp lies within ``px`` either side of the original edge,
    which is what users expect a "feather radius" to mean. Only the bbox plus 3 sigma is blurred;
    at the image border the mask is taken to continue (replicated), so it doesn't fade there.
    """
    out = mask.copy()
    if px <= 0:
        return out
    bbox = mask_bbox(mask)
    if bbox is None:
        return out
    sigma = px / 2.0
    radius = math.ceil(3.0 * sigma)
    crop = bbox.expand(radius + 1).clip(mask.shape[1], mask.shape[0])
    k = 2 * radius + 1
    out[crop.slices] = cv2.GaussianBlur(
        mask[crop.slices], (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE
    )
    return out


def invert(mask: np.ndarray) -> np.ndarray:
    """Selected becomes unselected and the other way round."""
    return 255 - mask


def fill(shape: tuple[int, int]) -> np.ndarray:
    """Everything selected."""
    return np.full(_mask_shape(shape), 255, np.uint8)


def clear(shape: tuple[int, int]) -> np.ndarray:
    """Nothing selected."""
    return np.zeros(_mask_shape(shape), np.uint8)


def changed_patch(target: np.ndarray, new: np.ndarray, tile: int = 64) -> ArrayPatch:
    """Undo patch turning ``target`` into ``new`` (for whole-mask ops); writes nothing.

    Only the bbox of the differing pixels is diffed tile by tile, so a small change to a big mask
    yields a small patch.
    """
    if target.shape != new.shape or target.dtype != new.dtype:
        raise ValueError(f"target {target.shape} {target.dtype} and new {new.shape} {new.dtype}")
    diff = target != new
    if diff.ndim == 3:
        diff = diff.any(axis=2)
    box = mask_bbox(diff.view(np.uint8))
    if box is None:
        return ArrayPatch.from_regions(target[:0, :0], new[:0, :0], 0, 0, tile)
    return ArrayPatch.from_regions(target[box.slices], new[box.slices], box.x, box.y, tile)
