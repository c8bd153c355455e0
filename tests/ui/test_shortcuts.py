"""The README's shortcut table, pressed as a user presses it.

Every row's keys go through Qt's real shortcut map (QTest key events on the focused canvas), so a
key bound twice (Qt's "Ambiguous shortcut overload", which then runs nothing) fails here. The
module runs offscreen and, when Xvfb is installed, once more in a real X11 window: the platforms
bind different standard keys (X11's Redo is Ctrl+Shift+Z, offscreen's Ctrl+Y).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from canvas_input import drag, paint
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtTest import QTest
from shown_window import shown_window

from editor.core.imageio import save_image

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_shortcuts() -> list[tuple[list[str], str]]:
    """(keys, what they do) for each row of the README's "Keyboard shortcuts" table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Keyboard shortcuts", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("keys", "---"):
            continue
        keys = re.findall(r"`([^`]+)`", cells[0])
        rows.append((keys, cells[1]))
    return rows


MENU_ROWS = [(keys, does) for keys, does in readme_shortcuts() if "▸" in does]
OTHER_ROWS = {does: keys for keys, does in readme_shortcuts() if "▸" not in does}


def menu_actions(window) -> dict[str, QAction]:
    """Every menu item by its path as the README writes it ("Image ▸ Style ▸ Add Region")."""
    found: dict[str, QAction] = {}

    def walk(menu, prefix: str) -> None:
        for action in menu.actions():
            name = action.text().replace("&", "").rstrip("…").strip()
            if action.menu() is not None:
                walk(action.menu(), f"{prefix}{name} ▸ ")
            elif name:
                found[f"{prefix}{name}"] = action

    for top in window.menuBar().actions():
        walk(top.menu(), f"{top.text().replace('&', '')} ▸ ")
    return found


def press(widget, keys: str) -> None:
    """Type one key combination ("Ctrl+Shift+Z") at `widget`, as the keyboard would."""
    combo = QKeySequence(keys)[0]
    QTest.keyClick(widget, combo.key(), combo.keyboardModifiers())


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch, rgb_image):
    with shown_window(qtbot, monkeypatch, tmp_path, size=(900, 700)) as win:
        path = tmp_path / "photo.png"
        save_image(path, rgb_image)
        win.open_path(path)
        win.activateWindow()
        qtbot.waitActive(win)
        win.canvas.setFocus()
        # Under xcb with no window manager the X server's focus can arrive after Qt calls the
        # window active; a key sent before it reaches no shortcut (the first case then failed
        # about one run in four).
        qtbot.waitUntil(
            lambda: QGuiApplication.focusWindow() is win.windowHandle() and win.canvas.hasFocus()
        )
        yield win


def _no_ambiguity(qtlog) -> None:
    ambiguous = [r.message for r in qtlog.records if "Ambiguous shortcut" in r.message]
    assert ambiguous == []


def test_the_table_names_real_menu_items_and_every_shortcut(window):
    actions = menu_actions(window)
    assert len(MENU_ROWS) > 30
    missing = [does for _, does in MENU_ROWS if does not in actions]
    assert missing == []
    # Every menu item with a shortcut has its row: no key the table keeps quiet about. (Beyond
    # the table's keys an item may also answer to its platform's standard ones: Ctrl+F4 closes
    # on some platforms, a keyboard's Undo key undoes.)
    rows = {does for _, does in MENU_ROWS}
    unlisted = [path for path, action in actions.items() if action.shortcuts() and path not in rows]
    assert unlisted == []


@pytest.mark.parametrize(("keys", "does"), MENU_ROWS, ids=[d for _, d in MENU_ROWS])
def test_each_key_runs_its_menu_item_once(window, qtlog, keys, does):
    action = menu_actions(window)[does]
    action.setEnabled(True)  # Undo/Redo with an empty history: we count the key, not the effect
    action.triggered.disconnect()  # no dialogs or edits: this test is about the key reaching it
    fired: list[str] = []
    action.triggered.connect(lambda *_: fired.append(does))
    for key in keys:
        fired.clear()
        press(window.canvas, key)
        assert fired == [does], f"{key} did not run {does}"
    _no_ambiguity(qtlog)


def keys_for(does: str) -> list[str]:
    return next(keys for keys, row in MENU_ROWS if row == does)


def test_undo_and_redo_keys_undo_and_redo_a_stroke(window, qtlog):
    paint(window, [(20, 40), (90, 40)], size=8)
    painted = window.document.mask.copy()
    assert painted.any()
    for redo_key in keys_for("Edit ▸ Redo"):
        press(window.canvas, keys_for("Edit ▸ Undo")[0])
        assert not window.document.mask.any()
        press(window.canvas, redo_key)
        assert np.array_equal(window.document.mask, painted), redo_key
    _no_ambiguity(qtlog)


def test_tool_keys_switch_the_tool(window):
    tools = {action.text(): key for key, action in window.tool_actions.items()}
    rows = [(keys, does.split("▸ ")[1]) for keys, does in MENU_ROWS if does.startswith("Tools")]
    assert {name for _, name in rows} >= set(tools)
    for keys, name in reversed(rows):  # ends on the brush
        if name in tools:
            press(window.canvas, keys[0])
            assert window.tool_actions[tools[name]].isChecked(), name
            assert window.canvas.tool is window.tools[tools[name]]


def test_space_drag_pans_and_backslash_shows_the_original(window, rgb_image):
    assert OTHER_ROWS["pan the view"] == ["Space"]
    window.canvas.set_zoom(4.0)
    before = window.canvas.mapFromScene(0, 0)
    QTest.keyPress(window.canvas, Qt.Key.Key_Space)
    drag(window, [(40, 40), (30, 35), (20, 30)])
    QTest.keyRelease(window.canvas, Qt.Key.Key_Space)
    after = window.canvas.mapFromScene(0, 0)
    assert after - before != QPoint(0, 0)
    assert not window.document.mask.any()  # panning never paints

    assert OTHER_ROWS["show the whole image as opened"] == ["\\"]
    QTest.keyPress(window, Qt.Key.Key_Backslash)
    assert window.canvas.compare_split == 1.0
    QTest.keyRelease(window, Qt.Key.Key_Backslash)
    assert window.canvas.compare_split is None


@pytest.mark.skipif(
    os.environ.get("QT_QPA_PLATFORM") == "xcb" or shutil.which("xvfb-run") is None,
    reason="already under X11, or Xvfb is not installed (scripts/qt-system-libs.sh installs it)",
)
def test_the_same_keys_in_a_real_x11_window(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run(
        [
            "xvfb-run",
            "-a",
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestUnraisableExceptionWarning",
            __file__,
        ],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
