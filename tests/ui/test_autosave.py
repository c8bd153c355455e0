"""Unsaved work survives a crash: it is autosaved a few seconds after each change and offered
back at the next start; a window still running keeps its autosave to itself."""

from __future__ import annotations

import json
import os
import shutil
import signal

import numpy as np
import pytest
from canvas_input import paint
from killed_writer import AUTOSAVE_WRITER, STALLED_SAVE, Child, unshare_available
from negate_edit import apply_negate
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from editor.core.document import Document
from editor.core.imageio import save_image
from editor.core.style_library import StyleLibrary
from editor.ui import autosave
from editor.ui.dialogs import PreferencesDialog
from editor.ui.main_window import MainWindow
from editor.ui.settings import DEFAULT_AUTOSAVE_SECONDS


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _window(tmp_path, name="settings.ini", **kwargs) -> MainWindow:
    win = MainWindow(settings=QSettings(str(tmp_path / name), QSettings.Format.IniFormat), **kwargs)
    win.show()
    return win


def _close(win, monkeypatch) -> None:
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()
    win.deleteLater()


def _fire(win) -> None:
    """The autosave delay is over (the test's stand-in for waiting it out)."""
    assert win.autosaver.timer.isActive()
    win.autosaver.timer.stop()
    win.autosaver.timer.timeout.emit()
    assert win.autosaver.wait()


def _slot_meta(win) -> dict:
    return json.loads((autosave.autosave_dir() / f"{win.autosaver.slot}.json").read_text())


def _crash_copy(tmp_path):
    """The autosave folder as a crash would leave it: the same files, nobody holding them."""
    copy = tmp_path / "after_crash"
    shutil.copytree(autosave.autosave_dir(), copy)
    return copy


def _say_yes(monkeypatch) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)


@pytest.fixture
def photo(tmp_path, rgb_image):
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    return path


def test_autosave_then_recover_after_a_crash(qtbot, tmp_path, monkeypatch, rgb_image, photo):
    win = _window(tmp_path)
    win.open_path(photo)
    assert not win.autosaver.save_now()  # nothing unsaved yet
    apply_negate(win, qtbot, rgb_image)
    win.document.mask[5:10, 5:10] = 255
    assert win.autosaver.save_now()
    assert win.autosaver.wait()
    folder = autosave.autosave_dir()
    assert (folder / f"{win.autosaver.slot}.json").exists()
    assert autosave.orphaned_slots(folder) == []  # its window is running: not a left-over

    other = _window(tmp_path, "other.ini")
    other.autosaver.folder = _crash_copy(tmp_path)
    _say_yes(monkeypatch)
    other.autosaver.offer_recovery()
    assert other.document is not None
    assert np.array_equal(other.document.image, 255 - rgb_image)
    assert other.document.mask[7, 7] == 255 and other.document.mask[20, 20] == 0
    assert other.document.path == photo and other.image_modified
    assert not list(other.autosaver.folder.glob(f"{win.autosaver.slot}.*"))
    assert other.autosaver.wait()  # the recovered work is protected again, as other's own
    assert other.autosaver.slot != win.autosaver.slot
    assert _slot_meta(other)["image_modified"]
    _close(other, monkeypatch)
    _close(win, monkeypatch)


def test_saving_discards_the_autosave(qtbot, tmp_path, monkeypatch, rgb_image):
    win = _window(tmp_path)
    win.set_document(Document(image=rgb_image.copy()))
    apply_negate(win, qtbot, rgb_image)
    assert win.autosaver.save_now()
    assert win.autosaver.wait()
    slot = autosave.autosave_dir() / f"{win.autosaver.slot}.json"
    assert slot.exists()
    win._write(tmp_path / "out.png", win.save_options, becomes_document_path=True)
    assert not list(autosave.autosave_dir().glob(f"{win.autosaver.slot}.*"))
    _close(win, monkeypatch)


def test_a_mask_only_stroke_is_autosaved_after_the_delay_and_recovered(
    qtbot, tmp_path, monkeypatch, rgb_image, photo
):
    win = _window(tmp_path)
    qtbot.waitExposed(win)
    win.open_path(photo)
    paint(win, [(20, 40), (90, 40)])
    assert win.document.mask[40, 50] == 255 and not win.image_modified
    timer = win.autosaver.timer
    assert timer.isActive() and timer.interval() == DEFAULT_AUTOSAVE_SECONDS * 1000
    assert not (autosave.autosave_dir() / f"{win.autosaver.slot}.json").exists()
    _fire(win)
    meta = _slot_meta(win)
    assert meta["source"] == str(photo) and meta["image_modified"] is False

    other = _window(tmp_path, "other.ini")
    other.autosaver.folder = _crash_copy(tmp_path)
    _say_yes(monkeypatch)
    other.autosaver.offer_recovery()
    assert np.array_equal(other.document.image, rgb_image)
    assert np.array_equal(other.document.mask, win.document.mask)
    assert not other.image_modified  # the pixels are the file's: no save prompt for them
    _close(other, monkeypatch)
    _close(win, monkeypatch)


