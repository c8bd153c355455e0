"""The Styles panel: drop pictures to add styles, paste, rename, remove, kept across runs."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit, QMessageBox

from editor.core.imageio import save_image
from editor.core.style_library import StyleLibrary
from editor.ui.main_window import MainWindow
from editor.ui.style_panel import StylePanel, pixels_from_qimage


@pytest.fixture
def library(tmp_path):
    return StyleLibrary(tmp_path / "styles")


@pytest.fixture
def panel(qtbot, library, monkeypatch):
    widget = StylePanel(library)
    widget.errors = []
    monkeypatch.setattr(widget, "show_error", lambda title, text: widget.errors.append(text))
    qtbot.addWidget(widget)
    widget.resize(320, 400)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def picture(tmp_path, rgb_image):
    path = tmp_path / "waves.png"
    save_image(path, rgb_image)
    return path


def _drop(widget, mime: QMimeData) -> None:
    event = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    widget.dropEvent(event)


def _file_mime(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_dropping_a_picture_adds_a_style_kept_across_runs(panel, picture, library, qtbot):
    seen = []
    panel.selectionChanged.connect(seen.append)
    _drop(panel, _file_mime(picture))
    assert panel.list.count() == 1 and panel.list.item(0).text() == "waves"
    assert not panel.list.item(0).icon().isNull()  # a thumbnail
    assert panel.current_entry().name == "waves" and seen[-1].name == "waves"
    again = StyleLibrary(library.folder)  # what the next start of the app sees
    assert [e.name for e in again.entries()] == ["waves"]
    assert StylePanel(again).list.count() == 1


def test_a_corrupt_or_non_image_drop_says_so_and_adds_nothing(panel, picture, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(picture.read_bytes()[:120])
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    _drop(panel, _file_mime(broken, notes))
    assert panel.list.count() == 0 and panel.library.entries() == []
    assert len(panel.errors) == 1
    assert "broken.jpg" in panel.errors[0] and "notes.txt" in panel.errors[0]
    text = QMimeData()
    text.setText("hello")
    _drop(panel, text)
    assert "not a picture" in panel.errors[-1]
    # a good file among bad ones is still added
    _drop(panel, _file_mime(notes, picture))
    assert panel.list.count() == 1 and "notes.txt" in panel.errors[-1]


@pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")
# Qt 6 has no other QDragEnterEvent constructor (the QPoint one is flagged by PySide only).
def test_drag_enter_accepts_files_and_images_only(panel, picture):
    def accepted(mime) -> bool:
        event = QDragEnterEvent(
            QPoint(5, 5),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        event.ignore()
        panel.dragEnterEvent(event)
        return event.isAccepted()

    assert accepted(_file_mime(picture))
    text = QMimeData()
    text.setText("x")
    assert not accepted(text)


def test_paste_an_image_from_the_clipboard(panel, rgb_image, qtbot):
    h, w = rgb_image.shape[:2]
    rgba = np.dstack([rgb_image, np.full((h, w), 255, np.uint8)])
    image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
    assert np.array_equal(pixels_from_qimage(image), rgb_image)
    QGuiApplication.clipboard().setImage(image)
    panel.list.setFocus()
    panel.act_paste.trigger()
    assert panel.list.count() == 1 and panel.current_entry().name == "Pasted style"
    assert np.array_equal(panel.library.load_pixels(panel.current_entry()), rgb_image)
    assert panel.act_paste.shortcut().toString() == "Ctrl+V"


def test_rename_with_f2_and_remove_with_del(panel, picture, rgb_image, qtbot, library):
    panel.add_paths([picture])
    panel.add_pixels(rgb_image[:30, :40], "second")
    assert [panel.list.item(i).text() for i in range(2)] == ["waves", "second"]
    panel.list.setCurrentRow(0)
    panel.list.setFocus()
    QTest.keyClick(panel.list, Qt.Key.Key_F2)
    editor = panel.list.viewport().findChild(QLineEdit)
    assert editor is not None and editor.isVisible()  # the in-place editor opened
    editor.selectAll()
    QTest.keyClicks(editor, "Starry  ")
    QTest.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on a queued call
    qtbot.waitUntil(lambda: panel.list.item(0).text() == "Starry", timeout=2000)
    assert [e.name for e in StyleLibrary(library.folder).entries()] == ["Starry", "second"]

    panel.list.setCurrentRow(1)
    panel.list.setFocus()
    QTest.keyClick(panel.list, Qt.Key.Key_Delete)
    assert [e.name for e in StyleLibrary(library.folder).entries()] == ["Starry"]
    assert panel.list.count() == 1 and panel.current_entry().name == "Starry"


def test_dropping_a_picture_again_selects_it_instead_of_a_twin(panel, picture, rgb_image):
    said = []
    panel.message.connect(said.append)
    panel.add_paths([picture])
    panel.add_pixels(rgb_image[:30, :40], "second")
    assert panel.current_entry().name == "second"
    assert panel.add_paths([picture]) == []
    assert panel.list.count() == 2 and panel.current_entry().name == "waves"
    assert said[-1] == "Already in Styles: waves"


def test_renaming_to_nothing_keeps_the_old_name(panel, picture):
    panel.add_paths([picture])
    item = panel.list.item(0)
    item.setText("   ")
    assert item.text() == "waves" and panel.library.entries()[0].name == "waves"


def test_the_window_remembers_the_selected_style(qtbot, tmp_path, library, picture, rgb_image):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    library.add_file(picture)
    second = library.add_pixels(rgb_image, "second")
    win = MainWindow(settings=settings, style_library=library)
    qtbot.addWidget(win)
    assert win.style_panel.current_entry() is None  # none chosen yet: the brush paints a mask
    win.style_panel.select(second.id)
    win.engine.shutdown()
    again = MainWindow(settings=settings, style_library=StyleLibrary(library.folder))
    qtbot.addWidget(again)
    assert again.style_panel.current_entry().id == second.id
    again.engine.shutdown()


def test_style_dock_is_in_the_view_menu(qtbot, tmp_path, library, monkeypatch):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, style_library=library)
    qtbot.addWidget(win)
    assert any(d.windowTitle() == "Styles" for d in win.docks)
    monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
    win.engine.shutdown()
