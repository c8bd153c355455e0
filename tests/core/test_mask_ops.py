"""Mask tools' pixel work, checked numerically on small synthetic masks and images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from editor.core.geometry import Rect
from editor.core.mask_ops import (
    Brush,
    Combine,
    MaskStroke,
    changed_patch,
    clear,
    combine,
    dab_footprint,
    ellipse_region,
    feather,
    fill,
    grow,
    invert,
    magic_wand,
    mask_bbox,
    polygon_region,
    rect_region,
    shrink,
)

# -- brush ------------------------------------------------------------------------------------


def _stroke(mask, brush, points, erase=False):
    stroke = MaskStroke(mask, brush, erase=erase)
    stroke.move_to(*points[0])
    for p in points[1:]:
        stroke.line_to(*p)
    return stroke.finish()


def test_brush_validates():
    with pytest.raises(ValueError):
        Brush(size=0.5)
    with pytest.raises(ValueError):
        Brush(hardness=1.5)
    with pytest.raises(ValueError):
        Brush(opacity=-0.1)


def test_hard_dab_is_a_disc_with_antialiased_rim():
    rect, alpha = dab_footprint(Brush(size=40, hardness=1.0), 50.0, 60.0)
    assert alpha.dtype == np.float32 and alpha.shape == (rect.h, rect.w)
    assert alpha.sum() == pytest.approx(math.pi * 20**2, rel=0.01)
    # Distance of each pixel centre from the dab centre.
    yy, xx = np.mgrid[rect.y : rect.bottom, rect.x : rect.right] + 0.5
    d = np.hypot(xx - 50.0, yy - 60.0)
    assert (alpha[d <= 19.5] == 1).all()
    assert (alpha[d >= 20.5] == 0).all()
    rim = alpha[(d > 19.5) & (d < 20.5)]
    assert ((rim > 0) & (rim < 1)).all()


def test_dab_honours_the_sub_pixel_centre():
    brush = Brush(size=9, hardness=0.0)
    rect, alpha = dab_footprint(brush, 20.5, 30.5)  # centre of pixel (20, 30)
    peak = np.unravel_index(np.argmax(alpha), alpha.shape)
    assert (rect.x + peak[1], rect.y + peak[0]) == (20, 30)
    np.testing.assert_allclose(alpha, alpha[::-1, ::-1], atol=1e-6)  # symmetric about it
    rect, alpha = dab_footprint(brush, 20.0, 30.0)  # corner shared by (19..20, 29..30)
    sub = alpha[30 - rect.y - 1 : 30 - rect.y + 1, 20 - rect.x - 1 : 20 - rect.x + 1]
    np.testing.assert_allclose(sub, sub[0, 0], atol=1e-6)
    rect2, alpha2 = dab_footprint(brush, 20.25, 30.0)
    assert not np.array_equal(alpha, alpha2) or rect != rect2


def test_soft_dab_falls_off_monotonically():
    rect, alpha = dab_footprint(Brush(size=41, hardness=0.0), 100.5, 100.5)
    row = alpha[100 - rect.y, 100 - rect.x :]  # from the centre pixel outwards
    assert row[0] == pytest.approx(1.0)
    assert (np.diff(row) < 0).all() or (np.diff(row[row > 0]) < 0).all()
    assert (np.diff(row) <= 0).all()
    assert 0.3 < row[10] < 0.9  # halfway out: clearly partial, not a hard disc


def test_horizontal_stroke_paints_exactly_its_band_without_gaps():
    mask = np.zeros((100, 300), np.uint8)
    # Points 100 px apart (a fast drag) with a 20 px brush; y = 50 lies between rows 49 and 50.
    _stroke(mask, Brush(size=20, hardness=1.0, opacity=1.0), [(50, 50), (150, 50), (250, 50)])
    band = mask[:, 50:251]
    assert (band[41:59] == 255).all()  # every row whose pixels lie inside the radius
    assert (band[40] >= 230).all() and (band[59] >= 230).all()  # |dy| = 9.5: rim, scalloped
    assert not mask[:40].any() and not mask[60:].any()
    assert not mask[:, :39].any() and not mask[:, 262:].any()


def test_stroke_is_the_same_however_the_path_is_sampled():
    brush = Brush(size=30, hardness=0.6, opacity=1.0)
    one = np.zeros((80, 300), np.uint8)
    _stroke(one, brush, [(20.0, 40.0), (270.0, 40.0)])
    many = np.zeros_like(one)
    xs = np.arange(20.0, 270.01, 0.7).tolist() + [270.0]
    _stroke(many, brush, [(x, 40.0) for x in xs])  # remainder carried across tiny segments
    assert np.abs(one.astype(int) - many.astype(int)).max() <= 1


def test_opacity_caps_one_stroke_and_a_second_stroke_adds():
    mask = np.zeros((100, 200), np.uint8)
    brush = Brush(size=30, hardness=1.0, opacity=0.5)
    # Back and forth over the same spot: dabs overlap many times within one stroke.
    _stroke(mask, brush, [(50, 50), (150, 50), (50, 50), (150, 52)])
    assert mask.max() == 128
    assert (mask[45:55, 60:140] == 128).all()
    _stroke(mask, brush, [(50, 50), (150, 50)])
    assert mask[50, 100] == 192  # 128 + 127 * 0.5, rounded


def test_eraser_removes():
    mask = np.full((100, 200), 255, np.uint8)
    _stroke(mask, Brush(size=20, hardness=1.0), [(20, 50), (180, 50)], erase=True)
    assert (mask[41:59, 20:181] == 0).all()
    assert (mask[:39] == 255).all() and (mask[61:] == 255).all()
    half = np.full((10, 10), 200, np.uint8)
    _stroke(half, Brush(size=40, hardness=1.0, opacity=0.25), [(5, 5), (6, 5)], erase=True)
    assert (half == 150).all()


def test_soft_stroke_profile_decreases_from_its_centre_line():
    mask = np.zeros((120, 200), np.uint8)
    _stroke(mask, Brush(size=60, hardness=0.0), [(40, 60.5), (160, 60.5)])
    column = mask[60:, 100].astype(int)  # from the centre row down
    assert column[0] >= 245  # 1 only exactly under a dab centre, dabs are 9 px apart
    assert (np.diff(column) <= 0).all()
    assert len(np.unique(column[(column > 0) & (column < 255)])) > 10  # a ramp, not a step
    assert column[31:].max() == 0


def test_stroke_off_the_image_and_clipped_rects():
    mask = np.zeros((50, 50), np.uint8)
    stroke = MaskStroke(mask, Brush(size=10))
    assert stroke.move_to(-100, -100) is None
    assert stroke.line_to(-100, 200) is None
    assert stroke.move_to(2, 25) == Rect(0, 19, 8, 12)  # clipped at the left edge
    assert stroke.line_to(2, 40) == Rect(0, 21, 8, 25)  # dabs at y = 26.5 .. 40
    stroke.finish()
    with pytest.raises(RuntimeError):
        stroke.line_to(10, 10)


def test_finish_stamps_the_end_point():
    mask = np.zeros((50, 100), np.uint8)
    brush = Brush(size=20, hardness=1.0)  # spacing 3 px
    _stroke(mask, brush, [(10, 25), (51, 25)])  # 41 px: last spaced dab at x = 49
    assert mask[25, 60] == 255  # 9 px past the end point: only the end dab reaches


# -- regions ----------------------------------------------------------------------------------


def test_rect_region_clips():
    r = rect_region((50, 60), Rect(50, 40, 20, 20))
    assert r.dtype == np.uint8 and r.shape == (50, 60)
    assert r.sum() == 10 * 10 * 255
    assert mask_bbox(r) == Rect(50, 40, 10, 10)


@pytest.mark.parametrize("antialias", [True, False])
def test_ellipse_region_area_and_points(antialias):
    r = ellipse_region((120, 160), Rect(20, 10, 100, 60), antialias)
    assert r.sum() / 255 == pytest.approx(math.pi * 50 * 30, rel=0.02)
    assert r[40, 70] == 255  # centre
    assert r[12, 22] == 0 and r[68, 118] == 0  # rect corners
    assert not r[:10].any() and not r[:, 120:].any()
    values = np.unique(r)
    assert (len(values) > 2) == antialias


@pytest.mark.parametrize("antialias", [True, False])
def test_polygon_region_area_and_points(antialias):
    pts = [(10.3, 10.7), (150.2, 20.1), (80.5, 110.9)]
    r = polygon_region((128, 160), pts, antialias)
    x, y = np.array(pts).T
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert r.sum() / 255 == pytest.approx(area, rel=0.02)
    assert r[45, 80] == 255 and r[100, 20] == 0 and r[5, 5] == 0


def test_polygon_region_is_sub_pixel_and_rejects_degenerate_input():
    r = polygon_region((40, 40), [(10.5, 10.5), (20.5, 10.5), (20.5, 20.5), (10.5, 20.5)])
    assert r.sum() / 255 == pytest.approx(100, rel=0.02)
    assert r[15, 15] == 255
    assert 40 <= r[10, 10] <= 90  # a quarter covered
    assert 100 <= r[15, 10] <= 160  # half covered
    assert not polygon_region((40, 40), [(1, 1), (30, 30)]).any()
    assert not polygon_region((40, 40), []).any()


def test_polygon_region_matches_true_coverage():
    # A 400-gon circle against its coverage measured on an 8x8 sub-pixel grid.
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    ring = np.stack([50.3 + 30 * np.cos(t), 40.7 + 30 * np.sin(t)], axis=1)
    r = polygon_region((100, 100), ring).astype(float)
    s = (np.arange(800) + 0.5) / 8
    inside = (s[None, :] - 50.3) ** 2 + (s[:, None] - 40.7) ** 2 <= 900
    truth = inside.reshape(100, 8, 100, 8).mean(axis=(1, 3)) * 255
    assert np.abs(r - truth).max() < 24  # 16 scanlines per row: within ~1/16 of a pixel
    assert r.sum() / 255 == pytest.approx(math.pi * 900, rel=0.002)
    # Orientation does not matter, and a clockwise/anticlockwise figure-8 fills both lobes.
    np.testing.assert_array_equal(polygon_region((100, 100), ring[::-1]), r.astype(np.uint8))
    bow = polygon_region((50, 50), [(5, 5), (45, 45), (45, 5), (5, 45)])
    assert bow.sum() / 255 == pytest.approx(800, rel=0.01)


def test_polygon_region_clips_at_the_image_edge():
    # Right triangle with its right angle at (40, -10); inside the image it is a trapezoid.
    r = polygon_region((50, 50), [(-50.0, -10.0), (40.0, -10.0), (40.0, 60.0)])
    # Image rows y in 0..50: the hypotenuse x = -50 + 90 (y + 10) / 70 crosses x = 0 at y ~ 28.9.
    ys = (np.arange(50 * 64) + 0.5) / 64
    left = np.clip(-50 + 90 * (ys + 10) / 70, 0, 40)
    assert r.sum() / 255 == pytest.approx(np.mean(40 - left) * 50, rel=0.01)
    assert not r[:, 40:].any()


def test_combine_modes():
    mask = np.array([[0, 100, 200, 255]], np.uint8)
    region = np.array([[255, 255, 50, 0]], np.uint8)
    assert combine(mask, region, Combine.REPLACE).tolist() == [[255, 255, 50, 0]]
    assert combine(mask, region, Combine.ADD).tolist() == [[255, 255, 200, 255]]
    assert combine(mask, region, Combine.SUBTRACT).tolist() == [[0, 0, 200, 255]]
    assert combine(mask, region, "intersect").tolist() == [[0, 100, 50, 0]]
    assert combine(mask, region, Combine.ADD) is not mask


# -- magic wand -------------------------------------------------------------------------------


@pytest.fixture
def two_colour_image() -> np.ndarray:
    """Grey noisy background, two separate red patches, and two 'near red' strips."""
    rng = np.random.default_rng(3)
    img = np.full((60, 80, 3), 40, np.int32) + rng.integers(-3, 4, (60, 80, 3))
    img[10:30, 10:30] = (200, 30, 30)
    img[35:55, 50:75] = (200, 30, 30)
    img[0:5, 40:60] = (210, 30, 30)  # +10 in red: on the tolerance boundary
    img[55:60, 0:20] = (200, 41, 30)  # +11 in green: just outside
    return img.astype(np.uint8)


def test_magic_wand_contiguous_and_global(two_colour_image):
    contiguous = magic_wand(two_colour_image, 15, 15, tolerance=10)
    assert contiguous.dtype == np.uint8 and set(np.unique(contiguous)) == {0, 255}
    assert mask_bbox(contiguous) == Rect(10, 10, 20, 20)
    assert contiguous.sum() == 400 * 255

    everywhere = magic_wand(two_colour_image, 15, 15, tolerance=10, contiguous=False)
    assert (everywhere[10:30, 10:30] == 255).all() and (everywhere[35:55, 50:75] == 255).all()
    assert (everywhere[0:5, 40:60] == 255).all()  # diff == tolerance: in
    assert not everywhere[55:60, 0:20].any()  # diff == tolerance + 1: out
    assert everywhere.sum() == (400 + 500 + 100) * 255


def test_magic_wand_background_tolerance(two_colour_image):
    tight = magic_wand(two_colour_image, 70, 5, tolerance=0, contiguous=False)
    loose = magic_wand(two_colour_image, 70, 5, tolerance=6)  # noise is +-3
    assert tight.sum() < loose.sum()
    assert not loose[10:30, 10:30].any()
    assert loose[40, 5] == 255


def test_magic_wand_connectivity():
    img = np.zeros((10, 10), np.uint8)
    img[2:4, 2:4] = 255
    img[4:6, 4:6] = 255  # touches the first square only at a corner
    assert magic_wand(img, 2, 2, 0).sum() == 4 * 255
    assert magic_wand(img, 2, 2, 0, connectivity=8).sum() == 8 * 255


def test_magic_wand_uint16_and_rgba_match_uint8(two_colour_image):
    expected = magic_wand(two_colour_image, 15, 15, 10, contiguous=False)
    deep = two_colour_image.astype(np.uint16) * 257
    np.testing.assert_array_equal(magic_wand(deep, 15, 15, 10, contiguous=False), expected)
    rng = np.random.default_rng(4)
    alpha = rng.integers(0, 256, two_colour_image.shape[:2] + (1,), dtype=np.uint8)
    rgba = np.concatenate([two_colour_image, alpha], axis=2)
    np.testing.assert_array_equal(magic_wand(rgba, 15, 15, 10, contiguous=False), expected)
    np.testing.assert_array_equal(
        magic_wand(rgba, 15, 15, 10), magic_wand(two_colour_image, 15, 15, 10)
    )
    deep_rgba = rgba.astype(np.uint16) * 257
    np.testing.assert_array_equal(
        magic_wand(deep_rgba, 15, 15, 10), magic_wand(two_colour_image, 15, 15, 10)
    )


def test_magic_wand_on_the_shared_fixture(rgb_image):
    patch = magic_wand(rgb_image, 50, 30, tolerance=20)
    assert mask_bbox(patch) == Rect(30, 20, 40, 20)
    with pytest.raises(ValueError):
        magic_wand(rgb_image, 500, 0, 10)


# -- grow, shrink, feather ----------------------------------------------------------------------


@pytest.fixture
def square() -> np.ndarray:
    mask = np.zeros((80, 80), np.uint8)
    mask[30:50, 30:50] = 255
    return mask


def test_grow_is_euclidean(square):
    grown = grow(square, 5)
    assert mask_bbox(grown) == Rect(25, 25, 30, 30)
    assert grown[25, 40] == 255 and grown[40, 54] == 255  # edges pushed out by 5
    assert grown[25, 25] == 0  # corner: sqrt(50) > 5 from the nearest selected pixel
    assert grown[26, 26] == 0 and grown[27, 27] == 255  # sqrt(32) > 5, sqrt(18) <= 5
    assert (grown[square == 255] == 255).all()


def test_shrink_and_round_trip(square):
    assert mask_bbox(shrink(square, 5)) == Rect(35, 35, 10, 10)
    assert shrink(square, 5).sum() == 100 * 255
    assert not shrink(square, 10).any()
    round_trip = shrink(grow(square, 5), 5)
    assert np.count_nonzero(round_trip != square) <= 8
    assert (shrink(fill((20, 20)), 5) == 255).all()  # the border is not unselected


def test_grow_shrink_threshold_soft_masks():
    soft = np.zeros((30, 30), np.uint8)
    soft[10, 10], soft[20, 20] = 128, 127
    grown = grow(soft, 2)
    assert grown[10, 12] == 255 and grown[20, 20] == 0
    assert not grow(clear((10, 10)), 3).any()


def test_feather_ramp_and_mass():
    mask = np.zeros((100, 100), np.uint8)
    mask[30:70, 30:70] = 255
    soft = feather(mask, 8)
    assert soft.sum() == pytest.approx(mask.sum(), rel=0.01)
    row = soft[50, 10:51].astype(int)  # from outside to the centre
    assert (np.diff(row) >= 0).all()
    assert row[0] == 0 and row[-1] == 255
    edge = (int(soft[50, 29]) + int(soft[50, 30])) / 2  # the pixels either side of the edge
    assert edge == pytest.approx(127.5, abs=3)
    assert 100 < soft[50, 30] < 170
    copy = feather(mask, 0)
    assert copy is not mask and np.array_equal(copy, mask)


# -- helpers ------------------------------------------------------------------------------------


def test_small_helpers():
    assert (fill((3, 4)) == 255).all() and fill((3, 4)).shape == (3, 4)
    assert not clear((3, 4)).any()
    m = np.array([[0, 10], [255, 128]], np.uint8)
    assert invert(m).tolist() == [[255, 245], [0, 127]]
    assert mask_bbox(clear((5, 5))) is None
    assert mask_bbox(m) == Rect(0, 0, 2, 2)
    assert mask_bbox(m, threshold=128) == Rect(0, 1, 2, 1)


def test_changed_patch_covers_only_the_difference():
    target = np.zeros((512, 512), np.uint8)
    new = target.copy()
    new[300:310, 200:210] = 255
    patch = changed_patch(target, new)
    assert not target.any()  # writes nothing
    assert len(patch) == 1 and patch.rect == Rect(200, 300, 10, 10)
    patch.apply(target)
    np.testing.assert_array_equal(target, new)
    patch.revert(target)
    assert not target.any()
    assert changed_patch(target, target.copy()).empty
