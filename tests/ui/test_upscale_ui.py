"""Upscaling from the window: viewport preview beside the original, then a new document."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from editor.core.imageio import save_image
from editor.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image, shared_models):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.settings.set_models_dir(str(shared_models))
    win.resize(900, 700)
    win.show()
    qtbot.waitExposed(win)
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    win.open_path(path)
    yield win
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()


def _upscaled(window, qtbot, scale: int = 2) -> None:
    assert window.run_upscale(scale) is not None
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=60000)


def test_upscale_previews_then_opens_a_new_document(window, qtbot, rgb_image, monkeypatch):
    job = window.run_upscale(2)
    assert job is not None
    assert window.canvas.compare_split == 0.5  # before/after split turns on
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=60000)
    assert window.canvas.preview_visible
    assert np.array_equal(window.document.image, rgb_image)  # the original is untouched
    window.job_bar.apply_button.click()
    # The result is this window's document now, fitted to the view, named everywhere alike.
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
    assert [w for w in windows if w.isVisible()] == [window]
    doc = window.document
    assert doc.image.shape == (192, 256, 3) and doc.path is None
    assert window.image_modified and window.windowTitle().startswith("photo_x2.png *")
    viewport = window.canvas.viewport().rect()
    shown = window.canvas.mapFromScene(0, 0, 256, 192).boundingRect()
    assert viewport.contains(shown)  # fitted: the whole image is visible ...
    assert shown.width() >= 0.9 * viewport.width() or shown.height() >= 0.9 * viewport.height()
    assert window.canvas.compare_split is None and not window.canvas.preview_visible
    assert window.history_view.emptyLabel() == "Upscale ×2 of photo.png"
    asked: list[str] = []
    monkeypatch.setattr(
        window, "ask_save_changes", lambda q: asked.append(q) or QMessageBox.StandardButton.Cancel
    )
    window.close()
    assert asked == ["Save the changes to photo_x2.png before quitting?"]
    assert window.isVisible()  # Cancel: the window stays
    # the enlarged image still looks like the original at its own scale
    small = doc.image.reshape(96, 2, 128, 2, 3).mean(axis=(1, 3))
    assert np.abs(small - rgb_image.astype(float)).mean() < 8


def test_apply_asks_about_unsaved_changes_and_staying_keeps_the_result(
    window, qtbot, monkeypatch, rgb_image
):
    window.mask_operation("all")
    window.push_patch(
        "image", window.document.diff("image", 255 - rgb_image), "Negate", applied=False
    )
    _upscaled(window, qtbot)
    asked: list[str] = []
    monkeypatch.setattr(
        window, "ask_save_changes", lambda q: asked.append(q) or QMessageBox.StandardButton.Cancel
    )
    assert window.session.apply() is False
    assert asked == ["Save the changes to photo.png before opening the ×2 result in its place?"]
    assert window.document.path.name == "photo.png"  # stayed ...
    assert window.session.pending is not None  # ... and the result is still offered
    assert window.job_bar.apply_button.isVisibleTo(window)
    monkeypatch.setattr(window, "ask_save_changes", lambda q: QMessageBox.StandardButton.Discard)
    assert window.session.apply() is True
    assert window.document.image.shape == (192, 256, 3)


def test_upscale_can_be_cancelled_and_discarded(window, qtbot, rgb_image):
    window.run_upscale(4)
    with qtbot.waitSignal(window.engine.cancelled, timeout=30000):
        window.session.cancel()
    assert not window.canvas.preview_visible
    assert np.array_equal(window.document.image, rgb_image)
    assert window.document.path.name == "photo.png"
