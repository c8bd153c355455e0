"""The window as a user drives it: open, paint, select, undo, run an edit, save, close."""

from __future__ import annotations

import numpy as np
import pytest
from negate_edit import apply_negate
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from editor.core.imageio import load_image
from editor.engine.jobs import Update
from editor.ui.main_window import MainWindow


def _view_point(win: MainWindow, x: float, y: float) -> QPointF:
    return QPointF(win.canvas.mapFromScene(QPointF(x, y)))


def _mouse(
    win: MainWindow,
    kind,
    x: float,
    y: float,
    modifiers=Qt.KeyboardModifier.NoModifier,
    buttons=Qt.MouseButton.LeftButton,
) -> None:
    """Send one mouse event at image pixel (x, y) to the canvas viewport."""
    pos = _view_point(win, x, y)
    moving = kind == QMouseEvent.Type.MouseMove
    button = Qt.MouseButton.NoButton if moving else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == QMouseEvent.Type.MouseButtonRelease else buttons
    event = QMouseEvent(kind, pos, win.canvas.viewport().mapToGlobal(pos), button, held, modifiers)
    QApplication.sendEvent(win.canvas.viewport(), event)


def _drag(win: MainWindow, points, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    (x0, y0), *rest = points
    _mouse(win, QMouseEvent.Type.MouseButtonPress, x0, y0, modifiers)
    for x, y in rest:
        _mouse(win, QMouseEvent.Type.MouseMove, x, y, modifiers)
    x1, y1 = points[-1]
    _mouse(win, QMouseEvent.Type.MouseButtonRelease, x1, y1, modifiers)


def _set_brush(win: MainWindow, size: float, hardness: float = 1.0) -> None:
    from dataclasses import replace

    win.set_brush(replace(win.tools["brush"].brush, size=size, hardness=hardness, opacity=1.0))


# --- opening ---------------------------------------------------------------------------------


def test_open_shows_the_image_and_its_size(window, image_file, rgb_image):
    assert window.open_path(image_file)
    assert np.array_equal(window.document.image, rgb_image)
    assert window.document.mask.shape == rgb_image.shape[:2] and not window.document.mask.any()
    assert "128 × 96" in window.size_label.text()
    assert "photo.png" in window.windowTitle()
    assert str(image_file.resolve()) in window.settings.recent_files()


def test_bad_file_reports_and_keeps_the_open_document(window, image_file, tmp_path):
    window.open_path(image_file)
    doc = window.document
    before = doc.image.copy()
    bad = tmp_path / "broken.png"
    bad.write_bytes(image_file.read_bytes()[:200])
    assert not window.open_path(bad)
    assert window.document is doc
    assert np.array_equal(doc.image, before)
    assert window.errors and "broken.png" in window.errors[-1]
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert not window.open_path(empty)
    assert window.document is doc and len(window.errors) == 2


def test_drop_a_file_onto_the_window_opens_it(window, image_file, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(image_file))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.document is not None, timeout=3000)
    assert window.document.path == image_file


# --- painting and undo -----------------------------------------------------------------------


def test_brush_stroke_sets_mask_and_undo_redo_it(window, image_file):
    window.open_path(image_file)
    window.set_tool("brush")
    _set_brush(window, 10)
    _drag(window, [(20, 50), (60, 50), (100, 50)])
    mask = window.document.mask
    assert mask[50, 20:101].min() == 255  # continuous along the path
    assert mask[50 - 4, 60] == 255 and mask[50 + 4, 60] == 255
    assert mask[50 - 7, 60] == 0 and mask[50 + 7, 60] == 0
    assert mask[10, 10] == 0
    painted = mask.copy()
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert not window.document.mask.any()
    window.undo_stack.redo()
    assert np.array_equal(window.document.mask, painted)


def test_eraser_removes_what_the_brush_painted(window, image_file):
    window.open_path(image_file)
    _set_brush(window, 12)
    window.set_tool("brush")
    _drag(window, [(20, 40), (100, 40)])
    window.set_tool("eraser")
    _drag(window, [(60, 20), (60, 60)])
    mask = window.document.mask
    assert mask[40, 30] == 255 and mask[40, 60] == 0
    assert window.undo_stack.count() == 2


