"""What the user's libraries (styles, face sets) keep on disk beside their files: a JSON index
read forgivingly and written atomically, fresh ids, cached thumbnails.

A library keeps `{"version": 1, "<key>": [ {...}, ... ]}` beside its files. Every change re-reads
the index and writes the whole of it back atomically, so two windows sharing a library never lose
each other's additions, and a crash mid-write leaves the previous index. An unreadable index
reads as empty (the files stay) and is kept once as `index.json.corrupt` when next written.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from editor.core.imageio import (
    ImageIOError,
    SaveOptions,
    atomic_write_bytes,
    load_image,
    save_image,
)

log = logging.getLogger(__name__)

INDEX_VERSION = 1


def read_index(path: Path, key: str) -> list[dict]:
    """The index's `key` list (dict items only); [] when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as error:
        log.warning("library index %s unreadable (%s); starting empty", path, error)
        return []
    items = data.get(key, []) if isinstance(data, dict) else []
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def write_index(path: Path, key: str, items: list[dict]) -> None:
    """Replace the index atomically; raises ImageIOError (one line) when it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # keep a corrupt index for inspection, once
            backup = path.with_suffix(".json.corrupt")
            if not backup.exists():
                os.replace(path, backup)
    data = {"version": INDEX_VERSION, key: items}
    atomic_write_bytes(path, json.dumps(data, indent=1).encode("utf-8"))


def new_id(taken: Iterable[str]) -> str:
    """12 hex digits not among `taken`."""
    taken = set(taken)
    while True:
        candidate = secrets.token_hex(6)
        if candidate not in taken:
            return candidate


def cache_thumbnail(path: Path, thumb: np.ndarray) -> None:
    """Keep a thumbnail on disk; a read-only library only logs (it still shows them)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(path, thumb, options=SaveOptions(png_compression=1))
    except (ImageIOError, OSError) as error:
        log.warning("cannot cache thumbnail %s: %s", path, error)


def cached_thumbnail(path: Path, make: Callable[[], np.ndarray | None]) -> np.ndarray | None:
    """The thumbnail cached at `path`, else `make()` (None: cannot be made), cached."""
    if path.is_file():
        try:
            return load_image(path).pixels
        except ImageIOError:
            pass
    thumb = make()
    if thumb is not None:
        cache_thumbnail(path, thumb)
    return thumb
