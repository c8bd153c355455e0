"""The style library: pictures (and, later, fast style networks) the user keeps for style edits.

It lives in the user data folder (`platformdirs.user_data_dir("semedit")/styles`) and survives
restarts:

    styles/index.json          {"version": 1, "styles": [{"id", "name", "kind", "file", "added"}]}
    styles/files/<id>.<ext>    the style's own copy of the picture (the original may move away)
    styles/thumbs/<id>-<n>.png thumbnails, n px on the longest side, made once and cached

`kind` says what an entry is: "image" (a picture for the optimisation methods and texture
synthesis). Fast feed-forward style networks will be entries of kind "fast" whose file is the
weights; they are listed beside the pictures and ignored by edits that need a picture.

Every change re-reads the index and writes it back atomically, so two windows sharing the
library never lose each other's additions. No Qt here: the panel in `editor.ui.style_panel`
draws it, and the CLI or tests can use it as is.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import platformdirs
from PIL import Image

from editor.core.imageio import (
    ImageIOError,
    atomic_write_bytes,
    load_image,
    save_image,
)
from editor.core.library_store import (
    cache_thumbnail,
    cached_thumbnail,
    new_id,
    read_index,
    write_index,
)

KINDS = ("image", "fast")
"""image: a style picture; fast: a feed-forward style network's weights (issue #5)."""
THUMBNAIL_SIZE = 96
_FORMAT_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}


class StyleLibraryError(Exception):
    """A library problem whose str is one line fit to show the user (nothing was changed)."""


@dataclass(frozen=True)
class StyleEntry:
    """One style: a unique `id`, the `name` the user sees, its `kind` and its file (relative to
    the library folder)."""

    id: str
    name: str
    kind: str
    file: str
    added: float = 0.0


def default_library_dir() -> Path:
    return Path(platformdirs.user_data_dir("semedit")) / "styles"


def _display_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8/uint16 -> uint8 with 3 (or 4, with alpha) channels, for thumbnails."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels)