def test_bracket_keys_resize_the_brush(window, image_file, qtbot):
    window.open_path(image_file)
    size = window.tools["brush"].brush.size
    window.act_brush_bigger.trigger()
    assert window.tools["brush"].brush.size > size
    assert window.tools["eraser"].brush.size == window.tools["brush"].brush.size
    window.act_brush_smaller.trigger()
    window.act_brush_smaller.trigger()
    assert window.tools["brush"].brush.size < size
    assert window.tool_options.size_box.value() == int(window.tools["brush"].brush.size)


def test_rectangle_then_shift_adds_and_alt_subtracts(window, image_file):
    window.open_path(image_file)
    window.set_tool("rectangle")
    _drag(window, [(10, 10), (50, 40)])
    mask = window.document.mask
    assert mask[10:40, 10:50].min() == 255 and mask.sum() == 255 * 40 * 30
    _drag(window, [(70, 10), (90, 20)], Qt.KeyboardModifier.ShiftModifier)
    assert mask[15, 80] == 255 and mask[20, 20] == 255
    _drag(window, [(10, 10), (30, 40)], Qt.KeyboardModifier.AltModifier)
    assert mask[20, 20] == 0 and mask[20, 40] == 255
    _drag(window, [(0, 0), (5, 5)])  # plain drag replaces
    assert mask.sum() == 255 * 25
    assert window.undo_stack.count() == 4


def test_ellipse_lasso_polygon_and_wand_write_the_mask(window, image_file):
    window.open_path(image_file)
    doc = window.document
    window.set_tool("ellipse")
    _drag(window, [(20, 20), (60, 60)])
    area = (doc.mask > 127).sum()
    assert abs(area - np.pi * 20 * 20) / (np.pi * 400) < 0.05
    assert doc.mask[40, 40] == 255 and doc.mask[21, 21] == 0

    window.set_tool("lasso")
    _drag(window, [(70, 10), (110, 10), (110, 50), (70, 50), (70, 10)])
    assert doc.mask[30, 90] == 255 and doc.mask[40, 40] == 0  # replaced the ellipse

    window.set_tool("polygon")
    for x, y in [(10, 60), (50, 60), (50, 90)]:
        _mouse(window, QMouseEvent.Type.MouseButtonPress, x, y)
        _mouse(window, QMouseEvent.Type.MouseButtonRelease, x, y)
    _mouse(window, QMouseEvent.Type.MouseButtonDblClick, 50, 90)
    assert doc.mask[65, 45] == 255 and doc.mask[85, 15] == 0 and doc.mask[30, 90] == 0

    window.set_tool("wand")
    window.tools["wand"].tolerance = 60
    _mouse(window, QMouseEvent.Type.MouseButtonPress, 50, 30)  # inside the red block of rgb_image
    _mouse(window, QMouseEvent.Type.MouseButtonRelease, 50, 30)
    selected = doc.mask > 127
    assert selected[20:40, 30:70].mean() > 0.99 and selected.sum() < 20 * 40 * 1.1


