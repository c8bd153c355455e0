"""Style library: add (file, pixels), list, rename, remove, thumbnails, persistence, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from editor.core.imageio import load_image, save_image
from editor.core.style_library import (
    THUMBNAIL_SIZE,
    StyleLibrary,
    StyleLibraryError,
    default_library_dir,
)


@pytest.fixture
def style_file(tmp_path, rgb_image):
    path = tmp_path / "starry_night.png"
    save_image(path, rgb_image)
    return path


def test_add_file_copies_it_in_and_a_new_library_sees_it(tmp_path, style_file, rgb_image):
    lib = StyleLibrary(tmp_path / "lib")
    entry = lib.add_file(style_file)
    assert entry.name == "starry_night" and entry.kind == "image"
    style_file.unlink()  # the library keeps its own copy
    again = StyleLibrary(tmp_path / "lib")
    assert [e.id for e in again.entries()] == [entry.id]
    assert np.array_equal(again.load_pixels(entry.id), rgb_image)
    index = json.loads((tmp_path / "lib" / "index.json").read_text())
    assert index["version"] == 1 and index["styles"][0]["kind"] == "image"


def test_the_same_picture_twice_is_one_entry(tmp_path, style_file, rgb_image):
    lib = StyleLibrary(tmp_path / "lib")
    first = lib.add_file(style_file)
    copy = tmp_path / "copy of starry.png"
    copy.write_bytes(style_file.read_bytes())
    assert lib.same_picture(copy) == first
    assert lib.add_file(copy) == first and len(lib.entries()) == 1
    assert len(list((tmp_path / "lib" / "files").iterdir())) == 1  # no second copy on disk
    other = tmp_path / "other.png"
    save_image(other, rgb_image[::-1].copy())
    assert lib.same_picture(other) is None
    assert lib.add_file(other) != first and len(lib.entries()) == 2


def test_default_folder_is_in_the_user_data_dir(tmp_path):
    assert "semedit" in str(default_library_dir()) and default_library_dir().name == "styles"
    assert StyleLibrary().entries() == []  # isolated XDG dirs: empty


def test_a_corrupt_file_raises_and_adds_nothing(tmp_path, style_file):
    lib = StyleLibrary(tmp_path / "lib")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(style_file.read_bytes()[:100])
    with pytest.raises(StyleLibraryError, match="broken.jpg"):
        lib.add_file(bad)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(StyleLibraryError, match="notes.txt"):
        lib.add_file(text)
    assert lib.entries() == []
    files = lib.folder / "files"
    assert not files.exists() or not any(files.iterdir())


def test_add_pixels_rename_remove(tmp_path, rgb_image):
    lib = StyleLibrary(tmp_path / "lib")
    a = lib.add_pixels(rgb_image)
    b = lib.add_pixels(rgb_image[:20, :30], name="small")
    assert [e.name for e in lib.entries()] == ["Pasted style", "small"]
    renamed = lib.rename(a.id, "  waves ")
    assert renamed.name == "waves" and lib.get(a.id).name == "waves"
    with pytest.raises(StyleLibraryError):
        lib.rename(a.id, "   ")
    path = lib.path(b)
    lib.thumbnail(b)
    lib.remove(b.id)
    assert [e.id for e in StyleLibrary(tmp_path / "lib").entries()] == [a.id]
    assert not path.exists() and not list((lib.folder / "thumbs").glob(f"{b.id}-*"))
    with pytest.raises(StyleLibraryError):
        lib.remove(b.id)


def test_thumbnail_is_small_and_cached(tmp_path, rgb_image):
    lib = StyleLibrary(tmp_path / "lib")
    big = np.repeat(np.repeat(rgb_image, 3, axis=0), 3, axis=1)  # 288 x 384
    entry = lib.add_pixels(big)
    thumb = lib.thumbnail(entry)
    assert thumb.dtype == np.uint8 and max(thumb.shape[:2]) == THUMBNAIL_SIZE
    cached = lib.folder / "thumbs" / f"{entry.id}-{THUMBNAIL_SIZE}.png"
    assert np.array_equal(load_image(cached).pixels, thumb)
    # 16-bit gray works too
    gray16 = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50, 1) * 30).astype(np.uint16)
    thumb = lib.thumbnail(lib.add_pixels(gray16))
    assert thumb.shape == (40, 50, 3) and thumb.dtype == np.uint8


def test_entries_of_another_kind_are_kept_apart(tmp_path, rgb_image):
    lib = StyleLibrary(tmp_path / "lib")
    weights = tmp_path / "mosaic.safetensors"
    weights.write_bytes(b"weights")
    lib.add_pixels(rgb_image, "picture")
    fast = lib.add_entry("fast", weights, "Mosaic")
    assert [e.name for e in lib.entries("image")] == ["picture"]
    assert [e.kind for e in lib.entries()] == ["image", "fast"]
    with pytest.raises(StyleLibraryError):
        lib.load_pixels(fast)
    with pytest.raises(StyleLibraryError):
        lib.add_entry("video", weights, "x")


def test_a_corrupt_index_starts_empty_and_is_kept_aside(tmp_path, rgb_image):
    lib = StyleLibrary(tmp_path / "lib")
    lib.folder.mkdir(parents=True)
    lib.index_path.write_text("{not json")
    assert lib.entries() == []
    lib.add_pixels(rgb_image)
    assert len(lib.entries()) == 1
    assert (lib.folder / "index.json.corrupt").read_text() == "{not json"