def make_thumbnail(pixels: np.ndarray, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """A picture shrunk (never enlarged) to fit `size` x `size`, uint8 RGB or RGBA."""
    rgb = _display_rgb(pixels)
    image = Image.fromarray(rgb, "RGBA" if rgb.shape[2] == 4 else "RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return np.asarray(image).copy()


class StyleLibrary:
    """The styles kept in `folder` (default: the user data folder)."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_library_dir()

    # --- index -------------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.folder / "index.json"

    def _read(self) -> list[StyleEntry]:
        entries = []
        for item in read_index(self.index_path, "styles"):
            try:
                entry = StyleEntry(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    kind=str(item.get("kind", "image")),
                    file=str(item["file"]),
                    added=float(item.get("added", 0.0)),
                )
            except (KeyError, TypeError, ValueError):
                continue
            entries.append(entry)
        return entries

    def _write(self, entries: list[StyleEntry]) -> None:
        try:
            write_index(self.index_path, "styles", [asdict(e) for e in entries])
        except (OSError, ImageIOError) as error:
            raise StyleLibraryError(f"Cannot write the style library: {error}") from error

    # --- reading -----------------------------------------------------------------------------

    def entries(self, kind: str | None = None) -> list[StyleEntry]:
        """The styles in the order they were added (entries whose file vanished are skipped)."""
        return [
            e
            for e in self._read()
            if (kind is None or e.kind == kind) and (self.folder / e.file).is_file()
        ]

    def get(self, style_id: str) -> StyleEntry | None:
        return next((e for e in self.entries() if e.id == style_id), None)

    def path(self, entry: StyleEntry) -> Path:
        return self.folder / entry.file

    def load_pixels(self, entry: StyleEntry | str) -> np.ndarray:
        """The style picture (h, w, C) uint8/uint16, as `load_image` gives it."""
        entry = self._entry(entry)
        if entry.kind != "image":
            raise StyleLibraryError(f"{entry.name} is not a picture")
        try:
            return load_image(self.path(entry)).pixels
        except ImageIOError as error:
            raise StyleLibraryError(str(error)) from error

    def thumbnail(self, entry: StyleEntry | str, size: int = THUMBNAIL_SIZE) -> np.ndarray | None:
        """A small uint8 RGB(A) picture of the style, cached on disk; None if it cannot be made."""
        entry = self._entry(entry)

        def make() -> np.ndarray | None:
            if entry.kind != "image":
                return None
            try:
                return make_thumbnail(load_image(self.path(entry)).pixels, size)
            except ImageIOError:
                return None

        return cached_thumbnail(self.folder / "thumbs" / f"{entry.id}-{size}.png", make)

    # --- changes -----------------------------------------------------------------------------

    def same_picture(self, source: str | Path) -> StyleEntry | None:
        """The entry already holding a byte-identical copy of `source`, if any: dropping a
        painting a second time should find the first, not make a twin of it."""
        try:
            data = Path(source).read_bytes()
        except OSError:
            return None
        for entry in self.entries("image"):
            path = self.path(entry)
            try:
                if path.stat().st_size == len(data) and path.read_bytes() == data:
                    return entry
            except OSError:
                continue
        return None

    def add_file(self, source: str | Path, name: str | None = None) -> StyleEntry:
        """Copy a picture into the library; a picture already there (the same bytes) is not
        copied again and its entry is returned. A file that is not a readable image raises
        StyleLibraryError naming it, and nothing is added."""
        source = Path(source)
        existing = self.same_picture(source)
        if existing is not None:
            return existing
        try:
            loaded = load_image(source)
        except ImageIOError as error:
            raise StyleLibraryError(str(error)) from error
        suffix = source.suffix.lower() or _FORMAT_SUFFIX.get(loaded.format, ".img")
        style_id = self._new_id()
        relative = f"files/{style_id}{suffix}"
        try:
            data = source.read_bytes()
            (self.folder / "files").mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.folder / relative, data)
        except (OSError, ImageIOError) as error:
            raise StyleLibraryError(
                f"Cannot copy {source.name} into the style library: {error}"
            ) from error
        entry = StyleEntry(style_id, name or source.stem, "image", relative, time.time())
        self._append(entry, loaded.pixels)
        return entry

    def add_pixels(self, pixels: np.ndarray, name: str = "Pasted style") -> StyleEntry:
        """Keep a picture given as pixels (a paste), saved losslessly as PNG."""
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4) or min(pixels.shape[:2]) < 1:
            raise StyleLibraryError(f"not a picture: pixels of shape {pixels.shape}")
        style_id = self._new_id()
        relative = f"files/{style_id}.png"
        try:
            (self.folder / "files").mkdir(parents=True, exist_ok=True)
            save_image(self.folder / relative, pixels)
        except (OSError, ImageIOError) as error:
            raise StyleLibraryError(f"Cannot save the pasted style: {error}") from error
        entry = StyleEntry(style_id, name, "image", relative, time.time())
        self._append(entry, pixels)
        return entry

    def add_entry(self, kind: str, source: str | Path, name: str) -> StyleEntry:
        """Copy a file of another kind (a fast style network's weights) into the library."""
        if kind not in KINDS:
            raise StyleLibraryError(f"unknown style kind {kind!r}")
        if kind == "image":
            return self.add_file(source, name)
        source = Path(source)
        style_id = self._new_id()
        relative = f"files/{style_id}{source.suffix.lower()}"
        try:
            (self.folder / "files").mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.folder / relative, source.read_bytes())
        except (OSError, ImageIOError) as error:
            raise StyleLibraryError(
                f"Cannot copy {source.name} into the style library: {error}"
            ) from error
        entry = StyleEntry(style_id, name, kind, relative, time.time())
        self._write([*self._read(), entry])
        return entry

    def rename(self, entry: StyleEntry | str, name: str) -> StyleEntry:
        entry = self._entry(entry)
        name = name.strip()
        if not name:
            raise StyleLibraryError("A style needs a name")
        renamed = StyleEntry(entry.id, name, entry.kind, entry.file, entry.added)
        self._write([renamed if e.id == entry.id else e for e in self._read()])
        return renamed

    def remove(self, entry: StyleEntry | str) -> None:
        """Forget a style and delete the library's copy of it (never the user's original)."""
        entry = self._entry(entry)
        self._write([e for e in self._read() if e.id != entry.id])
        for path in [self.path(entry), *(self.folder / "thumbs").glob(f"{entry.id}-*.png")]:
            try:
                path.unlink()
            except OSError:
                pass

    # --- helpers -----------------------------------------------------------------------------

    def _entry(self, entry: StyleEntry | str) -> StyleEntry:
        if isinstance(entry, StyleEntry):
            return entry
        found = self.get(entry)
        if found is None:
            raise StyleLibraryError(f"no style {entry!r} in the library")
        return found

    def _new_id(self) -> str:
        return new_id(e.id for e in self._read())

    def _append(self, entry: StyleEntry, pixels: np.ndarray) -> None:
        try:
            self._write([*self._read(), entry])
        except StyleLibraryError:
            try:
                self.path(entry).unlink()
            except OSError:
                pass
            raise
        # The thumbnail now, from the pixels already in memory.
        cache_thumbnail(
            self.folder / "thumbs" / f"{entry.id}-{THUMBNAIL_SIZE}.png", make_thumbnail(pixels)
        )