def test_mask_operations_are_undoable(window, image_file, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    window.open_path(image_file)
    doc = window.document
    window.set_tool("rectangle")
    _drag(window, [(40, 30), (60, 50)])
    monkeypatch.setattr(QInputDialog, "getInt", lambda *a, **k: (5, True))
    window.mask_operation("grow")
    assert doc.mask[27, 50] == 255 and doc.mask[23, 50] == 0
    window.mask_operation("invert")
    assert doc.mask[0, 0] == 255 and doc.mask[40, 50] == 0
    window.mask_operation("clear")
    assert not doc.mask.any()
    for _ in range(3):
        window.undo_stack.undo()
    assert (doc.mask > 0).sum() == 20 * 20


def test_status_bar_shows_position_and_pixel(window, image_file, rgb_image):
    window.open_path(image_file)
    window.set_tool("rectangle")
    _mouse(window, QMouseEvent.Type.MouseMove, 33.5, 21.5, buttons=Qt.MouseButton.NoButton)
    assert window.position_label.text() == "x 33  y 21"
    r, g, b = rgb_image[21, 33]
    assert f"R {r} G {g} B {b}" in window.pixel_label.text()


def test_zoom_actions(window, image_file):
    window.open_path(image_file)
    window.act_100.trigger()
    assert window.canvas.zoom == pytest.approx(1.0)
    window.act_zoom_in.trigger()
    assert window.canvas.zoom == pytest.approx(1.25)
    window.act_zoom_out.trigger()
    window.act_zoom_out.trigger()
    assert window.canvas.zoom == pytest.approx(0.8)
    window.act_fit.trigger()
    vis = window.canvas.visible_image_rect()
    assert vis.w == 128 and vis.h == 96


# --- edits through the engine ----------------------------------------------------------------


def _paint_box(window, x0, y0, x1, y1):
    window.set_tool("rectangle")
    _drag(window, [(x0, y0), (x1, y1)])


def test_remove_previews_then_apply_is_one_undo_step(window, image_file, qtbot, rgb_image):
    window.open_path(image_file)
    _paint_box(window, 28, 18, 72, 42)  # covers the red block
    commands = window.undo_stack.count()
    job = window.run_remove()
    assert job is not None
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=10000)
    assert window.canvas.preview_visible
    assert np.array_equal(window.document.image, rgb_image)  # nothing changes before Apply
    assert window.job_bar.apply_button.isVisible()
    window.job_bar.apply_button.click()
    image = window.document.image
    assert image[30, 50, 0] < 150  # the red block is gone
    assert np.array_equal(image[70:, :], rgb_image[70:, :])
    assert window.undo_stack.count() == commands + 1
    assert window.image_modified and window.windowTitle().startswith("photo.png *")
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, rgb_image)


def test_cancel_leaves_the_document_unchanged(window, image_file, qtbot, rgb_image):
    import time

    window.open_path(image_file)

    def slow(ctx):
        for i in range(1000):
            ctx.check_cancelled()
            time.sleep(0.01)
            yield Update(progress=i / 1000, preview=rgb_image[:10, :10] * 0)
        return rgb_image * 0

    window.session.submit("Slow edit", slow)
    qtbot.waitUntil(lambda: window.canvas.preview_visible, timeout=5000)
    with qtbot.waitSignal(window.engine.cancelled, timeout=3000):
        window.job_bar.cancel_button.click()
    assert np.array_equal(window.document.image, rgb_image)
    assert not window.canvas.preview_visible
    assert "cancelled" in window.job_bar.label.text()
    assert window.undo_stack.count() == 0


def test_a_failing_edit_reports_and_the_next_one_runs(window, image_file, qtbot, rgb_image):
    window.open_path(image_file)

    def broken(ctx):
        yield Update(progress=0.1)
        raise RuntimeError("weights are missing")

    def works(ctx):
        yield Update(progress=0.5)
        return 255 - rgb_image

    window.session.submit("Broken", broken)
    window.session.submit("Works", works)
    assert "queued" in window.job_bar.label.text()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=5000)
    assert window.session.apply()
    assert np.array_equal(window.document.image, 255 - rgb_image)


def test_compare_split_shows_the_original_on_the_left(window, image_file, qtbot, rgb_image):
    window.open_path(image_file)
    apply_negate(window, qtbot, rgb_image)
    window.act_compare.trigger()
    assert window.canvas.compare_split == 0.5
    shot = window.canvas.viewport().grab().toImage()
    left = shot.pixelColor(window.canvas.mapFromScene(QPointF(20, 80)))
    right = shot.pixelColor(window.canvas.mapFromScene(QPointF(110, 80)))
    # left shows the original, right the negated image
    assert abs(left.red() - int(rgb_image[80, 20, 0])) < 12
    assert abs(right.red() - (255 - int(rgb_image[80, 110, 0]))) < 12
    window.act_compare.trigger()
    assert window.canvas.compare_split is None


# --- saving and closing ----------------------------------------------------------------------


