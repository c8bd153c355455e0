"""Face swap (Korshunova et al. 2017): replace one face in the image by a new identity, given
several photos of that identity.

quick (`editor.ops.face_swap.quick_swap`): the nearest-pose photo, warped piecewise affinely
over the landmarks, colour matched, Poisson-blended through a landmark face mask; ~1 s.
full (`editor.ops.face_swap_full.swap_full`): from the quick result, an optimisation in a frame
round the face with a content term, landmark-region-restricted neural patches from all the
identity photos, a lighting and a TV term; previews stream; then warped back and blended.

Faces come from dlib (`editor.engine.models.faces`): detected, 68 landmarks, numbered left to
right; the default target is the largest face. `find_faces` (the canvas's outlines) and
`find_photo_faces` (a face set's photos, whose landmarks the set then keeps so a swap skips the
detection) are engine jobs of their own. Pixels outside the blended face are returned
unchanged, in every layout and bit depth (the swap works on 8-bit RGB; only the pixels it changed
are written back).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from editor.core.imageio import ImageIOError, load_image
from editor.core.mask_ops import mask_bbox
from editor.engine.jobs import Run, RunContext, Update
from editor.engine.models.faces import Face, FaceIdentity, FaceLandmarks
from editor.engine.models.vgg import TUNED_ON_CONV3, VGGFeatures
from editor.ops.face_embedding import unit_embedding
from editor.ops.face_swap import (
    apply_affine,
    blend,
    edge_alpha,
    match_colour,
    quick_swap,
    similarity_fit,
    tone_mask,
)
from editor.ops.face_swap_full import FullSettings, face_frame, region_labels, swap_full
from editor.ops.pixels import from_rgb01, to_rgb01, to_rgb8
from editor.ops.steps import mapped

FEATURE_PREFER = TUNED_ON_CONV3
"""The full mode's VGG19: conv1-3 + the wct16x relu4_1 approximation, which it is tuned on. The
full network's real relu3_1 / relu4_1 did not help (benchmarks/bench_faceswap.py --features
old / full, the six pairs, same run): mean distance to the new person 0.401 -> 0.425,
landmarks within 5 % on 4 -> 3 of 6, farther from the original by less (0.67-0.83 ->
0.66-0.82), 1.7x the time."""


@dataclass(frozen=True)
class FaceSwapRequest:
    """image: (H, W[, C]) uint8/uint16 document pixels; photos: the new identity, (h, w, 3)
    uint8 RGB each or image files (decoded on the engine), one face per photo (the largest is
    used); photo_landmarks: their (68, 2) landmarks when known (a face set keeps them), else
    found here; target: the face's index left to right from 0 (users count from 1: the
    CLI and the UI convert), None = the face at `target_point`
    (x, y) (the GUI: where the user clicked or painted), else the largest; quick: warp and blend
    only (else the optimisation follows, which needs the VGG19 weights: the run's `ctx.models`)."""

    image: np.ndarray
    photos: tuple[np.ndarray | Path, ...]
    target: int | None = None
    quick: bool = True
    target_point: tuple[float, float] | None = None
    settings: FullSettings = FullSettings()
    photo_landmarks: tuple[np.ndarray, ...] = ()


class FaceTargetError(ValueError):
    """`target` is not one of the faces found. Indices here count from 0; the UI and the CLI
    show faces counted from 1 and word their own message from `count`."""

    def __init__(self, target: int, count: int) -> None:
        super().__init__(
            f"target {target}: the image has {count} face(s) "
            f"(indices 0..{count - 1}, left to right)"
        )
        self.target, self.count = target, count


def largest_face(faces: list[Face]) -> int:
    """Index of the face with the largest box: the default target, and the face of a photo."""
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
        return largest_face(faces)
    if not 0 <= target < len(faces):
        raise FaceTargetError(target, len(faces))
    return target


def _photo_rgb(photo: np.ndarray | Path) -> np.ndarray:
    if isinstance(photo, np.ndarray):
        return photo
    try:
        return to_rgb8(load_image(photo).pixels)
    except ImageIOError as error:
        raise ValueError(f"cannot read the face photo {Path(photo).name}: {error}") from error


@dataclass(frozen=True)
class FindFacesRequest:
    """The document's pixels, any layout."""

    image: np.ndarray


@dataclass(frozen=True)
class PhotoFacesRequest:
    """A face set's photo files."""

    paths: tuple[Path, ...]


def find_faces(request: FindFacesRequest, ctx: RunContext) -> Run:
    """The document's faces, left to right (for the canvas's outlines); [] when none."""
    yield Update(progress=0.1, message="Finding faces")
    faces = ctx.models.load(FaceLandmarks.id)(to_rgb8(request.image))
    yield Update(progress=1.0, message=f"{len(faces)} face(s)")
    return faces


def find_photo_faces(request: PhotoFacesRequest, ctx: RunContext) -> Run:
    """{str(path): the largest face's (68, 2) landmarks, or None (no face or unreadable)}."""
    detect_faces = ctx.models.load(FaceLandmarks.id)
    found: dict[str, np.ndarray | None] = {}
    paths = request.paths
    for n, path in enumerate(paths):
        yield Update(progress=n / len(paths), message=f"Finding the face in {path.name}")
        try:
            faces = detect_faces(_photo_rgb(path))
        except ValueError:
            faces = []
        found[str(path)] = faces[largest_face(faces)].landmarks if faces else None
        ctx.check_cancelled()
    return found


def run(request: FaceSwapRequest, ctx: RunContext) -> Run:
    """Swap the face; returns the whole image in its own layout and dtype."""
    if not request.photos:
        raise ValueError("no photos of the new face: give at least one")
    known = request.photo_landmarks
    if known and len(known) != len(request.photos):
        raise ValueError(f"{len(known)} landmark sets for {len(request.photos)} photos")
    yield Update(progress=0.05, message="Finding faces")
    detect_faces = ctx.models.load(FaceLandmarks.id)
    rgb = to_rgb8(request.image)
    faces = detect_faces(rgb)
    index = pick_target(faces, request.target, request.target_point)
    ctx.check_cancelled()
    found_share = 0.7 if request.quick else 0.15  # the full mode's optimisation takes the rest
    photos, photo_landmarks = [], []
    for n, photo in enumerate(request.photos, 1):
        photos.append(_photo_rgb(photo))
        if known:
            photo_landmarks.append(np.asarray(known[n - 1], np.float64))
        else:
            found = detect_faces(photos[-1])
            if not found:
                raise ValueError(f"no face found in photo {n} of the new face")
            photo_landmarks.append(found[largest_face(found)].landmarks)
        ctx.check_cancelled()
        progress = 0.05 + (found_share - 0.05) * n / len(request.photos)
        yield Update(progress=progress, message="Finding faces")
    yield Update(progress=found_share + 0.05, message=f"Swapping face {index}")
    landmarks = faces[index].landmarks
    quick = quick_swap(rgb, landmarks, photos, photo_landmarks)
    swapped = quick.image
    if not request.quick:
        features = ctx.models.load(VGGFeatures.id, style=True, prefer=FEATURE_PREFER)
        swapped = yield from _optimise(
            rgb, quick, landmarks, photos, photo_landmarks, features, request, ctx
        )
    changed = np.any(swapped != rgb, axis=2)
    result = request.image.copy()
    box = mask_bbox(changed.view(np.uint8))
    if box is not None:  # converted back to the document's layout round the face only
        where = changed[box.slices]
        converted = from_rgb01(to_rgb01(swapped[box.slices]), request.image[box.slices])
        result[box.slices][where] = converted[where]
    yield Update(progress=1.0, message="Done")
    return result


def _optimise(rgb, swap, landmarks, photos, photo_landmarks, features, request, ctx) -> Run:
    """The full mode on top of the quick result; returns the new (H, W, 3) uint8 image."""
    quick, mask = swap.image, swap.mask
    size = request.settings.size
    frame = face_frame(landmarks, size)
    in_frame = apply_affine(frame, landmarks)
    warp = lambda image, m: cv2.warpAffine(  # noqa: E731
        image, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT_101
    )
    content_frame = warp(rgb, frame)
    content = to_rgb01(content_frame, ctx.device)
    init = to_rgb01(warp(quick, frame), ctx.device)
    content_labels = region_labels(in_frame, size)
    tone = tone_mask(in_frame, (size, size))
    identities, labels = [], []
    for photo, marks in zip(photos, photo_landmarks, strict=True):
        matrix, _ = similarity_fit(marks, in_frame)
        # In the input's colours, as the quick result is: the patches bring structure, not tone.
        aligned = warp(photo, matrix).astype(np.float32)
        aligned = match_colour(aligned, content_frame, tone)
        identities.append(to_rgb01(aligned, ctx.device))
        labels.append(region_labels(apply_affine(matrix, marks), size))
    rect = mask_bbox(mask)
    x, y, w, h = rect.x, rect.y, rect.w, rect.h
    # Image pixels of `rect` -> frame: the frame matrix with the rect's corner as the origin.
    to_frame = frame.copy()
    to_frame[:, 2] += frame[:, :2] @ [x, y]

    def back(frame01: torch.Tensor) -> np.ndarray:
        """`rect` of the quick result plus the brightness of what the optimisation changed,
        warped back: the frame is smaller than the face, so its own pixels would blur it; its
        changes do not."""
        delta = ((frame01 - init)[0].permute(1, 2, 0).cpu().numpy() * 255.0).astype(np.float32)
        # Its brightness only: the optimisation's colour change comes out as red and purple
        # blotches (Adam moves every pixel a little), and the quick result's colour is already
        # matched to the input's skin. Landmarks and identity measure the same (bench_faceswap).
        delta = np.repeat(delta.mean(axis=2, keepdims=True), 3, axis=2)
        delta = cv2.warpAffine(
            delta, to_frame, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        face = quick[rect.slices].astype(np.float32) + delta
        return np.clip(face, 0, 255).round().astype(np.uint8)

    identity, message = None, "Optimising the face"
    if request.settings.identity_weight and not ctx.models.available(FaceIdentity.id):
        # The swap still works, the new person's identity less strongly (docs/faceswap.md).
        message += " (no identity term: `semedit models fetch mobilefacenet` adds it)"
    elif request.settings.identity_weight:
        net = ctx.models.load(FaceIdentity.id)
        with torch.no_grad():
            wanted = torch.stack(
                [
                    unit_embedding(net, to_rgb01(photo, ctx.device), marks)
                    for photo, marks in zip(photos, photo_landmarks, strict=True)
                ]
            ).mean(0)
        identity = (net, torch.nn.functional.normalize(wanted, dim=0), in_frame)
    steps = swap_full(
        features,
        features.available_layers,
        content,
        identities,
        content_labels,
        labels,
        init,
        request.settings,
        cancel=ctx.check_cancelled,
        identity=identity,
    )
    # The preview's soft edge: the final blend's.
    alpha = edge_alpha(mask[rect.slices], landmarks)[..., None]
    below = rgb[rect.slices]
    result = yield from mapped(steps, lambda progress, current: Update(
        progress=0.2 + 0.75 * progress,
        message=message,
        preview=(back(current) * alpha + below * (1 - alpha)).astype(np.uint8),
        preview_rect=rect,
    ))  # fmt: skip
    face = quick.copy()
    face[rect.slices] = back(result)
    return blend(face, rgb, mask, landmarks)
