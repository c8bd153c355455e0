"""The shown main window UI test modules start from."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from editor.ui.main_window import MainWindow


@contextmanager
def shown_window(
    qtbot, monkeypatch, tmp_path: Path, size: tuple[int, int] = (1000, 700), **kwargs
) -> Iterator[MainWindow]:
    """A MainWindow on its own settings file (kwargs go to it), shown and exposed; closed at the
    end without asking to save."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, **kwargs)
    win.resize(*size)
    win.show()
    qtbot.waitExposed(win)
    try:
        yield win
    finally:
        monkeypatch.setattr(win, "ask_save_changes", lambda *_: QMessageBox.StandardButton.Discard)
        win.close()
        win.deleteLater()
