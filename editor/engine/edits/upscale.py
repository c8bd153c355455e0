"""Upscale: super-resolution ×2/×3/×4 in overlapping tiles, the tiles under the viewport first.

Data path: the image is cut into tiles (`editor.ops.tiling.plan_tiles`); before each tile the run
reads ``ctx.viewport`` (written live by the UI) and takes the not-yet-done tile nearest to it, so
panning or zooming reprioritises the work at once. A tile cannot be interrupted, so a pan during
a tile is served by the next one; the viewport is read again as soon as the tile is done, and the
update that follows already previews the new viewport (not the one the user left). Each tile goes
through the network, and `TileBlender` cross-fades the outputs over the overlaps, so there are no
seams: the tiled result equals the untiled one to within one level (tests/engine/test_upscale.py).

Colour (the networks see RGB float 0..1, NCHW):

- RGB: as is. Gray (C=1): replicated to RGB, upscaled, the three outputs averaged back to one
  channel. RGBA: RGB through the network; alpha upscaled bicubically (``cv2.INTER_CUBIC``,
  clipped to 0..1) in the same tiles, blended the same way.
- uint8 / uint16: divided by 255 / 65535 on the way in; the output is clipped to 0..1, scaled
  back and rounded to nearest. The result keeps the input's layout and dtype; its shape is
  (H*s, W*s, C).

Overlap: the run uses ``max(request.overlap, upscaler.overlap)`` LR pixels, the model's own
context need (`SRUpscaler.overlap`: 24 for CARN-M, 32 for RFDN, depth+2 for ours) winning over a
smaller request. Measured on Set14 comic: CARN-M and the shipped ×2 net stitch to within 1 level
of the untiled output. RFDN's ESA attention pools on a coarse grid tied to each tile's origin and
size, so its tiled output differs from the untiled one by up to ~13 levels in scattered pixels
(mean ~0.25), spread evenly rather than along tile borders: no seams, but not bit-equal.

Previews: with a viewport, the first update (before any tile) already carries a bicubic preview
of it, and later ones show the stitched network output where tiles are done, the rest still
bicubic, so the preview always looks complete. ``preview_rect`` is the LR-space (document) rect,
the viewport clipped to the image; the preview has ``scale`` times its pixels per side (fewer
when that would exceed `PREVIEW_MAX_PIXELS`: then it is the same area at a reduced resolution).
The UI draws the preview stretched over ``preview_rect``. Previews are rebuilt incrementally and
sent at most every `PREVIEW_INTERVAL_S` (plus once all visible tiles are done, and at once after
the viewport moved). Without a viewport (CLI) there are no preview pixels.

Memory: the blender needs ``4 * (C + 1)`` bytes per output pixel. When that exceeds
``max_memory_mb``, its arrays are file mappings in a temporary folder (``spill_dir``, default the
system temp dir; the engine may touch the disk, ops may not; the folder is removed when the run
ends in any way, and a killed run's folder at the next start: `editor.engine.spill`), and the
result is an ndarray backed by an anonymous temporary file (unlinked at once, so its space comes
back when the array goes, even after a crash). Before any work, `UpscaleRequest.check_fits`
refuses an output over the megapixel limit or a run that needs more memory or temporary disk than
is free (`editor.engine.upscale_needs`). The
resident pages of those mappings are dropped (``madvise(MADV_DONTNEED)``; the data stays in the
file) every `RELEASE_BYTES` written, and the result is stitched in row strips, so the resident
footprint does not grow with the output: a 100 MP RGB output (2500x2500 ×4) peaks at +213 MB RSS
spilled vs +1569 MB in RAM (benchmarks/bench_upscale_tiles.py, bicubic stand-in net; a real
network adds its per-tile activations, ~0.5 GB for CARN-M ×4 on 192 px tiles). The spilled
result is an ordinary ndarray; copy it to RAM if it fits.
"""

from __future__ import annotations

