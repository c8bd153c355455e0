"""plan_tiles / TileBlender: tiled processing reproduces the untiled result, viewport first."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from editor.core.geometry import Rect
from editor.ops.tiling import Tile, TileBlender, plan_tiles


def _coverage(tiles: list[Tile], width: int, height: int) -> np.ndarray:
    owned = np.zeros((height, width), np.int32)
    for t in tiles:
        owned[t.core.slices] += 1
    return owned


@pytest.mark.parametrize("size", [(128, 96), (130, 97), (40, 33), (7, 5)])
def test_cores_partition_the_image_and_rects_add_overlap(size):
    width, height = size
    tiles = plan_tiles(width, height, tile=32, overlap=8)
    assert (_coverage(tiles, width, height) == 1).all()
    for t in tiles:
        assert t.core.w <= 32 and t.core.h <= 32
        assert t.rect == t.core.expand(8).clip(width, height)
    if width >= 64:  # even split: no slivers
        widths = {t.core.w for t in tiles}
        assert max(widths) - min(widths) <= 1


def test_viewport_tiles_first_nearest_centre_first():
    viewport = Rect(70, 40, 30, 30)  # centre (85, 55)
    tiles = plan_tiles(256, 192, tile=32, overlap=4, viewport=viewport)
    assert (_coverage(tiles, 256, 192) == 1).all()
    visible = [not t.core.intersect(viewport).empty for t in tiles]
    n_visible = sum(visible)
    assert n_visible == 4 and all(visible[:n_visible]) and not any(visible[n_visible:])
    assert tiles[0].core.contains(85, 55)

    def dist(t: Tile) -> float:
        return np.hypot(t.core.x + t.core.w / 2 - 85, t.core.y + t.core.h / 2 - 55)

    rest = [dist(t) for t in tiles[n_visible:]]
    assert rest == sorted(rest)
    # without a viewport: raster order
    plain = plan_tiles(256, 192, tile=32, overlap=4)
    assert [(t.core.y, t.core.x) for t in plain] == sorted((t.core.y, t.core.x) for t in plain)


def _run_tiled(image: np.ndarray, op, tile: int, overlap: int, scale: int = 1) -> np.ndarray:
    h, w, c = image.shape
    blender = TileBlender(h, w, c, overlap, scale)
    for t in plan_tiles(w, h, tile, overlap, viewport=Rect(w // 3, h // 3, 20, 20)):
        changed = blender.add(t, op(image[t.rect.slices]))
        assert changed == Rect(
            t.rect.x * scale, t.rect.y * scale, t.rect.w * scale, t.rect.h * scale
        )
    return blender.result(image.dtype)


def test_identity_tiled_is_exact(rgb_image):
    assert np.array_equal(_run_tiled(rgb_image, lambda x: x.copy(), 40, 8), rgb_image)
    rgba16 = np.random.default_rng(1).integers(0, 65536, (50, 70, 4), dtype=np.uint16)
    assert np.array_equal(_run_tiled(rgba16, lambda x: x.copy(), 16, 5), rgba16)


def test_nearest_upscale_tiled_is_exact(rgb_image):
    def up(x: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(x, 2, axis=0), 2, axis=1)

    assert np.array_equal(_run_tiled(rgb_image, up, 32, 6, scale=2), up(rgb_image))


def test_blur_tiled_matches_untiled_away_from_borders(rgb_image):
    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (9, 9), 2.0)

    tiled = _run_tiled(rgb_image, blur, 32, 8).astype(int)
    whole = blur(rgb_image).astype(int)
    inner = (slice(8, -8), slice(8, -8))
    diff = np.abs(tiled[inner] - whole[inner])
    assert diff.max() <= 1, diff.max()
    # and without overlap the seams show: the blending is what makes them vanish
    seams = np.abs(_run_tiled(rgb_image, blur, 32, 0).astype(int)[inner] - whole[inner])
    assert seams.max() > 5


def test_partial_region_preview_and_shape_check():
    blender = TileBlender(20, 20, 1, overlap=2)
    tiles = plan_tiles(20, 20, 10, 2)
    first = tiles[0]
    blender.add(first, np.full((first.rect.h, first.rect.w, 1), 7, np.uint8))
    part = blender.region(first.core, np.uint8)
    assert (part == 7).all()
    assert (blender.result(np.uint8)[15:, 15:] == 0).all()  # not covered yet
    with pytest.raises(ValueError, match="expected"):
        blender.add(tiles[1], np.zeros((3, 3, 1), np.uint8))
