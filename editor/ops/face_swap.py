"""Face swap, quick mode: no optimisation, a second or two (Korshunova et al. 2017's pre- and
post-processing around a classical warp).

1. Of the new identity's photos, take the one whose 68 landmarks, after the best similarity
   transform onto the input face's, are closest (nearest pose and expression: the method does not
   invent an expression, it finds the closest one).
2. Warp it over the input face piecewise affinely: one affine map per triangle of a Delaunay
   triangulation of the landmarks (plus points on a margin round the face, so the forehead and
   cheeks move with it).
3. Match its colour to the input face on the face's middle (`tone_mask`: mean and spread per
   channel in Lab, Reinhard et al. 2001), so the skin tone and lighting stay the input's.
4. Blend it in seamlessly (Poisson, `cv2.seamlessClone`) through the face's region
   (`face_region`: the skin from chin to hairline that the input shows, where the photo shows
   skin too), feathered at its edge, so hair and background stay untouched.

Pure numpy/OpenCV: landmarks arrive as (68, 2) arrays of (x, y) (dlib's order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from editor.core.geometry import Rect
from editor.core.mask_ops import mask_bbox
from editor.ops.face_region import BROWS, JAW, LEFT_EYE, RIGHT_EYE, face_region, hull_mask
from editor.ops.region import feathered

FOREHEAD_LIFT = 0.35
"""The brows are lifted by this share of the brow-to-chin height to cover the forehead."""
_BLEND_MARGIN = 8
"""Pixels round the face mask that the Poisson blend may read (it reads the mask's box)."""


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance between the eye centres (the unit face-alignment errors are quoted in)."""
    return float(np.linalg.norm(landmarks[LEFT_EYE].mean(0) - landmarks[RIGHT_EYE].mean(0)))


def face_outline(landmarks: np.ndarray) -> np.ndarray:
    """(N, 2) polygon round the face: the jaw line, then the brows lifted to the forehead."""
    chin_y = landmarks[8, 1]
    brows = landmarks[BROWS].copy()
    height = chin_y - brows[:, 1].mean()
    brows[:, 1] -= FOREHEAD_LIFT * height
    return np.concatenate([landmarks[JAW], brows[::-1]])


def face_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 255 inside the face outline's convex hull, 0 elsewhere."""
    return hull_mask(face_outline(landmarks), shape)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points moved by a (2, 3) affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def similarity_fit(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float]:
    """The similarity transform (rotation, uniform scale, shift) taking `src` points closest to
    `dst` (Umeyama 1991): (2, 3) matrix and the RMS residual in `dst` units."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    correction = np.diag([1.0, d])
    rotation = u @ correction @ vt
    scale = float((s * np.diag(correction)).sum() / max((a**2).sum(), 1e-12))
    matrix = np.hstack([scale * rotation, (md - scale * rotation @ ms)[:, None]])
    moved = apply_affine(matrix, src)
    return matrix, float(np.sqrt(((moved - dst) ** 2).sum(1).mean()))


def nearest_pose(target: np.ndarray, candidates: Sequence[np.ndarray]) -> int:
    """Index of the candidate landmarks closest to `target` after similarity alignment
    (residual in units of the target's inter-ocular distance)."""
    residuals = [similarity_fit(c, target)[1] for c in candidates]
    return int(np.argmin(residuals))


def _frame_points(landmarks: np.ndarray, margin: float = 0.25) -> np.ndarray:
    """Eight points on a box round the face outline, `margin` of its size outside it."""
    outline = face_outline(landmarks)
    (x0, y0), (x1, y1) = outline.min(0), outline.max(0)
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    x0, x1, y0, y1 = x0 - mx, x1 + mx, y0 - my, y1 + my
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    corners = [(x0, y0), (xm, y0), (x1, y0), (x1, ym), (x1, y1), (xm, y1), (x0, y1), (x0, ym)]
    return np.array(corners)


def _control_points(landmarks: np.ndarray) -> np.ndarray:
    return np.concatenate([landmarks, face_outline(landmarks)[17:], _frame_points(landmarks)])


def _triangles(points: np.ndarray) -> list[tuple[int, int, int]]:
    """Delaunay triangles over `points` as index triples."""
    lo = points.min(0) - 10
    hi = points.max(0) + 10
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    for x, y in points:
        subdiv.insert((float(x), float(y)))
    index = {(round(float(x), 3), round(float(y), 3)): i for i, (x, y) in enumerate(points)}
    out = []
    for t in subdiv.getTriangleList():
        corners = [(round(float(t[k]), 3), round(float(t[k + 1]), 3)) for k in (0, 2, 4)]
        if all(c in index for c in corners):
            out.append(tuple(index[c] for c in corners))
    return out


def warp_face(
    photo: np.ndarray,
    photo_landmarks: np.ndarray,
    landmarks: np.ndarray,
    shape: tuple[int, int],
    box: Rect | None = None,
) -> np.ndarray:
    """`photo` warped piecewise affinely so its landmarks land on `landmarks`: (H, W, 3) of
    `shape`, or of `box` of it (the same pixels: only the triangles over it are drawn), zero
    outside the warped triangles."""
    src_points = _control_points(photo_landmarks)
    dst_points = _control_points(landmarks)
    box = box or Rect(0, 0, shape[1], shape[0])
    out = np.zeros((box.h, box.w, 3), np.float32)
    source = photo.astype(np.float32)
    for tri in _triangles(dst_points):
        dst = dst_points[list(tri)].astype(np.float32)
        src = src_points[list(tri)].astype(np.float32)
        x, y, w, h = cv2.boundingRect(np.round(dst).astype(np.int32))
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, shape[1]), min(y + h, shape[0])
        # The triangle's part in `box`: drawn as over the whole image, then cut (the same pixels).
        cut = Rect.from_bounds(x0, y0, x1, y1).intersect(box)
        if cut.empty:
            continue
        if _area(dst) < 0.5:  # a closed lip line: no pixels of its own, its neighbours draw it
            continue
        # The map from the face's pixels back into the photo, computed in that direction: a
        # photo's closed mouth gives inner-lip triangles of zero area, whose forward map has no
        # inverse (the old way, it filled the target's lips with stripes from far away); this
        # way they sample the photo's lip line.
        matrix = cv2.getAffineTransform(dst - np.float32([x0, y0]), src)
        patch = cv2.warpAffine(
            source, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT_101,
        )  # fmt: skip
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(inside, np.round(dst - [x0, y0]).astype(np.int32), 1)
        part = Rect(cut.x - x0, cut.y - y0, cut.w, cut.h).slices
        inside, patch = inside[part], patch[part]
        region = out[Rect(cut.x - box.x, cut.y - box.y, cut.w, cut.h).slices]
        region[inside > 0] = patch[inside > 0]
    return out


def _area(triangle: np.ndarray) -> float:
    (ax, ay), (bx, by), (cx, cy) = triangle
    return 0.5 * abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay))