import math
import mmap
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.core.imageio import max_pixels
from editor.engine.jobs import Run, RunContext, Update
from editor.engine.models.upscalers import SRModelChoice, Upscalers
from editor.engine.spill import SpillFolder
from editor.engine.upscale_needs import UpscaleNeeds, UpscaleTooLarge, check_upscale_fits
from editor.ops.pixels import max_value
from editor.ops.sr_tile import bicubic, upscale_tile
from editor.ops.tiling import Tile, TileBlender, next_tile, plan_tiles

PREVIEW_MAX_PIXELS = 4_000_000
"""Largest preview (pixels); a larger HR viewport is previewed at a reduced resolution."""

PREVIEW_INTERVAL_S = 0.25
"""Least time between two previews from one run (the engine throttles further)."""

RELEASE_BYTES = 64 << 20
"""Spilled arrays: drop resident pages after this many bytes were written to them. The kernel maps
neighbouring file pages on each fault (fault-around), so the resident file pages peak at a few
times this (~0.4 GB measured), whatever the output size."""

STRIP_BYTES = 32 << 20
"""Float working memory for one strip of the final stitching."""

SCALES = (2, 3, 4)


@dataclass(frozen=True)
class UpscaleRequest:
    """What to upscale: image (H, W, C) uint8/uint16, C in 1/3/4; scale 2/3/4 (= model.scale).

    tile: largest LR tile core side; overlap: LR context pixels per tile side (at least the
    model's receptive radius; the model's own need wins if larger); max_memory_mb: above this
    blender size the work arrays and the result spill to files in `spill_dir` (None: the
    system temp folder).
    """

    image: np.ndarray
    scale: int
    model: SRModelChoice
    tile: int = 192
    overlap: int = 12
    max_memory_mb: int = 2048
    spill_dir: Path | None = None

    def check_fits(self, spill_root: Path) -> UpscaleNeeds:
        """Raise `UpscaleTooLarge` (a ValueError, one line) if the output is over the megapixel
        limit or the run needs more memory or temporary disk in `spill_root` than is free."""
        h, w, c = self.image.shape
        return check_upscale_fits(
            w,
            h,
            c,
            self.image.dtype.itemsize,
            self.scale,
            temp_folder=spill_root,
            max_pixels=max_pixels(),
            tile=self.tile,
            max_memory_mb=self.max_memory_mb,
        )

    def output_bytes(self) -> int:
        """The blender's size in bytes: float32 accumulator (C) + weight (1) per output pixel."""
        h, w, c = self.image.shape
        return h * self.scale * w * self.scale * (c + 1) * 4


# ------------------------------------------------------------------------------------ spilling


