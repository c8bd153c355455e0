"""Upscaling from the window: viewport preview beside the original, then a new document."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from editor.core.imageio import save_image
from editor.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image, shared_models):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.settings.set_models_dir(str(shared_models))
    win.show()
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    win.open_path(path)
    yield win
    for w in [*win._result_windows, win]:
        monkeypatch.setattr(w, "ask_save_changes", lambda: QMessageBox.StandardButton.Discard)
        w.close()


def test_upscale_previews_then_opens_a_new_document(window, qtbot, rgb_image):
    job = window.run_upscale(2)
    assert job is not None
    assert window.canvas.compare_split == 0.5  # before/after split turns on
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=60000)
    assert window.canvas.preview_visible
    assert np.array_equal(window.document.image, rgb_image)  # the original is untouched
    window.job_bar.apply_button.click()
    assert len(window._result_windows) == 1
    result = window._result_windows[0]
    assert result.document.image.shape == (192, 256, 3)
    assert result.image_modified and "photo_x2.png" in result.windowTitle()
    # the enlarged image still looks like the original at its own scale
    small = result.document.image.reshape(96, 2, 128, 2, 3).mean(axis=(1, 3))
    assert np.abs(small - rgb_image.astype(float)).mean() < 8


def test_upscale_can_be_cancelled_and_discarded(window, qtbot):
    window.run_upscale(4)
    with qtbot.waitSignal(window.engine.cancelled, timeout=30000):
        window.session.cancel()
    assert not window.canvas.preview_visible
    assert window._result_windows == []
