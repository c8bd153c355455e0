"""Face sets: the photos of a new face that face swap works from, kept with their landmarks.

A swap needs several photos of the person (poses and expressions: the method picks the closest,
it does not invent one). The user gathers them once; each photo's 68 landmarks are found once (by
the engine: dlib lives there) and stored here, so later swaps skip the detection. The sets live
in the user data folder and survive restarts:

    faces/index.json              {"version": 1, "sets": [{"id", "name", "added", "photos":
                                   [{"file", "landmarks", "name"}]}]}
    faces/files/<set>/<photo>.jpg the set's own copy of each photo (the original may move away)
    faces/thumbs/<set>-<photo>.png the face cut out of the first usable photo, for the panel

`landmarks` is None until the engine has looked at the photo, [] when it found no face there,
else 68 [x, y] pairs. No Qt here: `editor.ui.face_panel` draws the sets.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import platformdirs

from editor.core.imageio import (
    ImageIOError,
    atomic_write_bytes,
    load_image,
)
from editor.core.library_store import cached_thumbnail, new_id, read_index, write_index
from editor.core.style_library import make_thumbnail

LANDMARK_COUNT = 68
THUMBNAIL_SIZE = 72


class FaceSetError(Exception):
    """A face-set problem whose str is one line fit to show the user (nothing was changed)."""


@dataclass(frozen=True)
class FacePhoto:
    """One photo of a set: its file (relative to the library folder), its landmarks, and the
    name it had when added (to tell the user which one)."""

    file: str
    landmarks: tuple[tuple[float, float], ...] | None = None
    name: str = ""

    @property
    def has_face(self) -> bool:
        return bool(self.landmarks)

    def landmark_array(self) -> np.ndarray:
        """(68, 2) float64 (x, y); only for photos with a face."""
        if not self.landmarks:
            raise ValueError(f"{self.file}: no landmarks")
        return np.asarray(self.landmarks, np.float64)


@dataclass(frozen=True)
class FaceSet:
    """A person's photos; `ready` are those with a face found, `unchecked` still to look at."""

    id: str
    name: str
    photos: tuple[FacePhoto, ...]
    added: float = 0.0

    @property
    def ready(self) -> tuple[FacePhoto, ...]:
        return tuple(p for p in self.photos if p.has_face)

    @property
    def unchecked(self) -> tuple[FacePhoto, ...]:
        return tuple(p for p in self.photos if p.landmarks is None)


def default_face_sets_dir() -> Path:
    return Path(platformdirs.user_data_dir("semedit")) / "faces"


def _landmarks_from_json(raw: object) -> tuple[tuple[float, float], ...] | None:
    if raw is None:
        return None
    points = np.asarray(raw, np.float64)
    if points.size == 0:
        return ()
    if points.shape != (LANDMARK_COUNT, 2) or not np.isfinite(points).all():
        return None  # unusable: look again
    return tuple((float(x), float(y)) for x, y in points)