def tone_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 255 on the face's middle (temples, eyes, cheeks and nose): where the colours
    of two faces are compared. A beard, a moustache or an open mouth lies below it."""
    return hull_mask(landmarks[[0, 1, 15, 16, *range(17, 36)]], shape)


def match_colour(source: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`source` (H, W, 3) float RGB 0..255 with its Lab mean and spread inside `mask` moved to
    `reference`'s there (Reinhard et al. 2001); uint8 out."""
    inside = mask > 0
    src = cv2.cvtColor(np.clip(source, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(
        np.float32
    )
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src[inside].mean(0), src[inside].std(0) + 1e-3
    r_mean, r_std = ref[inside].mean(0), ref[inside].std(0) + 1e-3
    out = (src - s_mean) * (r_std / s_std) + r_mean
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


FEATHER = 0.06
"""The blend's soft edge, in inter-ocular distances."""
TONE_RAMP = 0.4
"""The blend's tone correction fades in over this many inter-ocular distances from the edge."""


@dataclass(frozen=True)
class QuickSwap:
    """The swapped image and the mask it was blended through."""

    image: np.ndarray
    mask: np.ndarray


def swap_mask(
    image: np.ndarray,
    landmarks: np.ndarray,
    photo: np.ndarray,
    photo_landmarks: np.ndarray,
) -> np.ndarray:
    """(H, W) uint8 255 where the new face goes: the input's face region where the photo's face
    region lands too (so neither's hair comes in), and always the landmarks' own hull."""
    mask = hull_mask(np.concatenate([landmarks[JAW], landmarks[BROWS]]), image.shape[:2])
    own = face_region(image, landmarks)
    box = mask_bbox(np.maximum(own, mask))
    if box is None:
        return mask
    # Warped over the input's face box only: an image-sized float copy for a mask that covers
    # a face would cost more than the swap.
    theirs = face_region(photo, photo_landmarks)[..., None].repeat(3, axis=2)
    theirs = warp_face(theirs, photo_landmarks, landmarks, image.shape[:2], box)
    inside = mask[box.slices]
    inside[(own[box.slices] > 0) & (theirs[..., 0] >= 128)] = 255
    return mask


def quick_swap(
    image: np.ndarray,
    landmarks: np.ndarray,
    photos: Sequence[np.ndarray],
    photo_landmarks: Sequence[np.ndarray],
) -> QuickSwap:
    """Replace the face at `landmarks` in `image` ((H, W, 3) uint8 RGB) by the nearest-pose face
    of `photos`. Pixels outside the returned mask are unchanged."""
    chosen = nearest_pose(landmarks, photo_landmarks)
    shape = image.shape[:2]
    photo, marks = photos[chosen], photo_landmarks[chosen]
    mask = swap_mask(image, landmarks, photo, marks)
    # Warped and colour matched round the face only: the blend reads nothing of it elsewhere.
    around = _blend_box(mask)
    warped = warp_face(photo, marks, landmarks, shape, around)
    # Only where the warp put pixels: a face at the image edge may lose part of its outline.
    mask[around.slices][warped.max(axis=2) <= 0] = 0
    box = _blend_box(mask)
    toned = image.copy()
    skin = tone_mask(landmarks - [box.x, box.y], (box.h, box.w))
    in_warped = Rect(box.x - around.x, box.y - around.y, box.w, box.h)
    toned[box.slices] = match_colour(warped[in_warped.slices], image[box.slices], skin)
    return QuickSwap(blend(toned, image, mask, landmarks), mask)


def _blend_box(mask: np.ndarray) -> Rect:
    """The mask's box plus what the blend reads round it."""
    box = mask_bbox(mask)
    if box is None:
        raise ValueError("the face is too small or too close to the edge to swap")
    return box.expand(_BLEND_MARGIN).clip(mask.shape[1], mask.shape[0])


def edge_alpha(mask: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The blend's weights over `mask` (or a crop of it): rising over FEATHER inter-ocular
    distances inside its edge, 0 outside."""
    return feathered(mask, FEATHER * inter_ocular(landmarks))


def blend(
    face: np.ndarray, image: np.ndarray, mask: np.ndarray, landmarks: np.ndarray
) -> np.ndarray:
    """`face` Poisson-blended into `image` through `mask`, its median colour on the face's middle
    brought back to the input's, faded into `image` by `edge_alpha`: nothing outside the mask
    changes."""
    out = poisson_blend(face, image, mask)
    box = mask_bbox(mask)
    if box is None:
        return out
    inside = mask[box.slices] > 0
    middle = inside & (tone_mask(landmarks - [box.x, box.y], (box.h, box.w)) > 0)
    lab = cv2.cvtColor(out[box.slices], cv2.COLOR_RGB2LAB).astype(np.float32)
    if middle.any():
        # Poisson's membrane carries a mismatch on the mask's edge (a strand of the photo's
        # hair, a beard) into the whole face: a paler or darker face than the input's.
        # Medians: glasses' frames, eyes and make-up are not the skin's tone.
        wanted = np.median(cv2.cvtColor(image[box.slices], cv2.COLOR_RGB2LAB)[middle], axis=0)
        shift = wanted - np.median(lab[middle], axis=0)
        ramp = feathered(mask[box.slices], TONE_RAMP * inter_ocular(landmarks))
        lab += ramp[..., None] * shift
    toned = cv2.cvtColor(np.clip(lab, 0, 255).round().astype(np.uint8), cv2.COLOR_LAB2RGB)
    alpha = edge_alpha(mask[box.slices], landmarks)[..., None]
    mixed = toned * alpha + image[box.slices] * (1.0 - alpha)
    out[box.slices] = np.round(mixed).astype(np.uint8)
    return out


def poisson_blend(face: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`face` (H, W, 3) uint8 pasted into `image` through `mask` with Poisson image editing
    (`cv2.seamlessClone`): its gradients inside, the image's colours at the mask's edge. Solved
    on the mask's box only; the rest of the copy of `image` is untouched."""
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
    box = _blend_box(mask)
    face, below, mask = face[box.slices], image[box.slices], mask[box.slices]
    # seamlessClone fails on a mask that touches the border: work on a padded copy.
    pad = 8
    padded = [cv2.copyMakeBorder(a, pad, pad, pad, pad, cv2.BORDER_REFLECT) for a in (face, below)]
    mask = cv2.copyMakeBorder(mask, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(mask)
    center = (x + w // 2, y + h // 2)
    blended = cv2.seamlessClone(padded[0], padded[1], mask, center, cv2.NORMAL_CLONE)
    out = image.copy()
    out[box.slices] = blended[pad:-pad, pad:-pad]
    return out
