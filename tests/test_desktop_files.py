"""resources/: the .desktop file and AppStream metainfo pass their validators; the icon sizes exist.

The validators come from Debian's desktop-file-utils and appstream packages, which
`scripts/qt-system-libs.sh --with-xvfb` (run by `make test`) installs; a test skips only when
its tool is absent, and says which package to install.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor import __version__
from editor.core.imageio import SUPPORTED_EXTENSIONS
from editor.ui.app_icon import APP_ID, ICON_SIZES

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DESKTOP = RESOURCES / f"{APP_ID}.desktop"
METAINFO = RESOURCES / f"{APP_ID}.metainfo.xml"
HICOLOR = RESOURCES / "icons" / "hicolor"
OPENED_TYPES = {"image/" + fmt.lower() for fmt in SUPPORTED_EXTENSIONS.values()}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {package}, or make test)")
    return path


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_passes_desktop_file_validate():
    tool = _tool("desktop-file-validate", "desktop-file-utils")
    run = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "error" not in run.stdout, run.stdout + run.stderr


def test_metainfo_passes_appstreamcli_validate():
    tool = _tool("appstreamcli", "appstream")
    run = subprocess.run(
        [tool, "validate", "--no-net", "--explain", str(METAINFO)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_desktop_entry_launches_semedit_with_files_of_the_types_it_opens():
    entry = _desktop_entry()
    assert entry["Exec"] == "semedit %F"
    assert entry["Icon"] == APP_ID
    assert {"Graphics", "RasterGraphics"} <= set(filter(None, entry["Categories"].split(";")))
    assert set(filter(None, entry["MimeType"].split(";"))) == OPENED_TYPES


def test_metainfo_names_the_app_its_launcher_release_and_media_types():
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    assert root.find("launchable").text == DESKTOP.name
    assert __version__ in [r.get("version") for r in root.iter("release")]
    assert {m.text for m in root.iter("mediatype")} == OPENED_TYPES


@pytest.mark.parametrize("size", ICON_SIZES)
def test_icon_png_has_its_size_and_is_not_blank(size):
    path = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (size, size)
        rgba = np.asarray(image.convert("RGBA"))
    opaque = rgba[..., 3] > 0
    assert 0.5 < opaque.mean() < 1.0  # a drawn icon on a transparent ground
    assert rgba[opaque][:, :3].std() > 20  # more than one flat colour


def test_scalable_icon_is_the_svg_the_pngs_are_rendered_from():
    svg = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
    root = ET.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 128 128"
