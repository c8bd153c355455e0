"""Upscaling from the window: viewport preview beside the original, then a new document."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch.nn.functional as F
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from shown_window import shown_window

from editor.core.imageio import save_image
from editor.engine.edits import upscale
from editor.engine.models.manager import Models
from editor.engine.models.upscalers import SRModelChoice
from editor.engine.worker import Engine
from editor.ui import upscale_edits
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


class GatedUpscaler:
    """A bicubic stand-in that waits for the test before each tile, so the test pans while a
    tile is in progress (no timing involved)."""

    overlap = 0

    def __init__(self, scale: int) -> None:
        self.scale, self.calls, self.gate = scale, 0, threading.Semaphore(0)

    def __call__(self, x):
        self.calls += 1
        if not self.gate.acquire(timeout=30):
            raise TimeoutError("the test never let this tile through")
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)


def _wheel(canvas, steps: int) -> None:
    pos = QPointF(canvas.viewport().rect().center())
    event = QWheelEvent(
        pos,
        canvas.viewport().mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def _middle_drag(canvas, start: QPointF, end: QPointF) -> None:
    vp = canvas.viewport()
    middle, none = Qt.MouseButton.MiddleButton, Qt.MouseButton.NoButton
    for kind, pos, button, held in [
        (QMouseEvent.Type.MouseButtonPress, start, middle, middle),
        (QMouseEvent.Type.MouseMove, (start + end) / 2, none, middle),
        (QMouseEvent.Type.MouseMove, end, none, middle),
        (QMouseEvent.Type.MouseButtonRelease, end, middle, none),
    ]:
        event = QMouseEvent(
            kind, pos, vp.mapToGlobal(pos), button, held, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(vp, event)


def test_pan_and_zoom_reach_the_running_upscale(qtbot, monkeypatch, tmp_path):
    """Wheel-zoom and middle-drag while a tile runs: the job gets the new viewport, the next
    tile lies under it, and the preview that follows the tile is of that viewport."""
    fake = GatedUpscaler(2)
    choice = SRModelChoice("fake", "Fake", "residual", 2, Path("fake.safetensors"), "MIT")
    monkeypatch.setattr(upscale_edits, "choose_upscaler", lambda store, scale, **_: choice)
    chosen = []
    original_next = upscale.next_tile

    def spy_next(pending, viewport):
        chosen.append(original_next(pending, viewport))
        return chosen[-1]

    monkeypatch.setattr(upscale, "next_tile", spy_next)
    image = np.random.default_rng(3).integers(0, 256, (400, 480, 3), dtype=np.uint8)
    save_image(tmp_path / "photo.png", image)  # 3 x 3 tiles of the default size
    engine = Engine(device="cpu", preview_interval_s=0.0)
    with shown_window(qtbot, monkeypatch, tmp_path, engine=engine) as win:
        engine.set_models(lambda: Models(provided={"upscaler": fake}))  # after the window's
        assert win.open_path(tmp_path / "photo.png")
        sent, previews = [], []
        engine_set_viewport = win.engine.set_viewport
        monkeypatch.setattr(
            win.engine,
            "set_viewport",
            lambda job, rect: (sent.append((job, rect)), engine_set_viewport(job, rect)),
        )
        show_preview = win.canvas.show_preview
        monkeypatch.setattr(
            win.canvas,
            "show_preview",
            lambda pixels, rect=None: (previews.append(rect), show_preview(pixels, rect)),
        )
        try:
            job = win.run_upscale(2)
            qtbot.waitUntil(lambda: fake.calls == 1 and len(previews) == 1, timeout=10000)
            _wheel(win.canvas, 4)
            centre = QPointF(win.canvas.viewport().rect().center())
            _middle_drag(win.canvas, centre, centre + QPointF(150, 120))
            QApplication.processEvents()  # the scrollbars the zoom brought settle in
            seen = win.canvas.visible_image_rect()
            assert seen.x < 100 and seen.y < 100  # panned towards the top left
            assert sent[-1] == (job, seen)
            fake.gate.release()  # tile 1 ends; tile 2 starts, and waits
            qtbot.waitUntil(lambda: fake.calls == 2 and len(previews) == 2, timeout=10000)
            assert win.canvas.visible_image_rect() == seen
            assert previews[-1] == seen
            assert not chosen[1].core.intersect(seen).empty
        finally:
            fake.gate.release(100)
            win.session.cancel()
            qtbot.waitUntil(lambda: not win.engine.busy, timeout=10000)


def test_the_split_starts_in_the_middle_of_what_is_on_screen(window, qtbot):
    window.canvas.set_zoom(16.0)
    half = window.canvas.viewport().width() / 2 / window.canvas.transform().m11()
    window.canvas.centerOn(QPointF(half, 48))  # the image's left part fills the view
    seen = window.canvas.visible_image_rect()
    assert seen.x + seen.w < 0.5 * window.document.width  # a split at the image's half: unseen
    window.run_upscale(2)
    split_x = window.canvas.compare_split * window.document.width
    assert seen.x < split_x < seen.x + seen.w
    with qtbot.waitSignal(window.engine.cancelled, timeout=30000):
        window.session.cancel()


def test_an_output_over_the_limit_is_refused_before_the_job_starts(window, monkeypatch):
    height, width = window.document.image.shape[:2]
    monkeypatch.setenv("SEMEDIT_MAX_MEGAPIXELS", str(width * height * 2 / 1e6))
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(window, "show_error", lambda title, text: errors.append((title, text)))
    assert window.run_upscale(2) is None
    assert errors == [
        (
            "Cannot upscale",
            f"upscaling {width}×{height} ×2 gives {width * 2}×{height * 2} "
            f"({width * height * 4 / 1e6:.4g} MP), over the {width * height * 2 / 1e6:.4g} MP "
            "limit (SEMEDIT_MAX_MEGAPIXELS)",
        )
    ]
    assert window.session.pending is None and not window.job_bar.isVisible()
