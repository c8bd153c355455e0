"""Where a face is in a photo, from what the photo shows: the skin from chin to hairline.

The landmarks give the jaw, brows, eyes, nose and mouth but not the hairline: a mask guessed from
them (`face_swap.face_mask`, the brows lifted by a share of the face's height) cuts into a high
forehead and reaches into a fringe. Here GrabCut (Rother et al. 2004) separates skin from hair
and background round the face, seeded by the landmarks and by a colour model of the skin they
enclose:

- sure face: the landmarks' hull (jaw and brows), shrunk a little, and skin-coloured pixels
  just above the brows;
- likely face: pixels of the search area whose colour is near that skin's (a Gaussian in
  YCrCb, Mahalanobis distance), which is how the forehead above the brows gets in;
- likely background: the rest of the search area (the jaw a little outside, the forehead up to
  FOREHEAD_REACH of the brow-to-chin height above the brows);
- sure background: outside it.

The face is GrabCut's foreground joined to the sure face, the piece holding it with its holes
(eyes, an open mouth) filled. Pure numpy / OpenCV. dlib's landmark groups (JAW, BROWS, ...) and
`hull_mask` are defined here for the face swap as well.
"""

from __future__ import annotations

import cv2
import numpy as np

JAW = slice(0, 17)
BROWS = slice(17, 27)
LEFT_BROW = slice(17, 22)
RIGHT_BROW = slice(22, 27)
LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)
OUTER_LIPS = slice(48, 60)
INNER = slice(27, 68)
FOREHEAD_REACH = 0.6
"""How far above the brows the face may reach, in brow-to-chin heights."""
SURE_FOREHEAD = 0.25
"""Skin-coloured pixels this far above the brows (same unit) are taken as forehead for sure."""
JAW_REACH = 0.04
"""How far outside the jaw line the face may reach, in face widths."""
WORK_SIDE = 160
"""GrabCut runs on the search area scaled to this side: the face's outline is coarse, and
GrabCut's cost grows with the pixels."""
SKIN_DISTANCE = 3.0
"""Mahalanobis distance in YCrCb within which a pixel reads as the face's skin."""
BRIGHTNESS_SPREAD = 2.5
"""The skin model's spread in brightness, times the seed's (its chroma spread is the seed's)."""


def hull_mask(points: np.ndarray, shape: tuple[int, int], value: int = 255) -> np.ndarray:
    """(H, W) uint8 `value` inside the convex hull of `points` ((N, 2) x, y), 0 elsewhere."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(points).astype(np.int32)), value)
    return mask


def search_outline(landmarks: np.ndarray) -> np.ndarray:
    """(N, 2) polygon the face may reach: the jaw pushed out by JAW_REACH of the face's width,
    the brows lifted by FOREHEAD_REACH of the brow-to-chin height."""
    jaw, brows = landmarks[JAW].copy(), landmarks[BROWS].copy()
    centre = landmarks[INNER].mean(0)
    width = jaw[:, 0].max() - jaw[:, 0].min()
    away = jaw - centre
    jaw += JAW_REACH * width * away / np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-6)
    brows[:, 1] -= FOREHEAD_REACH * (landmarks[8, 1] - brows[:, 1].mean())
    return np.concatenate([jaw, brows[::-1]])


def _skin_likely(ycrcb: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Bool map: colour within SKIN_DISTANCE of the seed pixels' Gaussian (brightness too:
    dark hair can have the skin's chroma)."""
    colour = ycrcb.reshape(-1, 3).astype(np.float64)
    samples = colour[seed.reshape(-1) > 0]
    mean = samples.mean(0)
    # Brightness spread widened: a lit forehead is brighter than the cheeks it is seeded from.
    widen = np.diag([BRIGHTNESS_SPREAD, 1.0, 1.0])
    cov = widen @ np.cov(samples, rowvar=False) @ widen + np.eye(3)
    d = colour - mean
    distance = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    return (distance < SKIN_DISTANCE**2).reshape(ycrcb.shape[:2])


