"""Render the app icon's PNG sizes from its SVG (run after editing the SVG; commit the PNGs).

    PYTHONPATH=. python resources/render-icons.py

Writes resources/icons/hicolor/<N>x<N>/apps/io.github.semedit.SemEdit.png for every size in
SIZES, the freedesktop icon-theme layout that packaging/build-deb.sh copies to /usr/share/icons.
Uses Qt's own SVG renderer (QtSvg ships with PySide6-Essentials), no display needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_ID = "io.github.semedit.SemEdit"
SIZES = (16, 32, 48, 64, 128, 256, 512)
HICOLOR = Path(__file__).resolve().parent / "icons" / "hicolor"
SVG = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(["render-icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"render-icons: {SVG} is not a valid SVG", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            print(f"render-icons: could not write {out}", file=sys.stderr)
            return 1
        print(out.relative_to(HICOLOR.parent.parent))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
