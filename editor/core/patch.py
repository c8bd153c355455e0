"""Undo storage for pixel edits that stays small on big images.

An edit rarely touches the whole image: a brush stroke crosses a few dozen 64 px tiles of a
24-megapixel mask. :class:`ArrayPatch` keeps only the tiles that actually changed, before and
after, each zlib-compressed at level 1 (fast, and masks compress extremely well). Undo writes the
before-state back, redo writes the after-state, and both return the rectangle to repaint.

Tiles lie on one global grid (tile row ``r`` covers rows ``r*tile .. r*tile+tile-1`` of the
target), so patches built from different edits of the same array line up.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from editor.core.geometry import Rect

#: zlib level: 1 compresses masks ~50-200x at a few hundred MB/s; higher levels cost far more
#: time for little gain, and undo entries are written on every stroke.
COMPRESS_LEVEL = 1


@dataclass(frozen=True)
class _Tile:
    """One stored tile: where it lies in the target and its compressed before/after pixels."""

    rect: Rect
    before: bytes
    after: bytes


def _pack(array: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(array).tobytes(), COMPRESS_LEVEL)


def grid_cells(region: Rect, tile: int) -> Iterator[tuple[tuple[int, int], Rect]]:
    """Each global grid tile that meets ``region``, clipped to it, with its (row, col) key."""
    for tr in range(region.y // tile, (region.bottom - 1) // tile + 1):
        for tc in range(region.x // tile, (region.right - 1) // tile + 1):
            cell = Rect(tc * tile, tr * tile, tile, tile).intersect(region)
            yield (tr, tc), cell


class ArrayPatch:
    """Changed tiles of one array, before and after, zlib-compressed (level 1).

    Tiles lie on a global grid of ``tile`` px. Build one with :meth:`from_regions` (two copies of a
    region) or :meth:`from_tiles` (tile originals saved while painting); then :meth:`revert` is undo
    and :meth:`apply` is redo. The arrays are ``(H, W)`` or ``(H, W, C)`` of any dtype.
    """

    def __init__(
        self,
        tiles: Mapping[tuple[int, int], _Tile],
        dtype: np.dtype,
        channels: tuple[int, ...],
        tile: int,
    ) -> None:
        self._tiles = dict(tiles)
        self._dtype = np.dtype(dtype)
        self._channels = channels  # trailing shape after (h, w): () or (c,)
        self.tile = tile
        rect: Rect | None = None
        for stored in self._tiles.values():
            rect = stored.rect if rect is None else rect.union(stored.rect)
        self.rect: Rect | None = rect
        self.nbytes: int = sum(len(t.before) + len(t.after) for t in self._tiles.values())

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_regions(
        cls, before: np.ndarray, after: np.ndarray, x: int, y: int, tile: int = 64
    ) -> ArrayPatch:
        """Diff two same-shape copies of ``Rect(x, y, w, h)`` of a target; keep changed tiles only.

        Tiles are cut on the target's global grid, so a region that does not start on a tile
        boundary yields partial tiles at its edges.
        """
        if before.shape != after.shape or before.dtype != after.dtype:
            raise ValueError(
                f"before {before.shape} {before.dtype} and after {after.shape} {after.dtype} differ"
            )
        if before.ndim not in (2, 3):
            raise ValueError(f"expected (h, w) or (h, w, c) arrays, got shape {before.shape}")
        h, w = before.shape[:2]
        region = Rect(x, y, w, h)
        tiles: dict[tuple[int, int], _Tile] = {}
        if not region.empty:
            diff = before != after
            if diff.ndim == 3:
                diff = diff.any(axis=2)
            for key, cell in grid_cells(region, tile):
                local = Rect(cell.x - x, cell.y - y, cell.w, cell.h).slices
                if diff[local].any():
                    tiles[key] = _Tile(cell, _pack(before[local]), _pack(after[local]))
        return cls(tiles, before.dtype, before.shape[2:], tile)

    @classmethod
    def from_tiles(
        cls,
        target: np.ndarray,
        originals: Mapping[tuple[int, int], np.ndarray],
        tile: int = 64,
    ) -> ArrayPatch:
        """Patch from grid-tile originals saved before a change; after-state read from target.

        ``originals`` maps ``(tile_row, tile_col)`` to a copy of that grid tile (clipped at the
        array edge) taken before the first change to it. Tiles that ended up unchanged are dropped.
        """
        height, width = target.shape[:2]
        tiles: dict[tuple[int, int], _Tile] = {}
        for (tr, tc), before in originals.items():
            cell = Rect(tc * tile, tr * tile, tile, tile).clip(width, height)
            after = target[cell.slices]
            if before.shape != after.shape:
                raise ValueError(
                    f"tile {(tr, tc)}: original {before.shape} != target {after.shape}"
                )
            if not np.array_equal(before, after):
                tiles[(tr, tc)] = _Tile(cell, _pack(before), _pack(after))
        return cls(tiles, target.dtype, target.shape[2:], tile)

    # -- use ----------------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        return not self._tiles

    def __len__(self) -> int:
        """Number of stored tiles."""
        return len(self._tiles)

    def apply(self, target: np.ndarray) -> Rect | None:
        """Write the after-state (redo); return the changed bounding rect, None if empty."""
        return self._write(target, after=True)

    def revert(self, target: np.ndarray) -> Rect | None:
        """Write the before-state (undo); return the changed bounding rect, None if empty."""
        return self._write(target, after=False)

    def _write(self, target: np.ndarray, *, after: bool) -> Rect | None:
        if target.dtype != self._dtype or target.shape[2:] != self._channels:
            raise ValueError(
                f"patch holds {self._dtype} {self._channels}, target is {target.dtype} "
                f"{target.shape[2:]}"
            )
        if self.rect is not None and (
            self.rect.right > target.shape[1] or self.rect.bottom > target.shape[0]
        ):
            # Checked up front so that a wrong target is never left half-written.
            raise ValueError(f"patch {self.rect} lies outside a target of shape {target.shape}")
        for stored in self._tiles.values():
            r = stored.rect
            raw = zlib.decompress(stored.after if after else stored.before)
            target[r.slices] = np.frombuffer(raw, self._dtype).reshape((r.h, r.w, *self._channels))
        return self.rect

    def __repr__(self) -> str:
        return f"ArrayPatch(tiles={len(self._tiles)}, rect={self.rect}, nbytes={self.nbytes})"
