"""The JSON index files of the user's libraries (styles, face sets): read forgivingly, written
atomically.

A library keeps `{"version": 1, "<key>": [ {...}, ... ]}` beside its files. Every change re-reads
the index and writes the whole of it back atomically, so two windows sharing a library never lose
each other's additions, and a crash mid-write leaves the previous index. An unreadable index
reads as empty (the files stay) and is kept once as `index.json.corrupt` when next written.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from editor.core.imageio import atomic_write_bytes

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
