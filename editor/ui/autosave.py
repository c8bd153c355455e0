"""Crash safety: unsaved work is copied to the user data folder and offered back at next start.

A few seconds (Preferences ▸ "Autosave after", default 3 s) after each change to the undo stack,
mask-only changes included, the image, the mask and the stored style regions are snapshotted on
the UI thread (a memory copy) and encoded to lossless PNG on a pool thread of their own, so
autosaving a large photo never stalls painting. A burst of changes is saved once, when it pauses,
and at least every few delays while it goes on.

Each window writes its own slot and holds an OS lock on the slot's lock file for as long as it
lives (:mod:`editor.core.file_lock`). The kernel drops that lock when the process ends, however
it ends, so a slot whose lock can be taken is a crash left-over, also in a PID namespace, where
every start may be PID 1 again. A slot on disk:

    SLOT.lock               held open and locked by the writing window
    SLOT.json               written last, atomically: names the files of the newest complete copy
    SLOT.N.png              image of copy N (the previous copy is deleted after N is complete)
    SLOT.N.mask.png         mask of copy N
    SLOT.N.regions.npz      style regions' mask crops of copy N (when there are any)
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import platformdirs
from PySide6.QtCore import QObject, QThreadPool, QTimer
from PySide6.QtWidgets import QMessageBox

from editor.core.document import Document
from editor.core.file_lock import FileLock
from editor.core.geometry import Rect
from editor.core.imageio import (
    ImageIOError,
    SaveOptions,
    load_image,
    load_mask,
    remove_stale_temp_files,
    save_image,
    save_mask,
)

if TYPE_CHECKING:
    from editor.ui.main_window import MainWindow

MAX_WAIT_DELAYS = 4  # while changes keep coming, a copy is still made every 4 delays
FORMAT_VERSION = 2


def autosave_dir() -> Path:
    return Path(platformdirs.user_data_dir("semedit")) / "autosave"


@dataclass(frozen=True)
class StoredRegion:
    """A style region as the autosave keeps it: the style's library id and its mask crop."""

    style_id: str
    style_name: str
    rect: Rect
    crop: np.ndarray  # (rect.h, rect.w) uint8


@dataclass(frozen=True)
class Snapshot:
    """What one autosave writes; taken on the UI thread, written on the pool thread."""

    image: np.ndarray
    mask: np.ndarray
    meta: dict
    regions: tuple[StoredRegion, ...] = ()


def _lock_path(folder: Path, slot: str) -> Path:
    return folder / f"{slot}.lock"


def _slot_files(folder: Path, slot: str) -> list[Path]:
    return [p for p in folder.glob(f"{slot}.*") if p.suffix != ".lock"]


def _remove_files(folder: Path, slot: str, keep: set[str] = frozenset()) -> None:
    for path in _slot_files(folder, slot):
        if path.name not in keep:
            path.unlink(missing_ok=True)


class SlotWriter:
    """One window's autosave slot on disk, locked as live while this process holds it.

    Thread-safe: `write` runs on the pool thread, `remove` on the UI thread; a copy taken before
    the last `remove` is never written after it (the epoch tells them apart)."""

    def __init__(self, folder: Path, slot: str | None = None) -> None:
        self.folder = folder
        self.slot = slot or uuid.uuid4().hex
        self.epoch = 0
        self._lock: FileLock | None = None
        self._generation = 0
        self._mutex = threading.Lock()

    def write(self, snapshot: Snapshot, epoch: int | None = None) -> bool:
        """Write a complete copy: lock first, then image, mask and regions, then the JSON that
        names them. False when the copy was taken before the slot was removed."""
        with self._mutex:
            if epoch is not None and epoch != self.epoch:
                return False
            self.folder.mkdir(parents=True, exist_ok=True)
            if self._lock is None:
                self._lock = FileLock.acquire(_lock_path(self.folder, self.slot))
                if self._lock is None:  # pragma: no cover - a uuid slot nobody else uses
                    raise OSError(f"autosave slot {self.slot} is locked by another process")
            self._generation += 1
            stem = f"{self.slot}.{self._generation}"
            files = {"image": f"{stem}.png", "mask": f"{stem}.mask.png"}
            save_image(
                self.folder / files["image"],
                snapshot.image,
                options=SaveOptions(png_compression=1),
            )
            save_mask(self.folder / files["mask"], snapshot.mask)
            meta = dict(snapshot.meta, version=FORMAT_VERSION, files=files, regions=[])
            if snapshot.regions:
                files["regions"] = f"{stem}.regions.npz"
                _write_regions(self.folder / files["regions"], snapshot.regions)
                meta["regions"] = [
                    {
                        "style": r.style_id,
                        "name": r.style_name,
                        "rect": [r.rect.x, r.rect.y, r.rect.w, r.rect.h],
                    }
                    for r in snapshot.regions
                ]
            tmp = self.folder / f"{self.slot}.json.tmp"
            tmp.write_bytes(json.dumps(meta).encode())
            os.replace(tmp, self.folder / f"{self.slot}.json")
            _remove_files(self.folder, self.slot, keep={f"{self.slot}.json", *files.values()})
            return True

    def remove(self) -> None:
        """Delete the slot and let go of its lock; copies taken before now are never written."""
        with self._mutex:
            self.epoch += 1
            _remove_files(self.folder, self.slot)
            if self._lock is not None:
                self._lock.release(remove=True)
                self._lock = None


