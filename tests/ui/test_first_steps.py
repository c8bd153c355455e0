"""What a new user meets first: the empty window, a steady canvas, prompts that say what happens,
and a removal whose result is not hidden under its own mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from canvas_input import paint
from PySide6.QtCore import QPoint, QPointF, QSettings
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from shown_window import shown_window

from editor.core.imageio import save_image
from editor.ui.canvas import EMPTY_HINT


def _settle(qtbot) -> None:
    """Let posted layout requests run (a shown bar or dock resizes the canvas on the event loop)."""
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(5)


def _image_on_screen(window) -> tuple[QPoint, QPoint]:
    canvas = window.canvas
    corners = (QPointF(0, 0), QPointF(window.document.width, window.document.height))
    return tuple(canvas.viewport().mapToGlobal(canvas.mapFromScene(c)) for c in corners)


# --- the empty window ----------------------------------------------------------------------


def test_the_empty_window_says_what_to_do_and_has_no_history(window, image_file):
    assert window.document is None
    assert window.history_view.emptyLabel() == ""  # nothing was opened, so nothing "Opened"
    grab = window.canvas.viewport().grab().toImage()
    h, w = grab.height(), grab.width()
    middle = [grab.pixelColor(x, h // 2 + dy).lightness() for x in range(w) for dy in (-3, 0, 3)]
    assert max(middle) > 120  # light hint text on the dark canvas
    assert window.canvas.document is None and EMPTY_HINT.startswith("Open")
    window.open_path(image_file)
    assert window.history_view.emptyLabel() == "Opened"


def test_file_dialogs_start_in_a_folder_that_exists(qtbot, tmp_path, monkeypatch, image_file):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("files/last_dir", "/home/someone-else/Pictures/gone")
    settings.sync()
    with shown_window(qtbot, monkeypatch, tmp_path) as win:
        asked: list[str] = []
        monkeypatch.setattr(
            QFileDialog,
            "getOpenFileName",
            lambda parent, title, start, *a: asked.append(start) or ("", ""),
        )
        win.open_dialog()
        assert asked == [str(Path.home())]
        win.open_path(image_file)  # a folder that exists is remembered and used
        win.open_dialog()
        assert asked[-1] == str(image_file.parent)


def test_region_tools_show_only_their_own_options(window, image_file):
    window.open_path(image_file)
    options = window.tool_options
    for key in ("rectangle", "ellipse", "lasso", "polygon"):
        window.set_tool(key)
        assert not options.tolerance_box.isVisibleTo(options), key
        assert not options.contiguous_box.isVisibleTo(options), key
    window.set_tool("wand")
    assert options.tolerance_box.isVisibleTo(options)
    assert options.contiguous_box.isVisibleTo(options)


# --- prompts -------------------------------------------------------------------------------


def _modify(window) -> None:
    window.mask_operation("all")
    inverted = 255 - window.document.image
    window.push_patch("image", window.document.diff("image", inverted), "Negate", applied=False)


def test_opening_another_file_asks_in_those_words_after_checking_it(
    window, image_file, tmp_path, monkeypatch, rgb_image
):
    window.open_path(image_file)
    _modify(window)
    asked: list[str] = []
    monkeypatch.setattr(
        window, "ask_save_changes", lambda q: asked.append(q) or QMessageBox.StandardButton.Cancel
    )
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert window.open_path(broken) is False
    assert asked == []  # a file that cannot be opened costs no decision
    assert window.errors and window.document.path == image_file
    other = tmp_path / "other.png"
    save_image(other, rgb_image[:50])
    assert window.open_path(other) is False  # Cancel: stay
    assert asked == ["Save the changes to photo.png before opening other.png?"]
    assert window.document.path == image_file and window.image_modified
    window.close_document()
    assert asked[-1] == "Save the changes to photo.png before closing it?"


# --- a steady canvas -----------------------------------------------------------------------


def test_the_image_stays_put_when_the_job_bar_and_panels_come_and_go(window, image_file, qtbot):
    window.open_path(image_file)
    _settle(qtbot)
    start = _image_on_screen(window)
    zoom = window.canvas.zoom
    bar = window.job_bar
    for state in ("running", "done", "message", "idle"):
        bar.set_state(state, f"Remove (quick): {state}", finishable=state == "running")
        _settle(qtbot)
        assert _image_on_screen(window) == start, state
    for dock in window.docks:
        dock.hide()
        _settle(qtbot)
        assert _image_on_screen(window)[0] == start[0], dock.windowTitle()
        dock.show()
        _settle(qtbot)
    assert _image_on_screen(window)[0] == start[0]
    assert window.canvas.zoom == zoom  # nothing re-fitted
    assert not window.canvas.horizontalScrollBar().isVisible()
    assert not window.canvas.verticalScrollBar().isVisible()


# --- removal -------------------------------------------------------------------------------


def test_applying_a_removal_clears_its_mask_and_undo_brings_both_back(
    window, image_file, qtbot, rgb_image
):
    window.open_path(image_file)
    paint(window, [(30, 30), (70, 30)], size=10)
    mask = window.document.mask.copy()
    for action in window.remove_edits.methods.actions():
        action.setChecked(action.data() == "telea")
    window.run_remove()
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=30000)
    assert window.session.apply()
    assert not window.document.mask.any()  # the result is not hidden under the overlay
    assert not np.array_equal(window.document.image, rgb_image)
    assert window.canvas._mask_item.isVisible()  # the overlay is back on, with nothing to hide
    assert window.undo_stack.count() == 2  # the stroke, then one Remove step
    assert window.undo_stack.text(1) == "Remove (telea)"
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, rgb_image)
    assert np.array_equal(window.document.mask, mask)
    window.undo_stack.redo()
    assert not window.document.mask.any()
    assert window.image_modified


def test_a_long_job_message_neither_widens_the_window_nor_moves_the_image(
    window, image_file, qtbot
):
    window.open_path(image_file)
    _settle(qtbot)
    width, start = window.width(), _image_on_screen(window)
    text = "Upscale ×4 finished (4000 × 3000): " + "a very long explanation " * 12
    window.job_bar.set_state("done", text)
    _settle(qtbot)
    assert window.width() == width
    assert _image_on_screen(window) == start
    assert window.job_bar.label.text() == text and window.job_bar.label.toolTip() == text
