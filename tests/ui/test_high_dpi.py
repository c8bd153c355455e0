"""On a high-DPI screen, 100 % still means one image pixel per physical screen pixel."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from editor.core.document import Document
from editor.ui.main_window import MainWindow
import sys, tempfile
ini = tempfile.mktemp(suffix='.ini')
w = MainWindow(settings=QSettings(ini, QSettings.Format.IniFormat))
w.show()
w.set_document(Document(image=np.zeros((300, 400, 3), np.uint8)))
w.canvas.actual_size()
print(w.devicePixelRatioF(), w.canvas.zoom, w.canvas.transform().m11())
w.engine.shutdown()
"""


def test_actual_pixels_accounts_for_the_device_pixel_ratio(tmp_path):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        QT_SCALE_FACTOR="2",
        XDG_DATA_HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path),
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr
    dpr, zoom, m11 = map(float, run.stdout.split()[-3:])
    assert dpr == 2.0
    assert abs(zoom - 1.0) < 1e-9
    assert abs(m11 - 0.5) < 1e-9  # half a logical pixel = one physical pixel