def _write_regions(path: Path, regions: tuple[StoredRegion, ...]) -> None:
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **{f"r{i}": r.crop for i, r in enumerate(regions)})
        handle.flush()
        os.fsync(handle.fileno())


def _read_meta(folder: Path, slot: str) -> dict | None:
    try:
        meta = json.loads((folder / f"{slot}.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def claim_orphan(folder: Path, slot: str) -> tuple[FileLock, dict] | None:
    """Take the lock of a complete slot whose writer is gone; None if it is live or incomplete.

    The caller holds the returned lock while it recovers or deletes the slot, so two starting
    windows never both offer the same work."""
    try:
        lock = FileLock.acquire(_lock_path(folder, slot))
    except OSError:  # a folder we cannot write in: nothing we could clean up either
        return None
    if lock is None:
        return None
    meta = _read_meta(folder, slot)  # read under the lock: the writer may just have removed it
    if meta is None:
        lock.release(remove=not (folder / f"{slot}.json").exists())
        return None
    return lock, meta


def orphaned_slots(folder: Path) -> list[tuple[str, dict]]:
    """Complete autosaves whose writer process is no longer running, newest first."""
    found = []
    for meta_path in folder.glob("*.json"):
        claimed = claim_orphan(folder, meta_path.stem)
        if claimed is not None:
            lock, meta = claimed
            lock.release()
            found.append((meta_path.stem, meta))
    return sorted(found, key=lambda item: item[1].get("time", 0), reverse=True)


def remove_slot(folder: Path, slot: str, lock: FileLock | None = None) -> None:
    """Delete a slot's files; with its lock held, the lock file goes last."""
    _remove_files(folder, slot)
    (folder / f"{slot}.json").unlink(missing_ok=True)
    if lock is not None:
        lock.release(remove=True)


def remove_abandoned(folder: Path) -> None:
    """Clean up what crashed writers left besides complete slots: lock files and copies with no
    JSON (a crash before the first copy was complete), and half-written temp files."""
    remove_stale_temp_files(folder)
    for lock_path in folder.glob("*.lock"):
        slot = lock_path.stem
        if (folder / f"{slot}.json").exists():
            continue
        lock = FileLock.acquire(lock_path)
        if lock is not None:
            if not (folder / f"{slot}.json").exists():
                _remove_files(folder, slot)
            lock.release(remove=True)


def read_slot(folder: Path, slot: str, meta: dict) -> Snapshot:
    """Load a slot's newest complete copy. Raises ImageIOError."""
    files = meta.get("files") or {"image": f"{slot}.png", "mask": f"{slot}.mask.png"}  # v1
    image = load_image(folder / files["image"], max_pixels=2**40).pixels
    mask = load_mask(folder / files["mask"], image.shape[:2], max_pixels=2**40)
    regions: list[StoredRegion] = []
    if files.get("regions"):
        try:
            with np.load(folder / files["regions"]) as crops:
                for i, info in enumerate(meta.get("regions", [])):
                    regions.append(
                        StoredRegion(
                            info["style"], info["name"], Rect(*info["rect"]), crops[f"r{i}"]
                        )
                    )
        except (OSError, ValueError, KeyError, TypeError):
            regions = []  # the image and mask are what matters most; keep them
    return Snapshot(image, mask, meta, tuple(regions))


class Autosaver(QObject):
    """Copies the window's unsaved work a few seconds after each change; offers it back after a
    crash. `timer` (single shot) and `clock` are attributes, so tests can drive them."""

    def __init__(self, window: MainWindow, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(window)
        self.window = window
        self.folder = autosave_dir()
        self.writer = SlotWriter(self.folder)
        self.document: Document | None = None
        self.clock = clock
        self._dirty = False  # changed since the last copy was taken
        self._first_change: float | None = None  # when the oldest change not yet copied came
        self._pending: tuple[Snapshot, int] | None = None
        self._pending_lock = threading.Lock()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # copies in order, one at a time
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._on_timeout)
        window.undo_stack.indexChanged.connect(self.note_change)

    @property
    def slot(self) -> str:
        return self.writer.slot

    def delay_s(self) -> int:
        return self.window.settings.autosave_seconds()

    def set_document(self, document: Document | None) -> None:
        self.discard()
        self.document = document

    def note_change(self, *_) -> None:
        """The undo stack moved (an edit, a stroke, a mask change, undo, redo): copy soon.

        Each change restarts the delay, so a burst is copied once, when it pauses; but never
        later than MAX_WAIT_DELAYS delays after its first change."""
        self._dirty = True
        delay = self.delay_s()
        if delay <= 0 or self.document is None:
            self.timer.stop()
            return
        now = self.clock()
        if self._first_change is None:
            self._first_change = now
        left = self._first_change + MAX_WAIT_DELAYS * delay - now
        self.timer.start(int(1000 * max(0.0, min(delay, left))))

    def _on_timeout(self) -> None:
        if self.delay_s() > 0:
            self.save_now()

    def _has_work(self) -> bool:
        """Whether there is anything a crash would lose: changed pixels, a mask, regions."""
        doc = self.document
        return doc is not None and (
            self.window.image_modified or bool(doc.mask.any()) or bool(self._regions())
        )

    def _regions(self) -> tuple[StoredRegion, ...]:
        style_edits = getattr(self.window, "style_edits", None)
        if style_edits is None:
            return ()
        return tuple(
            StoredRegion(r.style.id, r.style.name, r.rect, r.crop.copy())
            for r in style_edits.regions
        )

    def save_now(self) -> bool:
        """Snapshot now and write in the background; False if there was nothing new to save."""
        self._first_change = None
        doc = self.document
        if doc is None or not self._dirty:
            return False
        self._dirty = False
        if not self._has_work():  # undone back to the saved state: nothing to recover
            self._drop_pending()
            self.writer.remove()
            return False
        meta = {
            "pid": os.getpid(),  # for people reading the folder; liveness is the lock
            "time": time.time(),
            "source": str(doc.path) if doc.path else None,
            "image_modified": self.window.image_modified,
        }
        snapshot = Snapshot(doc.image.copy(), doc.mask.copy(), meta, self._regions())
        with self._pending_lock:
            queued = self._pending is not None
            self._pending = (snapshot, self.writer.epoch)  # a newer copy replaces a waiting one
        if not queued:
            self.pool.start(self._write_pending)
        return True

    def _write_pending(self) -> None:
        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            self.writer.write(*pending)
        except (ImageIOError, OSError):
            pass  # autosave is best effort; the user's own saves report their errors

    def _drop_pending(self) -> None:
        with self._pending_lock:
            self._pending = None

    def wait(self, msecs: int = 30_000) -> bool:
        """Until the copies taken so far are on disk (tests, and before quitting)."""
        return self.pool.waitForDone(msecs)

    def discard(self) -> None:
        """The work was saved or deliberately dropped: forget this window's autosave."""
        self.timer.stop()
        self._first_change = None
        self._dirty = False
        self._drop_pending()
        self.writer.remove()  # waits for a copy being written, and outdates queued ones

    # --- start-up ------------------------------------------------------------------------------

    def offer_recovery(self) -> None:
        """At start-up: tidy up after crashed saves, then offer the newest crash left-over back
        as an unsaved document."""
        self._remove_stale_files()
        if self.window.document is not None or not self.folder.is_dir():
            return
        for slot, _ in orphaned_slots(self.folder):
            claimed = claim_orphan(self.folder, slot)
            if claimed is not None:  # not taken by another window starting meanwhile
                break
        else:
            return
        lock, meta = claimed
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
            self.recover(slot, meta, lock)
        else:
            remove_slot(self.folder, slot, lock)

    def _remove_stale_files(self) -> None:
        """Temp files left by saves that were killed: in the autosave folder and beside the
        files opened lately (where the user's saves go)."""
        if self.folder.is_dir():
            with contextlib.suppress(OSError):
                remove_abandoned(self.folder)
        folders = {Path(p).parent for p in self.window.settings.recent_files()}
        for folder in folders:
            remove_stale_temp_files(folder)

    def recover(self, slot: str, meta: dict, lock: FileLock | None = None) -> bool:
        """Open a left-over slot as this window's unsaved document, then delete the slot (its
        content is this window's own autosave from here on)."""
        try:
            stored = read_slot(self.folder, slot, meta)
        except ImageIOError as error:
            if lock is not None:
                lock.release()
            self.window.show_error("Cannot recover", str(error))
            return False
        source = Path(meta["source"]) if meta.get("source") else None
        self.window.set_document(Document(image=stored.image, mask=stored.mask, path=source))
        missing = self._restore_regions(stored.regions)
        if meta.get("image_modified", True):
            self.window.undo_stack.resetClean()  # recovered pixels are unsaved work
        self.window._update_title()
        remove_slot(self.folder, slot, lock)
        self._dirty = True
        self.save_now()  # protected again at once, under this window's slot
        if missing:
            self.window.statusBar().showMessage(
                f"Recovered; {missing} style region(s) not restored: their style is no longer "
                "in the Styles panel",
                10000,
            )
        return True

    def _restore_regions(self, regions: tuple[StoredRegion, ...]) -> int:
        """Put the style regions back; returns how many were dropped for a missing style."""
        style_edits = getattr(self.window, "style_edits", None)
        if style_edits is None or not regions:
            return len(regions)
        entries = {e.id: e for e in self.window.style_panel.entries()}
        missing = 0
        for region in regions:
            entry = entries.get(region.style_id)
            if entry is None:
                missing += 1
                continue
            style_edits.restore_region(entry, region.rect, region.crop)
        return missing
