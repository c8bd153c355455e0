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