class FaceSetLibrary:
    """The face sets kept in `folder` (default: the user data folder)."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_face_sets_dir()

    @property
    def index_path(self) -> Path:
        return self.folder / "index.json"

    # --- reading -----------------------------------------------------------------------------

    def sets(self) -> list[FaceSet]:
        """The sets in the order they were made; photos whose file vanished are left out."""
        found = []
        for item in read_index(self.index_path, "sets"):
            try:
                photos = tuple(
                    FacePhoto(
                        str(p["file"]),
                        _landmarks_from_json(p.get("landmarks")),
                        str(p.get("name", "")),
                    )
                    for p in item.get("photos", [])
                )
                entry = FaceSet(
                    str(item["id"]), str(item["name"]), photos, float(item.get("added", 0))
                )
            except (KeyError, TypeError, ValueError):
                continue
            found.append(replace(entry, photos=tuple(p for p in photos if self._exists(p))))
        return found

    def get(self, set_id: str) -> FaceSet | None:
        return next((s for s in self.sets() if s.id == set_id), None)

    def path(self, photo: FacePhoto) -> Path:
        return self.folder / photo.file

    def thumbnail(self, face_set: FaceSet) -> np.ndarray | None:
        """The face of the set's first usable photo, cut out and shrunk; cached on disk."""
        photo = next(iter(face_set.ready), None)
        if photo is None:
            return None

        def make() -> np.ndarray | None:
            try:
                pixels = load_image(self.path(photo)).pixels
            except ImageIOError:
                return None
            return make_thumbnail(_face_crop(pixels, photo.landmark_array()), THUMBNAIL_SIZE)

        cached = self.folder / "thumbs" / f"{face_set.id}-{Path(photo.file).stem}.png"
        return cached_thumbnail(cached, make)

    # --- changes -----------------------------------------------------------------------------

    def create(self, name: str, paths: Iterable[str | Path]) -> tuple[FaceSet, list[str]]:
        """A new set holding copies of the readable images among `paths`; also returns one line
        per file left out. FaceSetError naming them all when none is readable."""
        name = name.strip() or "Face set"
        set_id = self._new_id()
        photos, skipped = self._copy_in(set_id, list(paths))
        face_set = FaceSet(set_id, name, photos, time.time())
        self._write([*self.sets(), face_set])
        return face_set, skipped

    def add_photos(self, set_id: str, paths: Iterable[str | Path]) -> tuple[FaceSet, list[str]]:
        """Like `create`, into an existing set."""
        face_set = self._get(set_id)
        photos, skipped = self._copy_in(set_id, list(paths))
        return self._replace(replace(face_set, photos=face_set.photos + photos)), skipped

    def set_landmarks(self, set_id: str, found: Mapping[str, np.ndarray | None]) -> FaceSet:
        """Store what the engine found: {photo file: (68, 2) landmarks, or None for no face}."""
        face_set = self._get(set_id)
        photos = []
        for photo in face_set.photos:
            if photo.file in found:
                points = found[photo.file]
                marks = () if points is None else _landmarks_from_json(np.asarray(points))
                photo = replace(photo, landmarks=marks)
            photos.append(photo)
        return self._replace(replace(face_set, photos=tuple(photos)))

    def remove_photo(self, set_id: str, file: str) -> FaceSet:
        face_set = self._get(set_id)
        updated = self._replace(
            replace(face_set, photos=tuple(p for p in face_set.photos if p.file != file))
        )
        self._unlink(self.folder / file)
        return updated

    def rename(self, set_id: str, name: str) -> FaceSet:
        name = name.strip()
        if not name:
            raise FaceSetError("A face set needs a name")
        return self._replace(replace(self._get(set_id), name=name))

    def remove(self, set_id: str) -> None:
        """Forget a set and delete its copies of the photos (never the user's originals)."""
        face_set = self._get(set_id)
        self._write([s for s in self.sets() if s.id != set_id])
        for photo in face_set.photos:
            self._unlink(self.path(photo))
        for thumb in (self.folder / "thumbs").glob(f"{set_id}-*.png"):
            self._unlink(thumb)

    # --- helpers -----------------------------------------------------------------------------

    def _exists(self, photo: FacePhoto) -> bool:
        return self.path(photo).is_file()

    def _get(self, set_id: str) -> FaceSet:
        found = self.get(set_id)
        if found is None:
            raise FaceSetError(f"no face set {set_id!r}")
        return found

    def _replace(self, face_set: FaceSet) -> FaceSet:
        self._write([face_set if s.id == face_set.id else s for s in self.sets()])
        return face_set

    def _write(self, sets: list[FaceSet]) -> None:
        items = [
            {
                "id": s.id,
                "name": s.name,
                "added": s.added,
                "photos": [
                    {"file": p.file, "landmarks": p.landmarks, "name": p.name} for p in s.photos
                ],
            }
            for s in sets
        ]
        try:
            write_index(self.index_path, "sets", items)
        except (OSError, ImageIOError) as error:
            raise FaceSetError(f"Cannot write the face sets: {error}") from error

    def _copy_in(
        self, set_id: str, paths: list[str | Path]
    ) -> tuple[tuple[FacePhoto, ...], list[str]]:
        photos, unreadable = [], []
        for source in map(Path, paths):
            try:
                load_image(source)  # readable, not huge, a known format
                relative = f"files/{set_id}/{secrets.token_hex(4)}{source.suffix.lower()}"
                (self.folder / relative).parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(self.folder / relative, source.read_bytes())
            except (ImageIOError, OSError) as error:
                unreadable.append(f"{source.name}: {error}")
                continue
            photos.append(FacePhoto(relative, name=source.name))
        if not photos:
            details = "; ".join(unreadable) or "no files given"
            raise FaceSetError(f"No photo could be added ({details})")
        return tuple(photos), unreadable

    def _new_id(self) -> str:
        return new_id(s.id for s in self.sets())

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass


def _face_crop(pixels: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A square around the landmarks with a third of their size as margin, inside the image."""
    lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
    side = float((hi - lo).max()) * 1.6
    cx, cy = (lo + hi) / 2
    h, w = pixels.shape[:2]
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    return pixels[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else pixels
