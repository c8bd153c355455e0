"""Preferences kept between runs, on top of QSettings (one place knows the keys and defaults),
and the model store those preferences point at."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtGui import QColor

from editor.core.imageio import DEFAULT_MAX_MEGAPIXELS
from editor.engine.edits import style
from editor.engine.store import ModelStore, default_models_dir

MAX_RECENT = 10
DEFAULT_AUTOSAVE_SECONDS = 3


class Settings:
    """Typed access to the app's QSettings. Tests pass their own QSettings (an ini in tmp)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings if qsettings is not None else QSettings("SemEdit", "SemEdit")

    def _bool(self, key: str, default: bool) -> bool:
        value = self.q.value(key, default)
        if isinstance(value, str):  # ini files give strings back
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def _get(self, key: str, default, kind):
        value = self.q.value(key, default)
        try:
            return kind(value)
        except (TypeError, ValueError):
            return default

    # --- files -------------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        value = self.q.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        files = [path] + [p for p in self.recent_files() if p != path]
        self.q.setValue("files/recent", files[:MAX_RECENT])

    def remove_recent(self, path: str) -> None:
        self.q.setValue("files/recent", [p for p in self.recent_files() if p != path])

    def last_dir(self) -> str:
        """Where file dialogs start: the folder used last, while it still exists and can be
        read by this user (a settings file can outlive its folders, or come from elsewhere);
        else the home folder."""
        stored = Path(str(self.q.value("files/last_dir", "") or ""))
        if (
            str(stored) not in ("", ".")
            and stored.is_dir()
            and os.access(stored, os.R_OK | os.X_OK)
        ):
            return str(stored)
        return str(Path.home())

    def set_last_dir(self, path: str | Path) -> None:
        self.q.setValue("files/last_dir", str(Path(path).parent))

    def train_photos_dir(self) -> Path:
        """The photo folder Train Fast Style starts with: the one chosen last while it still
        exists, else the user's Pictures folder, else the home folder."""
        stored = Path(str(self.q.value("train_style/photos_dir", "") or ""))
        if str(stored) not in ("", ".") and stored.is_dir():
            return stored
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()

    def set_train_photos_dir(self, path: str | Path) -> None:
        self.q.setValue("train_style/photos_dir", str(Path(path).absolute()))

    # --- mask overlay --------------------------------------------------------------------------

    def mask_color(self) -> QColor:
        return QColor(str(self.q.value("mask/color", "#ff283c")))

    def set_mask_color(self, color: QColor) -> None:
        self.q.setValue("mask/color", color.name())

    def mask_opacity(self) -> float:
        return self._get("mask/opacity", 0.5, float)

    def set_mask_opacity(self, value: float) -> None:
        self.q.setValue("mask/opacity", float(value))

    # --- engine ------------------------------------------------------------------------------

    def models_dir(self) -> str:
        return str(self.q.value("engine/models_dir", ""))

    def set_models_dir(self, path: str) -> None:
        self.q.setValue("engine/models_dir", path)

    def device(self) -> str:
        return str(self.q.value("engine/device", "auto"))

    def set_device(self, device: str) -> None:
        self.q.setValue("engine/device", device)

    def cpu_threads(self) -> int:
        """0 means PyTorch's default."""
        return self._get("engine/cpu_threads", 0, int)

    def set_cpu_threads(self, n: int) -> None:
        self.q.setValue("engine/cpu_threads", int(n))

    def max_megapixels(self) -> float:
        return self._get("files/max_megapixels", float(DEFAULT_MAX_MEGAPIXELS), float)

    def set_max_megapixels(self, value: float) -> None:
        self.q.setValue("files/max_megapixels", float(value))

    def max_pixels(self) -> int:
        return int(self.max_megapixels() * 1_000_000)

    def autosave_seconds(self) -> int:
        """How long after a change unsaved work is copied for crash recovery; 0 = never."""
        return max(0, self._get("files/autosave_seconds", DEFAULT_AUTOSAVE_SECONDS, int))

    def set_autosave_seconds(self, seconds: int) -> None:
        self.q.setValue("files/autosave_seconds", max(0, int(seconds)))

    # --- style edits -------------------------------------------------------------------------

    def selected_style(self) -> str:
        """The id of the style library entry last selected ("" for none)."""
        return str(self.q.value("style/selected", ""))

    def set_selected_style(self, style_id: str) -> None:
        self.q.setValue("style/selected", style_id)

    def upscale_look(self) -> str:
        """ "faithful" (the PSNR networks, the default) or "sharp" (a GAN network)."""
        look = str(self.q.value("upscale/look", "faithful"))
        return look if look in ("faithful", "sharp") else "faithful"

    def set_upscale_look(self, look: str) -> None:
        self.q.setValue("upscale/look", look)

    def style_method(self) -> str:
        method = str(self.q.value("style/method", style.DEFAULT_METHOD))
        return method if method in style.METHODS else style.DEFAULT_METHOD

    def style_strength(self) -> float:
        return min(1.0, max(0.0, self._get("style/strength", style.DEFAULT_STRENGTH, float)))

    def style_keep_colors(self) -> bool:
        return self._bool("style/keep_colors", False)

    def style_scale(self) -> float:
        return self._get("style/scale", 1.0, float)

    def style_iterations(self) -> int | None:
        """None: Auto. Stored under a new key: the old "style/iterations" held 120, written
        whenever any style option changed, and would pin the full VGG19 to conv1-3's budget."""
        return self._get("style/steps", 0, int) or None

    def set_style_options(
        self, method: str, strength: float, keep_colors: bool, scale: float, iterations: int | None
    ) -> None:
        self.q.setValue("style/method", method)
        self.q.setValue("style/strength", float(strength))
        self.q.setValue("style/keep_colors", bool(keep_colors))
        self.q.setValue("style/scale", float(scale))
        self.q.setValue("style/steps", int(iterations or 0))


def make_store(settings: Settings) -> ModelStore:
    """The store the GUI uses: the Preferences models folder, else $SEMEDIT_MODELS.

    Made afresh where it is needed, so a models folder changed in Preferences takes effect."""
    folder = settings.models_dir()
    return ModelStore(models_dir=Path(folder) if folder else default_models_dir())