def test_save_asks_before_overwriting_the_original(
    window, image_file, qtbot, tmp_path, monkeypatch, rgb_image
):
    from PySide6.QtWidgets import QFileDialog

    from editor.ui.dialogs import SaveOptionsDialog

    window.open_path(image_file)
    original_bytes = image_file.read_bytes()
    apply_negate(window, qtbot, rgb_image)
    asked = []
    monkeypatch.setattr(window, "confirm_overwrite", lambda path: asked.append(path) or False)
    new = tmp_path / "copy.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(new), ""))
    monkeypatch.setattr(SaveOptionsDialog, "ask", classmethod(lambda cls, p, fmt, o: o))
    assert window.save()
    assert asked == [image_file]
    assert image_file.read_bytes() == original_bytes
    assert np.array_equal(load_image(new).pixels, 255 - rgb_image)
    assert window.document.path == new and not window.image_modified


def test_closing_with_unsaved_changes_asks(window, image_file, qtbot, monkeypatch, rgb_image):
    window.open_path(image_file)
    apply_negate(window, qtbot, rgb_image)
    asked = []
    monkeypatch.setattr(
        window, "ask_save_changes", lambda *_: asked.append(1) or QMessageBox.StandardButton.Cancel
    )
    window.close()
    assert asked and window.isVisible()


def test_mask_changes_alone_do_not_count_as_unsaved(window, image_file):
    window.open_path(image_file)
    _paint_box(window, 10, 10, 20, 20)
    assert window.undo_stack.count() == 1
    assert not window.image_modified


def test_view_point_helper_maps_inside_the_viewport(window, image_file):
    window.open_path(image_file)
    p = _view_point(window, 64, 48)
    assert window.canvas.viewport().rect().contains(QPoint(int(p.x()), int(p.y())))


def test_models_dialog_opens_from_the_edit_menu(window, monkeypatch):
    from editor.ui import models_dialog

    shown = []
    monkeypatch.setattr(models_dialog.ModelsDialog, "exec", lambda self: shown.append(self) or 0)
    window.act_models.trigger()
    assert shown and shown[0].store is not None


def test_refined_remove_streams_previews_with_the_shared_weights(
    window, image_file, qtbot, shared_models, rgb_image
):
    window.settings.set_models_dir(str(shared_models))
    window.open_path(image_file)
    _paint_box(window, 28, 18, 72, 42)
    assert window.remove_edits.methods.checkedAction().data() == "refined"
    previews = []
    window.engine.preview.connect(lambda job, update: previews.append(update))
    window.run_remove()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=60000)
    assert len(previews) >= 2
    assert "Remove (refined)" in window.job_bar.label.text()
    window.session.apply()
    assert window.document.image[30, 50, 0] < 150  # the red block is gone


def test_without_feature_weights_remove_uses_quick_and_says_so(window, image_file, qtbot):
    window.open_path(image_file)
    _paint_box(window, 28, 18, 72, 42)
    window.run_remove()
    assert "using Quick" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=20000)
    assert "Remove (quick)" in window.job_bar.label.text()


def test_remove_on_release_starts_after_a_brush_stroke(window, image_file, qtbot):
    window.open_path(image_file)
    window.act_remove_on_release.setChecked(True)
    window.set_tool("brush")
    _set_brush(window, 12)
    _drag(window, [(40, 30), (60, 30)])
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=20000)
    assert window.job_bar.apply_button.isVisible()


def test_remove_on_release_ignores_erasing_and_region_tools(window, image_file, qtbot):
    """Only a finished brush stroke starts it, whatever the undo step is called."""
    window.open_path(image_file)
    window.act_remove_on_release.setChecked(True)
    _paint_box(window, 28, 18, 72, 42)
    window.set_tool("eraser")
    _set_brush(window, 12)
    _drag(window, [(40, 30), (60, 30)])
    qtbot.wait(50)  # Remove on release starts from a zero-length timer
    assert window.undo_stack.count() == 2
    assert window.session.running is None and window.session.pending is None
    assert not window.engine.busy


def test_escape_drops_a_half_drawn_polygon(window, image_file):
    window.open_path(image_file)
    window.set_tool("polygon")
    for x, y in [(10, 10), (50, 10)]:
        _mouse(window, QMouseEvent.Type.MouseButtonPress, x, y)
        _mouse(window, QMouseEvent.Type.MouseButtonRelease, x, y)
    assert window.tools["polygon"].points
    window.act_cancel.trigger()
    assert not window.tools["polygon"].points
    assert not window.document.mask.any() and window.undo_stack.count() == 0


