"""Unsaved work survives a crash: it is autosaved and offered back at the next start."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from negate_edit import apply_negate
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtWidgets import QMessageBox

from editor.ui import autosave
from editor.ui.main_window import MainWindow


def _window(tmp_path, name="settings.ini") -> MainWindow:
    win = MainWindow(settings=QSettings(str(tmp_path / name), QSettings.Format.IniFormat))
    win.show()
    return win


def _close(win, monkeypatch) -> None:
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()
    win.deleteLater()


def test_autosave_then_recover_after_a_crash(qtbot, tmp_path, monkeypatch, rgb_image):
    from editor.core.imageio import save_image

    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    win = _window(tmp_path)
    win.open_path(path)
    assert not win.autosaver.save_now()  # nothing unsaved yet
    apply_negate(win, qtbot, rgb_image)
    win.document.mask[5:10, 5:10] = 255
    assert win.autosaver.save_now()
    QThreadPool.globalInstance().waitForDone(5000)
    folder = autosave.autosave_dir()
    meta_path = folder / f"{win.autosaver.slot}.json"
    assert meta_path.exists()

    # Pretend the writer crashed: its pid is not running any more.
    meta = json.loads(meta_path.read_text())
    meta["pid"] = 2**22 + 12345
    meta_path.write_text(json.dumps(meta))
    slots = autosave.orphaned_slots(folder)
    assert [slot for slot, _ in slots] == [win.autosaver.slot]

    other = _window(tmp_path, "other.ini")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    other.autosaver.offer_recovery()
    assert other.document is not None
    assert np.array_equal(other.document.image, 255 - rgb_image)
    assert other.document.mask[7, 7] == 255 and other.document.mask[20, 20] == 0
    assert other.document.path == path and other.image_modified
    assert not meta_path.exists()
    _close(other, monkeypatch)
    _close(win, monkeypatch)


def test_saving_discards_the_autosave(qtbot, tmp_path, monkeypatch, rgb_image):
    win = _window(tmp_path)
    from editor.core.document import Document

    win.set_document(Document(image=rgb_image.copy()))
    apply_negate(win, qtbot, rgb_image)
    assert win.autosaver.save_now()
    QThreadPool.globalInstance().waitForDone(5000)
    slot = autosave.autosave_dir() / f"{win.autosaver.slot}.png"
    assert slot.exists()
    win._write(tmp_path / "out.png", win.save_options, becomes_document_path=True)
    assert not slot.exists()
    _close(win, monkeypatch)


@pytest.mark.parametrize("alive", [True, False])
def test_only_dead_writers_count_as_crashed(tmp_path, alive):
    autosave.write_slot(
        tmp_path,
        "s1",
        np.zeros((4, 4, 3), np.uint8),
        np.zeros((4, 4), np.uint8),
        {"pid": os.getppid() if alive else 2**22 + 7, "time": 1.0},
    )
    assert bool(autosave.orphaned_slots(tmp_path)) is (not alive)
