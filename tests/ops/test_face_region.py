"""The face's region from the photo: skin up to the hairline, hair and background left out."""

from __future__ import annotations

import cv2
import numpy as np
from synthetic_face import landmarks as _face

from editor.ops.face_region import BROWS, JAW, face_region, search_outline


def _portrait(hairline: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A face of skin from the chin up to `hairline` brow-to-chin heights above the brows, dark
    hair above and round it, a blue background; with noise, as a photo has. Returns (image,
    landmarks, the true skin mask)."""
    rng = np.random.default_rng(seed)
    landmarks = _face(seed) + [20.0, 70.0]
    shape = (300, 240)
    image = np.empty((*shape, 3), np.float32)
    image[:] = (70, 110, 190)
    jaw, brows = landmarks[JAW], landmarks[BROWS].copy()
    height = landmarks[8, 1] - brows[:, 1].mean()
    hair = brows.copy()
    hair[:, 1] -= 1.2 * height
    cv2.fillPoly(
        image, [np.round(np.concatenate([jaw, hair[::-1]])).astype(np.int32)], (45, 30, 25)
    )
    brows[:, 1] -= hairline * height
    skin = np.zeros(shape, np.uint8)
    cv2.fillPoly(skin, [np.round(np.concatenate([jaw, brows[::-1]])).astype(np.int32)], 1)
    image[skin > 0] = (215, 160, 135)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), landmarks, skin


def test_the_region_follows_the_hairline_the_photo_shows():
    for hairline in (0.2, 0.5):
        image, landmarks, skin = _portrait(hairline)
        region = face_region(image, landmarks) > 0
        assert region[skin > 0].mean() > 0.93  # the whole face, forehead included
        assert region[skin == 0].mean() < 0.02  # neither hair nor background
    # A guess from the brows would take the same forehead for both: the low hairline's region
    # ends well below the high one's.
    low = face_region(*_portrait(0.2)[:2]) > 0
    high = face_region(*_portrait(0.5)[:2]) > 0
    assert np.argmax(high.any(axis=1)) < np.argmax(low.any(axis=1)) - 10


def test_the_region_stays_inside_the_search_outline_on_a_bald_head():
    # Skin everywhere above the brows: the region stops where a forehead can end.
    image, landmarks, _ = _portrait(1.2)
    region = face_region(image, landmarks) > 0
    allowed = np.zeros(region.shape, np.uint8)
    cv2.fillConvexPoly(allowed, cv2.convexHull(np.round(search_outline(landmarks)).astype(int)), 1)
    assert region.any() and not (region & (cv2.dilate(allowed, np.ones((5, 5))) == 0)).any()


def test_a_flat_picture_still_gets_the_landmarks_hull():
    image = np.full((300, 240, 3), 128, np.uint8)
    landmarks = _face() + [20.0, 70.0]
    region = face_region(image, landmarks) > 0
    xs, ys = np.round(landmarks[27:]).astype(int).T  # eyes, nose, mouth
    assert region[ys, xs].all()
