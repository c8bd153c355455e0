"""Face swap, quick mode, on ../shared/data/faces (public figures: tests only, never shipped):
the new identity per dlib's face-recognition embedding, the pose kept, the rest untouched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from editor.engine.edits.faceswap import (
    FaceSwapRequest,
    FindFacesRequest,
    PhotoFacesRequest,
    find_faces,
    find_photo_faces,
    run,
)
from editor.engine.jobs import RunContext, drive
from editor.engine.models.faces import SAME_PERSON, detect_faces, embedding
from editor.ops.face_swap import face_mask, inter_ocular
from editor.ops.pixels import to_rgb8 as rgb8


def _load(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture
def faces(shared_data):
    return shared_data / "faces"


def test_faces_are_found_left_to_right_with_68_landmarks(faces):
    image = _load(faces / "multi" / "two_people.jpg")
    found = detect_faces(image)
    assert len(found) == 2
    assert found[0].box[0] < found[1].box[0]
    for face in found:
        assert face.landmarks.shape == (68, 2)
        x, y, w, h = face.box
        inside = (face.landmarks >= [x - w / 2, y - h / 2]) & (
            face.landmarks <= [x + 1.5 * w, y + 1.5 * h]
        )
        assert inside.all()


def test_big_images_are_searched_shrunk_with_landmarks_at_full_size(faces, monkeypatch):
    from editor.engine.models import faces as face_models

    image = _load(faces / "multi" / "two_people.jpg")
    full = detect_faces(image)
    # As if the photo were four times the pixel budget: searched at half size.
    monkeypatch.setattr(face_models, "DETECT_MAX_PIXELS", image.shape[0] * image.shape[1] // 4)
    shrunk = detect_faces(image)
    assert len(shrunk) == len(full) == 2
    for a, b in zip(full, shrunk, strict=True):
        drift = np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean()
        assert drift < 0.05 * inter_ocular(a.landmarks)
    # A copy too small to show any face: searched again at full size.
    monkeypatch.setattr(face_models, "DETECT_MAX_PIXELS", 2000)
    assert len(detect_faces(image)) == 2


def test_quick_swap_gives_the_new_identity_and_keeps_the_pose(faces):
    image = _load(faces / "obama" / "obama.jpg")
    photos = tuple(_load(faces / "biden" / n) for n in ("biden.jpg", "biden2.jpg"))
    updates = []
    out = drive(run(FaceSwapRequest(image, photos, quick=True), RunContext()), updates.append)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert updates[-1].progress == 1.0

    before, after = detect_faces(image)[0], detect_faces(out)[0]
    new = embedding(out, after)
    identity = [embedding(p, detect_faces(p)[0]) for p in photos]
    original = embedding(image, before)
    assert min(np.linalg.norm(new - e) for e in identity) < SAME_PERSON
    assert np.linalg.norm(new - original) > SAME_PERSON
    error = np.linalg.norm(after.landmarks - before.landmarks, axis=1).mean()
    assert error < 0.05 * inter_ocular(before.landmarks)  # pose and expression kept

    near_face = face_mask(before.landmarks, image.shape[:2]) > 0
    x, y, w, h = before.box
    far = np.ones(image.shape[:2], bool)
    far[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = False
    assert np.array_equal(out[far], image[far])
    assert np.abs(out[near_face].astype(int) - image[near_face]).mean() > 5


def test_a_face_set_s_files_and_kept_landmarks_give_the_same_swap(faces, tmp_path):
    # The editor's face sets pass photo files (decoded on the engine) and the landmarks found
    # when the photos were added (no detection per swap): the same result as arrays.
    image = _load(faces / "obama" / "obama.jpg")
    paths = (faces / "biden" / "biden.jpg", faces / "biden" / "biden2.jpg")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"no image")
    found = drive(find_photo_faces(PhotoFacesRequest((*paths, broken)), RunContext()))
    assert found[str(broken)] is None and all(found[str(p)].shape == (68, 2) for p in paths)
    kept = tuple(found[str(p)] for p in paths)
    from_files = drive(run(FaceSwapRequest(image, paths, photo_landmarks=kept), RunContext()))
    arrays = tuple(_load(p) for p in paths)
    assert np.array_equal(from_files, drive(run(FaceSwapRequest(image, arrays), RunContext())))
    with pytest.raises(ValueError, match="1 landmark sets for 2 photos"):
        drive(run(FaceSwapRequest(image, paths, photo_landmarks=kept[:1]), RunContext()))
    assert [len(f.landmarks) for f in drive(find_faces(FindFacesRequest(image), RunContext()))] == [
        68
    ]


def test_other_layouts_keep_their_dtype_and_alpha(faces):
    rgb = _load(faces / "obama" / "obama.jpg")[::2, ::2]
    rgba16 = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 200, np.uint8)], 2)
    rgba16 = rgba16.astype(np.uint16) * 257
    photo = _load(faces / "biden" / "biden.jpg")
    out = drive(run(FaceSwapRequest(rgba16, (photo,)), RunContext()))
    assert out.dtype == np.uint16 and out.shape == rgba16.shape
    assert (out[..., 3] == 200 * 257).all()
    changed = np.any(out[..., :3] != rgba16[..., :3], axis=2)
    assert 0 < changed.mean() < 0.5
    assert np.array_equal(rgb8(out[~changed]), rgb8(rgba16[~changed]))


def test_clear_errors(faces, shared_data):
    photo = _load(faces / "biden" / "biden.jpg")
    landscape = _load(shared_data / "content" / "tubingen.jpg")
    two = _load(faces / "multi" / "two_people.jpg")
    with pytest.raises(ValueError, match="no face found in the image"):
        drive(run(FaceSwapRequest(landscape, (photo,)), RunContext()))
    with pytest.raises(ValueError, match="no face found in photo 2"):
        drive(run(FaceSwapRequest(two, (photo, landscape)), RunContext()))
    with pytest.raises(ValueError, match="target 2: the image has 2 face"):
        drive(run(FaceSwapRequest(two, (photo,), target=2), RunContext()))


def test_full_mode_needs_the_feature_weights(faces, tmp_path):
    from editor.engine.store import ModelMissing

    photo = _load(faces / "biden" / "biden.jpg")
    image = _load(faces / "obama" / "obama.jpg")
    with pytest.raises(ModelMissing, match="vgg19"):
        drive(run(FaceSwapRequest(image, (photo,), quick=False), RunContext.for_folder(tmp_path)))


def test_full_mode_streams_previews_and_keeps_identity_and_pose(faces, shared_models):
    from editor.ops.face_swap_full import FullSettings

    image = _load(faces / "obama" / "obama.jpg")[::2, ::2]  # a smaller photo: a faster test
    photos = tuple(_load(faces / "biden" / n) for n in ("biden.jpg", "biden2.jpg"))
    settings = FullSettings(size=96, iterations=12, preview_every=4)
    request = FaceSwapRequest(image, photos, quick=False, settings=settings)
    updates = []
    out = drive(run(request, RunContext.for_folder(shared_models)), updates.append)
    progress = [u.progress for u in updates]
    assert progress == sorted(progress) and progress[-1] == 1.0
    previews = [u for u in updates if u.preview is not None]
    assert len(previews) >= 2 and previews[0].preview.shape[:2] == (
        previews[0].preview_rect.h,
        previews[0].preview_rect.w,
    )
    before, after = detect_faces(image)[0], detect_faces(out)[0]
    new = embedding(out, after)
    assert min(np.linalg.norm(new - embedding(p, detect_faces(p)[0])) for p in photos) < SAME_PERSON
    assert np.linalg.norm(new - embedding(image, before)) > SAME_PERSON
    error = np.linalg.norm(after.landmarks - before.landmarks, axis=1).mean()
    assert error < 0.05 * inter_ocular(before.landmarks)
    # What the optimisation adds to the quick result is brightness, not colour blotches.
    quick = drive(run(FaceSwapRequest(image, photos), RunContext.for_folder(shared_models))).astype(
        int
    )
    change = out.astype(int) - quick
    moved = np.abs(change).max(axis=2) > 2
    colour = np.abs(change - change.mean(axis=2, keepdims=True)).max(axis=2)
    assert moved.sum() > 500 and np.percentile(colour[moved], 95) <= 3  # rounding, clipping


def test_identity_term_moves_the_face_towards_the_identity_embedding(faces, shared_models):
    import torch

    from editor.engine.models.faces import load_mobilefacenet
    from editor.ops.face_embedding import unit_embedding
    from editor.ops.face_swap_full import FullSettings

    image = _load(faces / "obama" / "obama.jpg")[::2, ::2]
    photo = _load(faces / "biden" / "biden.jpg")
    net = load_mobilefacenet(shared_models)

    def embed(rgb):
        x = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            return unit_embedding(net, x, detect_faces(rgb)[0].landmarks)

    wanted = embed(photo)
    cosines = []
    for weight in (0.0, 4.0):
        settings = FullSettings(size=96, iterations=12, identity_weight=weight)
        request = FaceSwapRequest(image, (photo,), quick=False, settings=settings)
        cosines.append(
            float(embed(drive(run(request, RunContext.for_folder(shared_models)))) @ wanted)
        )
    assert cosines[1] > cosines[0] + 0.02, cosines


def test_the_quick_swap_changes_nothing_outside_its_mask_and_takes_the_forehead(faces):
    from editor.ops.face_swap import quick_swap

    image = _load(faces / "obama" / "obama.jpg")
    photos = tuple(_load(faces / "biden" / n) for n in ("biden.jpg", "biden2.jpg"))
    face = detect_faces(image)[0]
    marks = [detect_faces(p)[0].landmarks for p in photos]
    swap = quick_swap(image, face.landmarks, photos, marks)
    outside = swap.mask == 0
    assert np.array_equal(swap.image[outside], image[outside])  # hair, ears, background
    # The region reaches above the brows (the forehead) but not up to the top of the head.
    top = np.argmax(swap.mask.any(axis=1))
    brows = face.landmarks[17:27, 1].min()
    assert face.box[1] - 0.5 * face.box[3] < top < brows - 10


def test_the_identity_term_is_on_when_its_weights_are_there(faces, shared_models):
    from editor.engine.models.faces import FaceIdentity
    from editor.engine.models.manager import Models
    from editor.engine.store import ModelStore
    from editor.ops.face_swap_full import FullSettings

    assert FullSettings().identity_weight > 0
    image = _load(faces / "obama" / "obama.jpg")[::2, ::2]
    photo = _load(faces / "biden" / "biden.jpg")
    request = FaceSwapRequest(
        image, (photo,), quick=False, settings=FullSettings(size=96, iterations=6)
    )
    store = ModelStore(models_dir=shared_models)
    outs, messages = [], []
    for provided in ({}, {FaceIdentity.id: None}):  # the weights there, then missing
        context = RunContext(models=Models(store, "cpu", provided))
        outs.append(drive(run(request, context), lambda u: messages.append(u.message)))
    assert np.abs(outs[0].astype(int) - outs[1]).max() > 2
    assert any("semedit models fetch mobilefacenet" in m for m in messages)
