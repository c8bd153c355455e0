"""Quick face swap geometry: similarity fit, nearest pose, face mask, piecewise affine warp."""

from __future__ import annotations

import numpy as np
from synthetic_face import landmarks as _face

from editor.ops.face_swap import face_mask, nearest_pose, similarity_fit, warp_face


def test_similarity_fit_recovers_rotation_scale_and_shift():
    src = _face()
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    matrix, residual = similarity_fit(src, dst)
    assert residual < 1e-6
    np.testing.assert_allclose(matrix[:, :2], scale * rot, atol=1e-6)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-5)


def test_nearest_pose_ignores_position_and_size_but_not_expression():
    target = _face(0)
    open_mouth = target.copy()
    open_mouth[48:, 1] += np.where(open_mouth[48:, 1] > 150, 15, 0)
    moved_same = target * 0.6 + 40  # same expression, other place and size
    assert nearest_pose(target, [open_mouth, moved_same]) == 1


def test_face_mask_covers_the_landmarks_and_the_forehead():
    landmarks = _face()
    mask = face_mask(landmarks, (260, 220))
    xs, ys = np.round(landmarks).astype(int).T
    assert (mask[ys, xs] == 255).mean() > 0.9  # hull edges may fall just outside
    assert mask[60, 100] == 255  # above the brows: the forehead
    assert mask[5, 5] == 0 and mask[250, 10] == 0


def test_warp_puts_the_photo_landmarks_on_the_target_landmarks():
    target = _face(0)
    photo_landmarks = target * 0.8 + np.array([20.0, 15.0])
    photo_landmarks[48:] += np.array([3.0, 4.0])  # a different mouth
    photo = np.zeros((260, 220, 3), np.uint8)
    tip = np.round(photo_landmarks[30]).astype(int)  # the nose tip, marked white
    photo[tip[1] - 2 : tip[1] + 3, tip[0] - 2 : tip[0] + 3] = 255
    warped = warp_face(photo, photo_landmarks, target, (260, 220))
    ys, xs = np.nonzero(warped[..., 0] > 128)
    centre = np.array([xs.mean(), ys.mean()])
    assert np.linalg.norm(centre - target[30]) < 1.5


def test_a_closed_mouth_in_the_photo_paints_lips_into_an_open_one():
    # The photo's inner-lip points coincide (a closed mouth): its inner-mouth triangles have no
    # area. Their pixels in the target must come from the photo's lip line, not from far away
    # (a zero-area triangle's forward map has no inverse: stripes of background colour).
    import cv2

    target = _face(0)
    centre = np.array([100.0, 150.0])
    upper = [centre + (dx, -4.0) for dx in (-12.0, 0.0, 12.0)]
    lower = [centre + (dx, 4.0) for dx in (12.0, 0.0, -12.0)]
    target[60], target[64] = centre - (20.0, 0.0), centre + (20.0, 0.0)
    target[61:64], target[65:68] = upper, lower  # an open inner mouth, 8 px high
    photo_landmarks = target.copy()
    photo_landmarks[61:64, 1] = photo_landmarks[65:68, 1] = centre[1]  # closed
    photo = np.zeros((260, 220, 3), np.uint8)
    photo[:] = (40, 60, 230)  # blue background
    cv2.ellipse(photo, (100, 120), (70, 90), 0, 0, 360, (210, 160, 130), -1)  # skin
    cv2.ellipse(photo, (100, 150), (26, 9), 0, 0, 360, (190, 40, 50), -1)  # red lips
    warped = warp_face(photo, photo_landmarks, target, (260, 220))
    inner = np.zeros((260, 220), np.uint8)
    cv2.fillConvexPoly(inner, np.round(target[60:68]).astype(np.int32), 1)
    inner = cv2.erode(inner, np.ones((3, 3), np.uint8)) > 0
    lips = warped[inner]
    assert inner.sum() > 100
    assert (lips[:, 0] > 150).all() and (lips[:, 2] < 100).all(), lips[lips[:, 2] >= 100][:5]


def test_warp_over_a_box_draws_the_same_pixels_as_the_whole_warp():
    from editor.core.geometry import Rect

    target = _face(0)
    photo_landmarks = target * 0.8 + np.array([20.0, 15.0])
    photo = np.random.default_rng(0).integers(0, 256, (260, 220, 3), dtype=np.uint8)
    whole = warp_face(photo, photo_landmarks, target, (260, 220))
    box = Rect(37, 51, 90, 120)  # cuts through triangles
    assert np.array_equal(
        warp_face(photo, photo_landmarks, target, (260, 220), box), whole[box.slices]
    )