def test_a_burst_of_changes_is_saved_once_it_pauses_and_at_least_every_few_delays(
    qtbot, tmp_path, monkeypatch, rgb_image, photo
):
    win = _window(tmp_path)
    win.open_path(photo)
    clock = win.autosaver.clock = FakeClock()
    timer = win.autosaver.timer
    delay_ms = DEFAULT_AUTOSAVE_SECONDS * 1000
    doc = win.document
    for step in range(3):
        clock.now += 1.0
        mask = doc.mask.copy()
        mask[step, :10] = 255
        win.push_patch("mask", doc.diff("mask", mask), "Mask", applied=False)
        assert timer.isActive() and timer.interval() == delay_ms  # restarted by each change
    clock.now += (autosave.MAX_WAIT_DELAYS - 1) * DEFAULT_AUTOSAVE_SECONDS
    mask = doc.mask.copy()
    mask[5, :10] = 255
    win.push_patch("mask", doc.diff("mask", mask), "Mask", applied=False)
    # The first change came MAX_WAIT_DELAYS delays ago less 1 s: saved within that second.
    assert timer.interval() == 1000
    _fire(win)
    assert not timer.isActive()
    _close(win, monkeypatch)


def test_the_preference_sets_the_delay_and_zero_turns_autosave_off(
    qtbot, tmp_path, monkeypatch, rgb_image, photo
):
    win = _window(tmp_path)
    win.open_path(photo)
    dialog = PreferencesDialog(win, win.settings)
    assert dialog.autosave.value() == DEFAULT_AUTOSAVE_SECONDS
    dialog.autosave.setValue(10)
    dialog.store()
    assert win.settings.autosave_seconds() == 10
    apply_negate(win, qtbot, rgb_image)
    assert win.autosaver.timer.interval() == 10_000 and win.autosaver.timer.isActive()
    _fire(win)
    assert _slot_meta(win)["image_modified"]

    dialog = PreferencesDialog(win, win.settings)
    dialog.autosave.setValue(0)
    assert dialog.autosave.text() == "Off"
    dialog.store()
    win.undo_stack.undo()
    assert not win.autosaver.timer.isActive()
    _close(win, monkeypatch)


def test_undoing_back_to_the_saved_state_drops_the_autosave(
    qtbot, tmp_path, monkeypatch, rgb_image, photo
):
    win = _window(tmp_path)
    win.open_path(photo)
    apply_negate(win, qtbot, rgb_image)
    _fire(win)
    assert (autosave.autosave_dir() / f"{win.autosaver.slot}.json").exists()
    win.undo_stack.undo()
    win.autosaver.timer.timeout.emit()
    assert not list(autosave.autosave_dir().glob(f"{win.autosaver.slot}.*"))
    _close(win, monkeypatch)


def test_style_regions_are_autosaved_and_restored(qtbot, tmp_path, monkeypatch, photo):
    library = StyleLibrary(tmp_path / "styles")
    red = library.add_pixels(np.full((24, 32, 3), (220, 30, 30), np.uint8), "red")
    win = _window(tmp_path, style_library=library)
    qtbot.waitExposed(win)
    win.style_panel.select(red.id)
    win.open_path(photo)
    paint(win, [(20, 30), (60, 30)])
    assert win.style_edits.add_region()
    paint(win, [(30, 70), (80, 70)])  # the next region, not stored yet: the working mask
    region = win.style_edits.regions[0]
    _fire(win)

    other = _window(tmp_path, "other.ini", style_library=library)
    other.autosaver.folder = _crash_copy(tmp_path)
    _say_yes(monkeypatch)
    other.autosaver.offer_recovery()
    (restored,) = other.style_edits.regions
    assert restored.style.id == red.id and restored.rect == region.rect
    assert np.array_equal(restored.crop, region.crop)
    assert np.array_equal(other.document.mask, win.document.mask)
    _close(other, monkeypatch)
    _close(win, monkeypatch)


@pytest.mark.parametrize("pid_namespace", [False, True], ids=["process", "pid-namespace"])
def test_a_killed_writer_is_offered_back_at_the_next_start(
    qtbot, tmp_path, monkeypatch, pid_namespace
):
    """Inside a PID namespace the writer is PID 1, as a live process's is: only its lock tells
    that it is gone."""
    if pid_namespace and not unshare_available():
        pytest.skip("no unshare --pid here")
    folder = autosave.autosave_dir()
    child = Child(AUTOSAVE_WRITER, [str(folder), "deadbeef"], pid_namespace=pid_namespace)
    try:
        assert child.first_line == ("saved 1" if pid_namespace else f"saved {child.pid}")
        assert autosave.orphaned_slots(folder) == []  # a live writer's slot is not offered
        live = _window(tmp_path, "live.ini")
        qtbot.wait(1)  # start-up runs (the recovery offer would fail the test: no dialog)
        assert live.document is None
        _close(live, monkeypatch)
        child.kill(signal.SIGKILL)
    finally:
        child.close()
    assert [slot for slot, _ in autosave.orphaned_slots(folder)] == ["deadbeef"]
    asked = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    win = _window(tmp_path)  # the next start
    qtbot.waitUntil(lambda: win.document is not None, timeout=5000)
    assert "did not close properly" in asked[0]
    assert tuple(win.document.image[0, 0]) == (250, 20, 20)
    assert win.document.mask[6, 8] == 255 and win.document.mask[20, 20] == 0
    assert not list(folder.glob("deadbeef.*"))
    _close(win, monkeypatch)


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_start_removes_temp_files_a_killed_save_left_beside_recent_files(
    qtbot, tmp_path, monkeypatch, photo
):
    before = photo.read_bytes()
    child = Child(STALLED_SAVE, [str(photo)])
    try:
        (temp,) = photo.parent.glob(".photo.png.semedit-*.tmp")
        child.kill(signal.SIGKILL)
    finally:
        child.close()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("files/recent", [str(photo)])
    settings.sync()
    win = _window(tmp_path)
    qtbot.waitUntil(lambda: not temp.exists(), timeout=5000)
    assert photo.read_bytes() == before
    _close(win, monkeypatch)