class _Spill:
    """Arrays backed by file mappings whose resident pages can be dropped at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._maps: list[mmap.mmap] = []
        self._touched = 0

    def _mapped(self, shape: tuple[int, ...], dtype: Any, file: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        size = max(int(np.prod(shape)) * dtype.itemsize, 1)
        file.truncate(size)  # sparse: reads as zeros until written
        mm = mmap.mmap(file.fileno(), size)  # the mapping keeps its own handle on the file
        self._maps.append(mm)
        return np.ndarray(shape, dtype, buffer=mm)

    def allocate(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """A zero-filled array mapped onto a file in the spill folder (TileBlender's allocate)."""
        with open(self.folder / f"blend{len(self._maps)}.bin", "w+b") as f:
            return self._mapped(shape, dtype, f)

    def anonymous(self, shape: tuple[int, ...], dtype: Any, folder: Path) -> np.ndarray:
        """A zero-filled array on an unnamed temporary file in `folder`: it outlives the spill
        folder, and its disk space is freed when the last array using it goes away."""
        with tempfile.TemporaryFile(dir=folder) as f:
            return self._mapped(shape, dtype, f)

    def touched(self, nbytes: int) -> None:
        """Count bytes written; past RELEASE_BYTES, drop every mapping's resident pages."""
        self._touched += nbytes
        if self._touched >= RELEASE_BYTES:
            self.release()

    def release(self) -> None:
        self._touched = 0
        advice = getattr(mmap, "MADV_DONTNEED", None)
        if advice is None:
            return
        for mm in self._maps:
            # Shared file mappings: the pages stay in the file (page cache); only this process's
            # resident copy goes, and the next access faults them back in.
            mm.madvise(advice)


# ------------------------------------------------------------------------------------- colours


# ------------------------------------------------------------------------------------- preview


class _ViewportPreview:
    """The upscaled viewport, kept up to date tile by tile (bicubic where no tile is done yet).

    `rect` is the viewport in LR pixels (clipped to the image); `factor` preview pixels per LR
    pixel (the scale, or less for a huge viewport); `pixels` the current preview.
    """

    def __init__(self, image: np.ndarray, scale: int, blender: TileBlender) -> None:
        self.image, self.scale, self.blender = image, scale, blender
        self.rect: Rect | None = None
        self.factor = float(scale)
        self.pixels: np.ndarray | None = None

    def _to_preview(self, v: int) -> int:
        return int(round(v * self.factor))

    def reset(self, viewport: Rect | None, done: list[Tile], overlap: int) -> None:
        """Start over for a new viewport: bicubic everywhere, then every done tile pasted in."""
        h, w = self.image.shape[:2]
        rect = viewport.clip(w, h) if viewport is not None else None
        if rect is None or rect.empty:
            self.rect, self.pixels = None, None
            return
        self.rect = rect
        self.factor = min(float(self.scale), math.sqrt(PREVIEW_MAX_PIXELS / rect.area))
        size = (max(1, self._to_preview(rect.w)), max(1, self._to_preview(rect.h)))
        if self.factor == self.scale:
            size = (rect.w * self.scale, rect.h * self.scale)
        self.pixels = bicubic(self.image[rect.slices], size)
        for tile in done:
            self.paste(tile, overlap)

    def paste(self, tile: Tile, overlap: int) -> bool:
        """Refresh what adding `tile` changed (its core plus half the overlap); True if visible."""
        if self.rect is None or self.pixels is None:
            return False
        h, w = self.image.shape[:2]
        area = tile.core.expand(math.ceil(overlap / 2)).clip(w, h).intersect(self.rect)
        if area.empty:
            return False
        s = self.scale
        hr = self.blender.region(Rect(area.x * s, area.y * s, area.w * s, area.h * s), np.float32)
        if self.factor == s:
            y0, x0 = (area.y - self.rect.y) * s, (area.x - self.rect.x) * s
            y1, x1 = y0 + area.h * s, x0 + area.w * s
        else:
            ph, pw = self.pixels.shape[:2]
            x0 = min(self._to_preview(area.x - self.rect.x), pw - 1)
            y0 = min(self._to_preview(area.y - self.rect.y), ph - 1)
            x1 = max(min(self._to_preview(area.right - self.rect.x), pw), x0 + 1)
            y1 = max(min(self._to_preview(area.bottom - self.rect.y), ph), y0 + 1)
            hr = cv2.resize(hr, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
            hr = hr.reshape(y1 - y0, x1 - x0, self.pixels.shape[2])
        maxval = max_value(self.pixels.dtype)
        self.pixels[y0:y1, x0:x1] = np.clip(np.rint(hr), 0, maxval).astype(self.pixels.dtype)
        return True


# ----------------------------------------------------------------------------------------- run


def _validate(request: UpscaleRequest) -> None:
    image = request.image
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (H, W, C) image with C in 1/3/4, got shape {image.shape}")
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 pixels, got {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("the image is empty")
    if request.scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {request.scale}")
    if request.model.scale != request.scale:
        raise ValueError(
            f"the model {request.model.id} was chosen for ×{request.model.scale}, "
            f"not ×{request.scale}"
        )
    if request.tile <= 0 or request.overlap < 0 or request.max_memory_mb < 0:
        raise ValueError(
            f"need tile > 0, overlap >= 0 and max_memory_mb >= 0, got {request.tile}, "
            f"{request.overlap}, {request.max_memory_mb}"
        )


def run(request: UpscaleRequest, ctx: RunContext) -> Run:
    """Upscale `request.image` by `request.scale`; return the (H*s, W*s, C) array (same dtype).

    The network of `request.model` comes from `ctx.models` (family `upscaler`), loaded on the
    running thread. Yields an Update per tile with
    progress and, when ctx.viewport is set, a preview of the viewport (see the module
    docstring). `ctx.clock` paces the previews. Raises ValueError
    for a bad request, JobCancelled within one tile of a cancel.
    """
    _validate(request)
    spill_root = request.spill_dir if request.spill_dir is not None else Path(tempfile.gettempdir())
    request.check_fits(spill_root)
    image, s, title = request.image, request.scale, request.model.title
    h, w, c = image.shape
    yield Update(progress=0.0, message=f"Loading {title} ×{s}")
    upscaler = ctx.models.load(Upscalers.id, choice=request.model)
    ctx.check_cancelled()
    overlap = max(request.overlap, int(getattr(upscaler, "overlap", 0)))
    maxval = max_value(image.dtype)
    spilled = request.output_bytes() > request.max_memory_mb * (1 << 20)

    with SpillFolder(spill_root) as folder:  # removed however the run ends (editor.engine.spill)
        spill = _Spill(folder) if spilled else None
        blender = TileBlender(
            h, w, c, overlap, s, allocate=spill.allocate if spill is not None else None
        )
        pending = plan_tiles(w, h, request.tile, overlap, ctx.viewport)
        done: list[Tile] = []
        total = len(pending)
        preview = _ViewportPreview(image, s, blender)
        seen_viewport = ctx.viewport
        preview.reset(seen_viewport, done, overlap)
        last_preview = ctx.clock()
        yield Update(
            progress=0.0,
            message=f"{title} ×{s}: {total} tiles",
            preview=None if preview.pixels is None else preview.pixels.copy(),
            preview_rect=preview.rect,
        )

        while pending:
            ctx.check_cancelled()
            tile = next_tile(pending, ctx.viewport)
            pending.remove(tile)
            out = upscale_tile(image[tile.rect.slices], s, upscaler, ctx.device, maxval)
            blender.add(tile, out)
            done.append(tile)
            if spill is not None:
                spill.touched(out.shape[0] * out.shape[1] * (c + 1) * 4)

            viewport = ctx.viewport  # again: the user may have panned or zoomed during the tile
            moved = viewport != seen_viewport
            if moved:
                seen_viewport = viewport
                preview.reset(viewport, done, overlap)
                changed = preview.pixels is not None
            else:
                changed = preview.paste(tile, overlap)
            visible_left = preview.rect is not None and any(
                not t.core.intersect(preview.rect).empty for t in pending
            )
            now = ctx.clock()
            send = changed and (
                moved or now - last_preview >= PREVIEW_INTERVAL_S or not visible_left or not pending
            )
            if send:
                last_preview = now
            k = len(done)
            yield Update(
                progress=k / total,
                message=f"{title} ×{s}: tile {k}/{total}",
                preview=preview.pixels.copy() if send and preview.pixels is not None else None,
                preview_rect=preview.rect if send else None,
            )

        ctx.check_cancelled()
        yield Update(progress=1.0, message=f"{title} ×{s}: stitching")
        result = _stitch(blender, image.dtype, spill, spill_root)
    return result


def _stitch(
    blender: TileBlender, dtype: np.dtype, spill: _Spill | None, result_dir: Path
) -> np.ndarray:
    """The final image, written strip by strip (bounded float temporaries)."""
    height, width = blender.height * blender.scale, blender.width * blender.scale
    c = blender.channels
    shape = (height, width, c)
    result = (
        spill.anonymous(shape, dtype, result_dir) if spill is not None else np.empty(shape, dtype)
    )
    rows = max(1, STRIP_BYTES // max(1, width * (c + 1) * 4 * 2))
    for y in range(0, height, rows):
        n = min(rows, height - y)
        result[y : y + n] = blender.region(Rect(0, y, width, n), dtype)
        if spill is not None:
            spill.touched(width * n * (c * (4 + np.dtype(dtype).itemsize) + 4))
    if spill is not None:
        spill.release()
    return result


__all__ = ["SCALES", "UpscaleRequest", "UpscaleTooLarge", "next_tile", "run"]
