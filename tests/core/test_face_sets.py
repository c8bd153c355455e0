"""Face sets: photos copied in, landmarks kept across restarts, bad files named, copies removed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from editor.core.face_sets import FaceSetError, FaceSetLibrary
from editor.core.imageio import save_image


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for n in range(2):
        path = tmp_path / "in" / f"person{n}.png"
        path.parent.mkdir(exist_ok=True)
        save_image(path, rng.integers(0, 255, (120, 100, 3), dtype=np.uint8))
        paths.append(path)
    broken = tmp_path / "in" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    return paths, broken


def _landmarks(offset: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    return np.stack([50 + 30 * np.cos(t), 60 + 40 * np.sin(t)], 1) + offset


def test_a_set_keeps_copies_and_names_the_files_left_out(tmp_path, photos):
    good, broken = photos
    library = FaceSetLibrary(tmp_path / "faces")
    face_set, skipped = library.create("Ann", [*good, broken])
    assert len(face_set.photos) == 2 and len(skipped) == 1 and "broken.jpg" in skipped[0]
    assert face_set.unchecked == face_set.photos and face_set.ready == ()
    for photo, source in zip(face_set.photos, good, strict=True):
        assert library.path(photo).read_bytes() == source.read_bytes()
    with pytest.raises(FaceSetError, match="broken.jpg"):
        library.create("Nobody", [broken])
    assert [s.name for s in library.sets()] == ["Ann"]  # the failed set left nothing


def test_landmarks_survive_a_restart_and_a_photo_without_a_face_is_marked(tmp_path, photos):
    good, _ = photos
    library = FaceSetLibrary(tmp_path / "faces")
    face_set, _ = library.create("Ann", good)
    first, second = (p.file for p in face_set.photos)
    library.set_landmarks(face_set.id, {first: _landmarks(0.5), second: None})
    again = FaceSetLibrary(tmp_path / "faces").get(face_set.id)
    assert [p.file for p in again.ready] == [first] and again.unchecked == ()
    np.testing.assert_allclose(again.ready[0].landmark_array(), _landmarks(0.5))
    assert not again.photos[1].has_face
    assert [p.name for p in again.photos] == ["person0.png", "person1.png"]  # told the user
    thumb = library.thumbnail(again)
    assert thumb is not None and max(thumb.shape[:2]) <= 72


def test_removing_a_set_deletes_its_copies_not_the_originals(tmp_path, photos):
    good, _ = photos
    library = FaceSetLibrary(tmp_path / "faces")
    face_set, _ = library.create("Ann", good)
    copies = [library.path(p) for p in face_set.photos]
    library.remove(face_set.id)
    assert library.sets() == [] and not any(c.exists() for c in copies)
    assert all(p.exists() for p in good)


def test_a_corrupt_index_reads_empty_and_is_kept_aside(tmp_path, photos):
    good, _ = photos
    library = FaceSetLibrary(tmp_path / "faces")
    library.create("Ann", good)
    library.index_path.write_text("{not json")
    assert library.sets() == []
    library.create("Bea", good[:1])
    assert [s.name for s in library.sets()] == ["Bea"]
    assert library.index_path.with_suffix(".json.corrupt").read_text() == "{not json"
    assert json.loads(library.index_path.read_text())["version"] == 1
