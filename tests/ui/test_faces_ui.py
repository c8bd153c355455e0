"""Face swap in the window: faces outlined and picked with the Face tool, face sets looked at
once, the chosen face swapped as one undo step."""

from __future__ import annotations

from unittest.mock import MagicMock

import numpy as np
import pytest
from canvas_input import drag
from PySide6.QtGui import QFont
from shown_window import shown_window

from editor.core.imageio import save_image
from editor.ui.tools import FacePickTool


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    with shown_window(qtbot, monkeypatch, tmp_path) as win:
        yield win


def test_face_at_is_inside_an_outline_or_near_one():
    tool = FacePickTool(host=None, on_pick=lambda index: None)
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([50 - 40 * np.cos(t), 50 + 40 * np.sin(t)], 1)
    brows = np.stack([np.linspace(15, 85, 10), np.full(10, 20.0)], 1)
    rest = np.tile([[50.0, 50.0]], (41, 1))
    face = np.concatenate([jaw, brows, rest])
    tool.set_faces([face, face + (200, 0)])
    assert tool.face_at(50, 60) == 0 and tool.face_at(250, 60) == 1
    assert tool.face_at(175, 60) == 1  # outside both, within a face size of the second
    assert tool.face_at(600, 60) is None  # far from any face


def test_outlines_are_numbered_from_1_as_the_cli_counts(qapp):
    tool = FacePickTool(host=None, on_pick=lambda index: None)
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([50 - 40 * np.cos(t), 50 + 40 * np.sin(t)], 1)
    face = np.concatenate([jaw, np.tile([[50.0, 30.0]], (51, 1))])
    tool.set_faces([face, face + (200, 0)], chosen=0)
    painter = MagicMock()
    painter.font.return_value = QFont()
    tool.paint_overlay(painter, hover=None, scale=1.0)
    drawn = {c.args[-1] for c in painter.drawText.call_args_list}
    assert drawn == {"1", "2"}


def test_pick_a_face_on_the_canvas_and_swap_it_with_a_face_set(
    window, qtbot, shared_data, tmp_path
):
    faces = shared_data / "faces"
    window.open_path(faces / "multi" / "two_people.jpg")
    doc = window.document
    original = doc.image.copy()
    window.set_tool("face")
    tool = window.tools["face"]
    qtbot.waitUntil(window.face_edits.faces_current, timeout=20000)
    assert len(tool.faces) == 2 and tool.chosen is not None  # the largest, as the CLI's default
    left, right = tool.faces
    assert left[:, 0].mean() < right[:, 0].mean()
    drag(window, [tuple(left.mean(axis=0))])  # click the left face
    assert tool.chosen == 0
    assert "Face 1 of 2" in window.face_panel.target_label.text()  # counted from 1, as --target

    no_face = tmp_path / "wall.png"
    save_image(no_face, np.full((200, 200, 3), 128, np.uint8))
    photos = [faces / "biden" / "biden.jpg", faces / "biden" / "biden2.jpg", no_face]
    face_set = window.face_panel.add_paths(photos)
    qtbot.waitUntil(lambda: not window.face_edits._set_jobs, timeout=20000)
    face_set = window.face_sets.get(face_set.id)
    assert len(face_set.photos) == 2 and len(face_set.ready) == 2  # the wall left out
    assert "No face found in wall.png" in window.statusBar().currentMessage()

    window.face_panel.quick_box.setChecked(True)
    assert window.act_faceswap_quick.isChecked()  # one setting, two controls
    commands = window.undo_stack.count()
    window.face_panel.swap_button.click()
    assert window.session.running is not None or window.session._jobs  # no photo check first
    qtbot.waitUntil(lambda: window.session.pending is not None, timeout=30000)
    assert not tool.outlines_shown  # the result is not hidden under the outlines
    window.job_bar.apply_button.click()
    assert tool.outlines_shown
    ys, xs = np.nonzero(np.any(window.document.image != original, axis=2))
    assert xs.size and xs.max() < right[:, 0].min()  # the left face only
    assert window.undo_stack.count() == commands + 1
    # New pixels: the outlines are looked for again, on the swapped image.
    qtbot.waitUntil(window.face_edits.faces_current, timeout=20000)
    assert len(tool.faces) == 2
    window.undo_stack.undo()
    assert np.array_equal(window.document.image, original)


def test_the_panel_makes_sets_adds_to_them_and_removes_them(qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from editor.core.face_sets import FaceSetLibrary
    from editor.ui.face_panel import FacePanel

    photos = []
    for n in range(3):
        photos.append(tmp_path / "ann" / f"ann{n}.png")
        photos[-1].parent.mkdir(exist_ok=True)
        save_image(photos[-1], np.full((40, 40, 3), 50 * n, np.uint8))
    panel = FacePanel(FaceSetLibrary(tmp_path / "faces"))
    qtbot.addWidget(panel)
    panel.resize(300, 400)
    panel.show()
    added: list[str] = []
    panel.photosAdded.connect(added.append)
    first = panel.add_paths(photos[:2])
    assert first.name == "ann" and panel.list.count() == 1 and added == [first.id]
    assert "looking" in panel.list.item(0).text()  # not looked at yet

    def drop(paths, at: QPointF):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        event = QDropEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier)  # fmt: skip
        panel.dropEvent(event)

    item = panel.list.visualItemRect(panel.list.item(0)).center()
    drop(photos[2:], QPointF(panel.list.viewport().mapTo(panel, item)))  # on the set: added to it
    assert panel.list.count() == 1 and len(panel.library.get(first.id).photos) == 3
    empty = panel.list.viewport().rect().bottomRight() - item / 4
    assert panel.list.itemAt(empty) is None
    drop(photos[:1], QPointF(panel.list.viewport().mapTo(panel, empty)))  # empty space: a new set
    assert panel.list.count() == 2 and panel.current_set().id != first.id
    panel.remove_current()
    assert [s.id for s in panel.library.sets()] == [first.id] and panel.list.count() == 1