def face_region(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(H, W) uint8 255 on the face's skin from chin to hairline (eyes and mouth included), 0
    elsewhere. image: (H, W, 3) uint8 RGB; landmarks: dlib's 68 (x, y)."""
    height, width = image.shape[:2]
    reach = search_outline(landmarks)
    # A margin of hair and background round the search area: GrabCut's background model
    # learns from it what is not face.
    margin = 0.2 * (reach.max(0) - reach.min(0))
    x0, y0 = np.floor(reach.min(0) - margin).astype(int)
    x1, y1 = np.ceil(reach.max(0) + margin).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return np.zeros((height, width), np.uint8)
    scale = min(1.0, WORK_SIDE / max(x1 - x0, y1 - y0))
    size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
    crop = cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    to_work = lambda p: (p - [x0, y0]) * [size[0] / (x1 - x0), size[1] / (y1 - y0)]  # noqa: E731
    shape = (size[1], size[0])
    allowed = hull_mask(to_work(reach), shape, 1)
    core = hull_mask(to_work(np.concatenate([landmarks[JAW], landmarks[BROWS]])), shape, 1)
    grow = max(1, round(0.04 * size[0]))
    sure = cv2.erode(core, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    # The skin seed: the hull less eyes, brows and mouth (their colours are not skin).
    seed = sure.copy()
    for part in (LEFT_BROW, RIGHT_BROW, LEFT_EYE, RIGHT_EYE, OUTER_LIPS):
        part_mask = cv2.dilate(
            hull_mask(to_work(landmarks[part]), shape, 1), np.ones((3, 3), np.uint8)
        )
        seed[part_mask > 0] = 0
    if seed.sum() < 20:
        seed = sure
    skin = _skin_likely(cv2.cvtColor(crop, cv2.COLOR_RGB2YCrCb), seed)
    marks = np.full(shape, cv2.GC_BGD, np.uint8)
    marks[allowed > 0] = cv2.GC_PR_BGD
    marks[(allowed > 0) & skin] = cv2.GC_PR_FGD
    marks[sure > 0] = cv2.GC_FGD
    # Skin just above the brows is forehead (a fringe is rarely skin-coloured): sure face too,
    # or GrabCut may give a lit forehead to the white hair or wall it resembles.
    band = landmarks[BROWS].copy()
    band[:, 1] -= SURE_FOREHEAD * (landmarks[8, 1] - band[:, 1].mean())
    low = hull_mask(to_work(np.concatenate([landmarks[BROWS], band[::-1]])), shape, 1)
    marks[(low > 0) & skin] = cv2.GC_FGD
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
    try:
        # GrabCut's k-means draws from OpenCV's RNG: the same photo, the same mask.
        cv2.setRNGSeed(0)
        cv2.grabCut(crop, marks, None, background, foreground, 4, cv2.GC_INIT_WITH_MASK)
        face = ((marks == cv2.GC_FGD) | (marks == cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:  # a crop of one colour: GrabCut's models cannot be fitted
        face = core.copy()
    face[(allowed == 0)] = 0
    face |= sure
    face = cv2.morphologyEx(face, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    face = _piece_with(face, sure)
    face = _fill_holes(face)
    full = np.zeros((height, width), np.uint8)
    up = cv2.resize(face * 255, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    full[y0:y1, x0:x1] = np.where(up >= 128, 255, 0).astype(np.uint8)
    return full


def _piece_with(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The connected pieces of `mask` that touch `seed`."""
    count, labels = cv2.connectedComponents(mask, connectivity=4)
    keep = np.unique(labels[(seed > 0) & (mask > 0)])
    keep = keep[keep > 0]
    return np.isin(labels, keep).astype(np.uint8) if count > 1 else mask


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """`mask` with every background pocket not reaching the border filled."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return mask | (1 - flood[1:-1, 1:-1])
