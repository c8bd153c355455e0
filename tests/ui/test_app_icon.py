"""The window icon and desktop identity run_app sets, and its quit-after-start switch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSize

from editor.ui.app_icon import APP_ID, ICON_SIZES, app_icon, icon_theme_dir

REPO = Path(__file__).resolve().parents[2]


def test_the_icon_comes_from_the_checkouts_resources_folder(qtbot):
    assert icon_theme_dir() == REPO / "resources" / "icons" / "hicolor"
    icon = app_icon()
    assert not icon.isNull()
    for size in (ICON_SIZES[0], 48, ICON_SIZES[-1]):
        image = icon.pixmap(QSize(size, size)).toImage()
        assert image.width() == size
        centre = image.pixelColor(size // 2, size // 2)
        assert centre.alpha() == 255  # drawn, not a transparent placeholder


def test_run_app_sets_icon_and_desktop_file_name_then_quits_when_asked(tmp_path):
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from editor.ui import main_window\n"
        "code = main_window.run_app(['semedit'])\n"
        "app = QApplication.instance()\n"
        "print(app.desktopFileName(), app.windowIcon().isNull())\n"
        "sys.exit(code)\n"
    )
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "QT_QPA_PLATFORM": "offscreen",
        "SEMEDIT_QUIT_AFTER_START": "1",
        "PYTHONPATH": str(REPO),
    }
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.split()[-2:] == [APP_ID, "False"]
