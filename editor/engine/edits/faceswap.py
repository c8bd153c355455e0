"""Face swap (Korshunova et al. 2017): replace one face in the image by a new identity, given
several photos of that identity.

Built so far: the quick mode (`editor.ops.face_swap.quick_swap`: nearest-pose photo, piecewise
affine warp over the landmarks, colour matched, Poisson-blended through a landmark face mask).
The full mode, the optimisation with landmark-region-restricted neural patches, is not built yet
and asking for it is a clear error (issue 8).

Faces come from dlib (`editor.engine.face_models`): detected, 68 landmarks, numbered left to
right; the default target is the largest face. Pixels outside the blended face are returned
unchanged, in every layout and bit depth (the swap works on 8-bit RGB; only the pixels it changed
are written back).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from editor.engine.edits.pixels import from_rgb01, to_rgb01
from editor.engine.face_models import Face, detect_faces
from editor.engine.jobs import Run, RunContext, Update
from editor.ops.face_swap import quick_swap


@dataclass(frozen=True)
class FaceSwapRequest:
    """image: (H, W[, C]) uint8/uint16 document pixels; photos: the new identity, (h, w, 3)
    uint8 RGB each, one face per photo (the largest is used); target: the face's index left to
    right, None = the face at `target_point` (x, y) (the GUI: where the user painted), else the
    largest; quick: the quick mode (the full mode is not built yet)."""

    image: np.ndarray
    photos: tuple[np.ndarray, ...]
    target: int | None = None
    quick: bool = True
    target_point: tuple[float, float] | None = None


def rgb8(pixels: np.ndarray) -> np.ndarray:
    """Document pixels (any layout, 8 or 16 bit) -> (H, W, 3) uint8 RGB, what dlib and the swap
    take."""
    rgb01 = to_rgb01(pixels)[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(np.rint(rgb01 * 255.0).astype(np.uint8))


def _largest(faces: list[Face]) -> int:
    return int(np.argmax([f.box[2] * f.box[3] for f in faces]))


def pick_target(
    faces: list[Face], target: int | None, point: tuple[float, float] | None = None
) -> int:
    """The index to swap: `target` checked against the faces found, else the face whose box
    centre is nearest `point`, else the largest face."""
    if not faces:
        raise ValueError("no face found in the image (dlib's detector needs a face of ~80 px)")
    if target is None and point is not None:
        centres = np.array([(x + w / 2, y + h / 2) for x, y, w, h in (f.box for f in faces)])
        return int(np.argmin(np.linalg.norm(centres - np.asarray(point), axis=1)))
    if target is None:
        return _largest(faces)
    if not 0 <= target < len(faces):
        raise ValueError(
            f"target {target}: the image has {len(faces)} face(s), numbered 0..{len(faces) - 1} "
            "from left to right"
        )
    return target


def run(request: FaceSwapRequest, ctx: RunContext) -> Run:
    """Swap the face; returns the whole image in its own layout and dtype."""
    if not request.quick:
        raise ValueError("the full (optimisation) face swap is not built yet; use the quick mode")
    if not request.photos:
        raise ValueError("no photos of the new face: give at least one")
    yield Update(progress=0.05, message="Finding faces")
    rgb = rgb8(request.image)
    faces = detect_faces(rgb)
    index = pick_target(faces, request.target, request.target_point)
    ctx.check_cancelled()
    photo_landmarks = []
    for n, photo in enumerate(request.photos, 1):
        found = detect_faces(photo)
        if not found:
            raise ValueError(f"no face found in photo {n} of the new face")
        photo_landmarks.append(found[_largest(found)].landmarks)
        ctx.check_cancelled()
        yield Update(progress=0.1 + 0.6 * n / len(request.photos), message="Finding faces")
    yield Update(progress=0.75, message=f"Swapping face {index}")
    swapped, _ = quick_swap(rgb, faces[index].landmarks, list(request.photos), photo_landmarks)
    changed = np.any(swapped != rgb, axis=2)
    result = request.image.copy()
    if changed.any():
        converted = from_rgb01(
            torch.from_numpy(swapped.astype(np.float32) / 255.0).permute(2, 0, 1)[None],
            request.image,
        )
        result[changed] = converted[changed]
    yield Update(progress=1.0, message="Done")
    return result
