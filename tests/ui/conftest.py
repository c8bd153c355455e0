"""UI tests never block on a modal dialog: an unexpected one fails the test instead."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QColorDialog, QFileDialog, QInputDialog, QMessageBox


def _unexpected(name):
    def fail(*args, **kwargs):
        raise AssertionError(f"unexpected modal dialog: {name}{args[1:3]}")

    return fail


@pytest.fixture(autouse=True)
def _no_modal_dialogs(monkeypatch):
    for owner, names in (
        (QMessageBox, ("question", "warning", "information", "critical", "about")),
        (
            QFileDialog,
            ("getOpenFileName", "getOpenFileNames", "getSaveFileName", "getExistingDirectory"),
        ),
        (QInputDialog, ("getInt", "getDouble", "getText")),
        (QColorDialog, ("getColor",)),
    ):
        for name in names:
            monkeypatch.setattr(owner, name, _unexpected(f"{owner.__name__}.{name}"))


@pytest.fixture
def image_file(tmp_path, rgb_image):
    """A small photo on disk (the rgb_image fixture as PNG)."""
    from editor.core.imageio import save_image

    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    return path


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """A shown 900×700 window whose error dialogs are collected in `window.errors`."""
    from shown_window import shown_window

    with shown_window(qtbot, monkeypatch, tmp_path, size=(900, 700)) as win:
        win.errors = []
        monkeypatch.setattr(win, "show_error", lambda title, text: win.errors.append(text))
        yield win
