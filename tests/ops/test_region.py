"""crop_rect / feather_alpha / feathered / composite: the crop-process-blend path every local
edit takes."""

from __future__ import annotations

import numpy as np
import pytest

from editor.core.geometry import Rect
from editor.ops.region import composite, crop_rect, feather_alpha, feathered

BLOCK = Rect(30, 20, 40, 20)


def _mask(h: int = 96, w: int = 128, box: Rect = BLOCK) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[box.slices] = 255
    return mask


def test_crop_rect_is_bbox_plus_margin_clipped():
    assert crop_rect(_mask(), 0) == Rect(30, 20, 40, 20)
    assert crop_rect(_mask(), 8) == Rect(22, 12, 56, 36)
    # near the corner the margin is clipped to the image
    assert crop_rect(_mask(box=Rect(2, 3, 5, 5)), 10) == Rect(0, 0, 17, 18)
    assert crop_rect(_mask(box=Rect(120, 90, 8, 6)), 10) == Rect(110, 80, 18, 16)


def test_crop_rect_empty_and_threshold():
    assert crop_rect(np.zeros((10, 10), np.uint8), 4) is None
    soft = np.zeros((20, 20), np.uint8)
    soft[5, 5] = 10
    soft[10:12, 10:12] = 255
    assert crop_rect(soft, 0) == Rect(5, 5, 7, 7)
    assert crop_rect(soft, 0, threshold=128) == Rect(10, 10, 2, 2)
    assert crop_rect(soft, 0, threshold=255 + 1) is None


def test_crop_rect_multiple_grows_inside_the_image():
    rect = crop_rect(_mask(box=Rect(30, 20, 41, 19)), 3, multiple=8)
    assert rect is not None and rect.w % 8 == 0 and rect.h % 8 == 0
    assert rect.clip(128, 96) == rect
    assert rect.x <= 27 and rect.right >= 74 and rect.y <= 17 and rect.bottom >= 42
    # at the border the growth shifts inward instead of leaving the image
    rect = crop_rect(_mask(box=Rect(0, 0, 5, 5)), 0, multiple=16)
    assert rect == Rect(0, 0, 16, 16)
    rect = crop_rect(_mask(box=Rect(125, 93, 3, 3)), 0, multiple=16)
    assert rect == Rect(112, 80, 16, 16)
    # an axis that cannot reach the next multiple keeps its clipped size
    rect = crop_rect(_mask(h=10, w=100, box=Rect(10, 2, 20, 5)), 0, multiple=16)
    assert rect is not None and rect.h == 5 and rect.w == 32


def test_feather_alpha_is_one_on_mask_and_ramps_to_exact_zero():
    mask = _mask()
    alpha = feather_alpha(mask, 6.0)
    assert alpha.dtype == np.float32 and alpha.shape == mask.shape
    assert (alpha[mask > 0] == 1.0).all()
    # beyond the feather distance: exactly zero
    assert alpha[:13, :].max() == 0.0 and alpha[:, :23].max() == 0.0
    # a monotonic fall from the mask edge outwards along a row
    row = alpha[30, 70:80]
    assert row[0] < 1.0 and row[0] > 0.5 and (np.diff(row) <= 0).all() and row[-1] == 0.0
    assert (0 <= alpha).all() and (alpha <= 1).all()
    hard = feather_alpha(mask, 0)
    assert ((hard == 1.0) == (mask > 0)).all()


def test_composite_blends_rounds_and_keeps_untouched_pixels(rgb_image):
    rect = Rect(20, 10, 60, 40)
    result = np.full((rect.h, rect.w, 3), 250, np.uint8)
    alpha = np.zeros((rect.h, rect.w), np.float32)
    alpha[10:30, 10:50] = 1.0
    alpha[0, 0] = 0.5
    out = composite(rgb_image, result, rect, alpha)
    assert out.dtype == np.uint8 and out.shape == rgb_image.shape
    assert out is not rgb_image and not np.shares_memory(out, rgb_image)
    changed = np.zeros(rgb_image.shape[:2], bool)
    changed[rect.slices] = alpha > 0
    assert np.array_equal(out[~changed], rgb_image[~changed])
    assert (out[20:40, 30:70] == 250).all()
    expected = np.rint(rgb_image[10, 20].astype(np.float32) * 0.5 + 125).astype(np.uint8)
    assert np.array_equal(out[10, 20], expected)


def test_composite_uint16_rgba_and_gray():
    base = np.full((8, 8, 4), 1000, np.uint16)
    result = np.full((4, 4, 4), 65535, np.uint16)
    alpha = np.full((4, 4), 0.25, np.float32)
    out = composite(base, result, Rect(2, 2, 4, 4), alpha)
    assert out.dtype == np.uint16
    assert out[3, 3, 0] == round(1000 + 0.25 * (65535 - 1000)) and out[0, 0, 0] == 1000
    gray = composite(
        np.zeros((5, 5), np.uint8),
        np.full((2, 2), 9, np.uint8),
        Rect(1, 1, 2, 2),
        np.ones((2, 2), np.float32),
    )
    assert gray[1:3, 1:3].tolist() == [[9, 9], [9, 9]] and gray.sum() == 36


def test_composite_rejects_mismatched_shapes(rgb_image):
    with pytest.raises(ValueError, match="not inside"):
        composite(
            rgb_image,
            np.zeros((10, 10, 3), np.uint8),
            Rect(120, 0, 10, 10),
            np.ones((10, 10), np.float32),
        )
    with pytest.raises(ValueError, match="expected"):
        composite(
            rgb_image,
            np.zeros((10, 9, 3), np.uint8),
            Rect(0, 0, 10, 10),
            np.ones((10, 10), np.float32),
        )


def test_feathered_is_zero_outside_and_ramps_to_one_inside():
    mask = np.zeros((60, 60), np.uint8)
    mask[10:50, 10:50] = 255
    alpha = feathered(mask, 8.0)
    assert (alpha[mask == 0] == 0).all()
    assert alpha[30, 30] == 1.0
    ramp = alpha[30, 10:30]
    assert (np.diff(ramp) >= 0).all() and 0 < ramp[0] < 0.2
    # A mask that reaches the array's edge fades there too.
    assert feathered(np.full((20, 20), 255, np.uint8), 5.0)[0, 10] < 0.3
