"""Style brush and texture tool end to end: the real style engine and the shared VGG weights on a
tiny image (48x64, a few iterations), driven from the window as a user would."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from editor.core import mask_ops
from editor.core.geometry import Rect
from editor.core.imageio import save_image
from editor.core.style_library import StyleLibrary
from editor.engine.jobs import JobCancelled
from editor.ui.main_window import MainWindow

H, W = 48, 64
FAR = 10  # px: farther than this from the mask, pixels never change (feathering is ~6 px)


def _stripes(h=40, w=40) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    on = ((xx + yy) // 4) % 2 == 1
    out = np.zeros((h, w, 3), np.uint8)
    out[on] = (240, 200, 20)
    out[~on] = (20, 40, 160)
    return out


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image, shared_models):
    library = StyleLibrary(tmp_path / "styles")
    library.add_pixels(_stripes(), "stripes")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, style_library=library)
    win.style_panel.list.setCurrentRow(0)  # a style chosen, as the user does first
    win.settings.set_models_dir(str(shared_models))
    win.errors = []
    monkeypatch.setattr(win, "show_error", lambda title, text: win.errors.append(text))
    win.show()
    qtbot.waitExposed(win)
    path = tmp_path / "small.png"
    save_image(path, np.ascontiguousarray(rgb_image[:H, :W]))
    assert win.open_path(path)
    win.style_options.iterations_box.setValue(12)
    win.style_options.strength_slider.setValue(80)  # a few iterations must show on a tiny image
    yield win
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.close()
    win.deleteLater()


def _set_mask(window, rect: Rect, text="Rectangle") -> np.ndarray:
    doc = window.document
    new = mask_ops.rect_region(doc.mask.shape, rect)
    window.push_patch("mask", doc.diff("mask", new), text, applied=False)
    return new


def _wait_result(window, qtbot) -> None:
    """Until the run ends; then it must have a result waiting for Apply (not a failure)."""
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=120000)
    assert window.errors == [] and "failed" not in window.job_bar.label.text(), (
        window.job_bar.label.text()
    )
    assert window.session.pending is not None


def _far_from(mask: np.ndarray) -> np.ndarray:
    return mask_ops.grow(mask, FAR) == 0


def test_stylise_previews_then_apply_changes_the_masked_area_only(window, qtbot):
    before = window.document.image.copy()
    mask = _set_mask(window, Rect(8, 8, 30, 24))
    previews = []
    window.engine.preview.connect(lambda job, update: previews.append(update))
    window.run_stylise()
    _wait_result(window, qtbot)
    assert previews and previews[-1].preview_rect is not None
    window.job_bar.apply_button.click()
    image = window.document.image
    assert image.shape == before.shape and image.dtype == before.dtype
    far = _far_from(mask)
    assert np.array_equal(image[far], before[far])
    assert np.abs(image[mask > 0].astype(int) - before[mask > 0]).mean() > 3
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, before)


def test_apply_while_the_real_run_goes_on(window, qtbot, monkeypatch):
    from editor.engine.edits import style

    window.style_options.iterations_box.setValue(4000)  # would take minutes
    before = window.document.image.copy()
    _set_mask(window, Rect(8, 8, 40, 30))
    commands = window.undo_stack.count()
    ended = []
    real_run = style.run

    def watched(request, ctx):
        try:
            result = yield from real_run(request, ctx)
        except JobCancelled:
            ended.append("cancelled")
            raise
        ended.append("finished" if ctx.finish_requested else "ran out")
        return result

    monkeypatch.setattr(style, "run", watched)
    window.run_stylise()
    qtbot.waitUntil(lambda: window.canvas.preview_visible or not window.engine.busy, timeout=60000)
    assert window.engine.busy, window.job_bar.label.text()
    assert window.job_bar.apply_button.isVisible()
    with qtbot.waitSignal(window.session.applied, timeout=30000):
        window.job_bar.apply_button.click()
    assert ended == ["finished"]
    assert window.undo_stack.count() == commands + 1
    assert not np.array_equal(window.document.image, before)
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, before)


def test_cancel_the_real_run_leaves_the_image(window, qtbot):
    window.style_options.iterations_box.setValue(4000)
    before = window.document.image.copy()
    window.run_stylise()  # no mask: the whole image
    assert "whole image" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.canvas.preview_visible or not window.engine.busy, timeout=60000)
    assert window.engine.busy, window.job_bar.label.text()
    with qtbot.waitSignal(window.engine.cancelled, timeout=30000):
        window.act_cancel.trigger()
    assert np.array_equal(window.document.image, before)
    assert window.session.pending is None


def test_two_regions_in_one_run(window, qtbot, rgb_image):
    checks = np.zeros((40, 40, 3), np.uint8)  # a second style unlike the photo and the stripes
    yy, xx = np.mgrid[0:40, 0:40]
    checks[(yy // 5 + xx // 5) % 2 == 0] = (230, 30, 60)
    checks[(yy // 5 + xx // 5) % 2 == 1] = (30, 220, 90)
    window.style_panel.add_pixels(checks, "checks")
    window.style_panel.list.setCurrentRow(0)
    first = _set_mask(window, Rect(2, 2, 24, 20))
    window.style_edits.add_region()
    window.style_panel.list.setCurrentRow(1)
    second = _set_mask(window, Rect(36, 24, 24, 20))
    window.style_edits.add_region()
    before = window.document.image.copy()
    window.run_stylise()
    _wait_result(window, qtbot)
    assert "2 styles" in window.job_bar.label.text()
    window.session.apply()
    image = window.document.image
    for mask in (first, second):
        assert np.abs(image[mask > 0].astype(int) - before[mask > 0]).mean() > 3
    both = np.maximum(first, second)
    assert np.array_equal(image[_far_from(both)], before[_far_from(both)])


def test_texture_fill_from_a_canvas_sample(window, qtbot):
    before = window.document.image.copy()
    _set_mask(window, Rect(0, 0, 24, 24))
    assert window.style_edits.use_selection_as_sample()
    target = _set_mask(window, Rect(36, 20, 20, 20))
    window.run_texture()
    _wait_result(window, qtbot)
    window.session.apply()
    image = window.document.image
    far = _far_from(target)
    assert np.array_equal(image[far], before[far])
    assert np.abs(image[target > 0].astype(int) - before[target > 0]).mean() > 3