def test_holding_backslash_shows_the_original(window, image_file):
    from PySide6.QtTest import QTest

    window.open_path(image_file)
    window.canvas.setFocus()
    QTest.keyPress(window.canvas, Qt.Key.Key_Backslash)
    assert window.canvas.compare_split == 1.0
    QTest.keyRelease(window.canvas, Qt.Key.Key_Backslash)
    assert window.canvas.compare_split is None


def test_wheel_zooms_and_middle_button_pans(window, image_file):
    from PySide6.QtGui import QWheelEvent

    window.open_path(image_file)
    before = window.canvas.zoom
    pos = QPointF(window.canvas.viewport().rect().center())
    wheel = QWheelEvent(
        pos,
        window.canvas.viewport().mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(window.canvas.viewport(), wheel)
    assert window.canvas.zoom == pytest.approx(before * 1.25**2)
    window.canvas.set_zoom(8.0)
    bar = window.canvas.horizontalScrollBar()
    start = bar.value()
    vp = window.canvas.viewport()
    for kind, x, buttons in [
        (QMouseEvent.Type.MouseButtonPress, 300, Qt.MouseButton.MiddleButton),
        (QMouseEvent.Type.MouseMove, 200, Qt.MouseButton.MiddleButton),
        (QMouseEvent.Type.MouseButtonRelease, 200, Qt.MouseButton.NoButton),
    ]:
        p = QPointF(x, 200)
        QApplication.sendEvent(
            vp,
            QMouseEvent(
                kind,
                p,
                vp.mapToGlobal(p),
                Qt.MouseButton.MiddleButton,
                buttons,
                Qt.KeyboardModifier.NoModifier,
            ),
        )
    assert bar.value() == start + 100
    assert not window.document.mask.any()  # panning never paints


def test_no_two_actions_share_a_shortcut(window):
    # Panel shortcuts (F2, Del in the Styles and the Faces panel) only act where the focus is:
    # unique within their panel, and none may shadow a window-wide one.
    from collections import Counter

    scoped = Qt.ShortcutContext.WidgetWithChildrenShortcut
    keys = Counter(
        (seq.toString(), id(action.parent()) if action.shortcutContext() == scoped else None)
        for action in window.findChildren(QAction)
        for seq in action.shortcuts()
        if not seq.isEmpty()
    )
    assert [k for k, n in keys.items() if n > 1] == []
    window_wide = {key for key, owner in keys if owner is None}
    assert [key for key, owner in keys if owner is not None and key in window_wide] == []


def test_face_swap_replaces_the_face_under_the_mask_as_one_undo_step(window, qtbot, shared_data):
    from editor.core import mask_ops
    from editor.core.geometry import Rect
    from editor.engine.models.faces import detect_faces

    faces = shared_data / "faces"
    window.open_path(faces / "multi" / "two_people.jpg")
    doc = window.document
    original = doc.image.copy()
    left, right = detect_faces(original[..., :3])
    x, y, w, h = right.box
    region = mask_ops.rect_region(doc.mask.shape, Rect(x, y, w, h))
    window.push_patch("mask", doc.diff("mask", region), "Rectangle", applied=False)
    commands = window.undo_stack.count()
    photos = [str(faces / "biden" / "biden.jpg"), str(faces / "biden" / "biden2.jpg")]
    assert window.run_faceswap(photos) is not None
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=30000)
    assert np.array_equal(doc.image, original)  # nothing changes before Apply
    window.job_bar.apply_button.click()
    changed = np.any(window.document.image != original, axis=2)
    ys, xs = np.nonzero(changed)
    assert changed.any() and xs.min() > left.box[0] + left.box[2]  # the right face only
    assert window.undo_stack.count() == commands + 1
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, original)


def test_face_swap_without_a_face_reports_it(window, qtbot, image_file, shared_data):
    window.open_path(image_file)
    photo = str(shared_data / "faces" / "biden" / "biden.jpg")
    assert window.run_faceswap([photo]) is not None
    qtbot.waitUntil(lambda: not window.engine.busy, timeout=30000)
    qtbot.waitUntil(lambda: "no face found" in window.job_bar.label.text(), timeout=5000)
    assert window.session.pending is None
