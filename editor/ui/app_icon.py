"""The application's icon and desktop identity, found the same way in a checkout and a bundle.

The icon files live in the top-level `resources/icons/hicolor` (the freedesktop icon-theme layout
that the .deb installs under /usr/share/icons). In a source checkout that folder sits beside the
`editor` package; PyInstaller's one-folder bundle puts it at the same place relative to the
frozen `editor` package (`_internal/resources` beside `_internal/editor`), so one path serves
both. An installed wheel has neither: the icon then comes from the desktop's icon theme, which
has it when the .deb (or another package) installed it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

import editor

APP_ID = "io.github.semedit.SemEdit"
"""The reverse-DNS id of the .desktop file, the AppStream metainfo and the icon's name."""
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def icon_theme_dir() -> Path:
    """`resources/icons/hicolor` beside the `editor` package (checkout or bundle)."""
    return Path(editor.__file__).resolve().parent.parent / "resources" / "icons" / "hicolor"


def app_icon() -> QIcon:
    """The SemEdit icon: the SVG plus each rendered PNG size, else the theme's icon (maybe null)."""
    root = icon_theme_dir()
    icon = QIcon()
    svg = root / "scalable" / "apps" / f"{APP_ID}.svg"
    if svg.is_file():
        icon.addFile(str(svg))
    for size in ICON_SIZES:
        png = root / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        if png.is_file():
            icon.addFile(str(png))
    if icon.isNull():
        icon = QIcon.fromTheme(APP_ID)
    return icon
