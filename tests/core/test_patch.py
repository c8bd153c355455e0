"""ArrayPatch: only changed tiles are kept, undo/redo are bit-exact, strokes stay small."""

from __future__ import annotations

import numpy as np
import pytest

from editor.core.geometry import Rect
from editor.core.mask_ops import Brush, MaskStroke
from editor.core.patch import ArrayPatch


def test_from_regions_keeps_only_changed_tiles():
    before = np.zeros((256, 256), np.uint8)
    after = before.copy()
    after[130, 70] = 9  # tile (2, 1)
    after[10, 250] = 7  # tile (0, 3)
    patch = ArrayPatch.from_regions(before, after, 0, 0)
    assert len(patch) == 2
    assert patch.rect == Rect(64, 0, 192, 192)
    assert not patch.empty and patch.nbytes > 0


def test_from_regions_offset_region_cuts_on_the_global_grid():
    rng = np.random.default_rng(1)
    target = rng.integers(0, 65535, (200, 300, 3), dtype=np.uint16)
    original = target.copy()
    region = Rect(30, 40, 100, 90)  # not tile-aligned
    before = target[region.slices].copy()
    after = before.copy()
    after[:5, :5] = 0  # global (30..34, 40..44): grid tile (0, 0), clipped to the region
    patch = ArrayPatch.from_regions(before, after, region.x, region.y)
    assert len(patch) == 1
    assert patch.rect == Rect(30, 40, 34, 24)

    assert patch.apply(target) == patch.rect
    np.testing.assert_array_equal(target[region.slices], after)
    patch.revert(target)
    np.testing.assert_array_equal(target, original)


def test_from_tiles_drops_unchanged_and_handles_edge_tiles():
    target = np.zeros((100, 150), np.uint8)
    originals = {(0, 0): target[0:64, 0:64].copy(), (1, 2): target[64:100, 128:150].copy()}
    target[99, 149] = 255  # only the clipped corner tile changes
    patch = ArrayPatch.from_tiles(target, originals)
    assert len(patch) == 1
    assert patch.rect == Rect(128, 64, 22, 36)
    patch.revert(target)
    assert not target.any()
    patch.apply(target)
    assert target[99, 149] == 255 and target.sum() == 255


def test_empty_patch():
    a = np.zeros((10, 10), np.uint8)
    patch = ArrayPatch.from_regions(a, a.copy(), 0, 0)
    assert patch.empty and patch.nbytes == 0 and patch.rect is None
    assert patch.apply(a) is None and patch.revert(a) is None


def test_wrong_target_is_refused_untouched():
    before = np.zeros((64, 64), np.uint8)
    after = before + 1
    patch = ArrayPatch.from_regions(before, after, 100, 100)
    with pytest.raises(ValueError):
        patch.apply(np.zeros((128, 128), np.uint8))  # too small
    with pytest.raises(ValueError):
        patch.apply(np.zeros((256, 256), np.uint16))  # wrong dtype
    with pytest.raises(ValueError):
        ArrayPatch.from_regions(before, after[:10], 0, 0)


def test_stroke_revert_and_apply_are_bit_exact():
    rng = np.random.default_rng(2)
    mask = rng.integers(0, 256, (300, 400), dtype=np.uint8)
    original = mask.copy()
    stroke = MaskStroke(mask, Brush(size=37, hardness=0.5, opacity=0.7))
    stroke.move_to(10.3, 20.8)
    for x, y in [(150.2, 80.1), (390.0, 290.0), (-20.0, 250.0)]:
        stroke.line_to(x, y)
    patch = stroke.finish()
    painted = mask.copy()
    assert not np.array_equal(painted, original)

    assert patch.revert(mask) is not None
    np.testing.assert_array_equal(mask, original)
    patch.apply(mask)
    np.testing.assert_array_equal(mask, painted)


def test_stroke_on_a_big_mask_stores_far_less_than_the_mask():
    mask = np.zeros((4000, 6000), np.uint8)
    stroke = MaskStroke(mask, Brush(size=100, hardness=0.8))
    stroke.move_to(1000, 1000)
    stroke.line_to(1500, 1200)
    patch = stroke.finish()
    assert patch.nbytes < 0.01 * mask.nbytes
    # The tiles cover the stroke and little more: its bbox is ~ 600 x 300 px.
    assert patch.rect is not None and patch.rect.area < 1024 * 512
