"""Crash safety: unsaved work is copied to the user data folder and offered back at next start.

The image and mask are snapshotted on the UI thread (a memory copy) and encoded to lossless PNG
on a pool thread, so autosaving a large photo never stalls painting. Each window writes its own
slot, tagged with its process id; a slot whose process is gone is a crash left-over.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import platformdirs
from PySide6.QtCore import QObject, QThreadPool, QTimer
from PySide6.QtWidgets import QMessageBox

from editor.core.document import Document
from editor.core.imageio import (
    ImageIOError,
    SaveOptions,
    load_image,
    load_mask,
    save_image,
    save_mask,
)

if TYPE_CHECKING:
    from editor.ui.main_window import MainWindow

INTERVAL_MS = 60_000


def autosave_dir() -> Path:
    return Path(platformdirs.user_data_dir("semedit")) / "autosave"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_slot(folder: Path, slot: str, image: np.ndarray, mask: np.ndarray, meta: dict) -> None:
    """Write one autosave: image, mask, then the JSON that marks the slot complete."""
    folder.mkdir(parents=True, exist_ok=True)
    save_image(folder / f"{slot}.png", image, options=SaveOptions(png_compression=1))
    save_mask(folder / f"{slot}.mask.png", mask)
    data = json.dumps(meta).encode()
    tmp = folder / f"{slot}.json.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / f"{slot}.json")


def orphaned_slots(folder: Path) -> list[tuple[str, dict]]:
    """Complete autosaves whose writer process is no longer running, newest first."""
    found = []
    for meta_path in folder.glob("*.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("pid") != os.getpid() and not _alive(int(meta.get("pid", 0))):
            found.append((meta_path.stem, meta))
    return sorted(found, key=lambda item: item[1].get("time", 0), reverse=True)


def remove_slot(folder: Path, slot: str) -> None:
    for suffix in (".json", ".png", ".mask.png"):
        (folder / f"{slot}{suffix}").unlink(missing_ok=True)


class Autosaver(QObject):
    """Saves the window's document every minute while it has changes nobody saved."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.slot = uuid.uuid4().hex
        self.folder = autosave_dir()
        self.document: Document | None = None
        self._saved_index: int | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.save_now)
        self.timer.start()

    def set_document(self, document: Document | None) -> None:
        self.discard()
        self.document = document

    def save_now(self) -> bool:
        """Snapshot now and write in the background; False if there was nothing new to save."""
        doc = self.document
        stack = self.window.undo_stack
        if doc is None or not self.window.image_modified or stack.index() == self._saved_index:
            return False
        self._saved_index = stack.index()
        image, mask = doc.image.copy(), doc.mask.copy()
        meta = {
            "pid": os.getpid(),
            "time": time.time(),
            "source": str(doc.path) if doc.path else None,
        }
        folder, slot = self.folder, self.slot
        QThreadPool.globalInstance().start(lambda: self._write(folder, slot, image, mask, meta))
        return True

    @staticmethod
    def _write(folder: Path, slot: str, image: np.ndarray, mask: np.ndarray, meta: dict) -> None:
        try:
            write_slot(folder, slot, image, mask, meta)
        except (ImageIOError, OSError):
            pass  # autosave is best effort; the user's own saves report their errors

    def discard(self) -> None:
        """The work was saved or deliberately dropped: forget this window's autosave."""
        QThreadPool.globalInstance().waitForDone(2000)
        remove_slot(self.folder, self.slot)
        self._saved_index = None

    def offer_recovery(self) -> None:
        """At start-up: offer the newest crash left-over back as an unsaved document."""
        slots = orphaned_slots(self.folder) if self.folder.is_dir() else []
        if not slots or self.window.document is not None:
            return
        slot, meta = slots[0]
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(meta.get("time", 0)))
        name = Path(meta["source"]).name if meta.get("source") else "an untitled image"
        answer = QMessageBox.question(
            self.window,
            "Recover unsaved work?",
            f"SemEdit did not close properly. Recover your work on {name} from {when}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.recover(slot, meta)
        else:
            remove_slot(self.folder, slot)

    def recover(self, slot: str, meta: dict) -> bool:
        try:
            image = load_image(self.folder / f"{slot}.png", max_pixels=2**40).pixels
            mask = load_mask(self.folder / f"{slot}.mask.png", image.shape[:2], max_pixels=2**40)
        except ImageIOError as error:
            self.window.show_error("Cannot recover", str(error))
            return False
        source = Path(meta["source"]) if meta.get("source") else None
        self.window.set_document(Document(image=image, mask=mask, path=source))
        self.window.undo_stack.resetClean()  # recovered pixels are unsaved work
        self.window._update_title()
        remove_slot(self.folder, slot)
        return True
