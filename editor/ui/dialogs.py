"""Small dialogs: format options when saving, and the preferences."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from editor.core.imageio import SaveOptions
from editor.engine.device import set_cpu_threads
from editor.ui.settings import Settings


def _ok_cancel(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class SaveOptionsDialog(QDialog):
    """Quality and compression for the formats that have them."""

    FORMATS_WITH_OPTIONS = ("JPEG", "PNG", "WEBP", "TIFF")

    def __init__(self, parent, fmt: str, options: SaveOptions) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{fmt} options")
        self.fmt = fmt
        self.options = options
        form = QFormLayout(self)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.compression = QSpinBox()
        self.compression.setRange(0, 9)
        self.lossless = QCheckBox("Lossless")
        self.tiff = QComboBox()
        self.tiff.addItem("LZW", "tiff_lzw")
        self.tiff.addItem("None", "none")
        if fmt == "JPEG":
            self.quality.setValue(options.jpeg_quality)
            form.addRow("Quality", self.quality)
        elif fmt == "WEBP":
            self.quality.setValue(options.webp_quality)
            self.lossless.setChecked(options.webp_lossless)
            form.addRow("Quality", self.quality)
            form.addRow("", self.lossless)
        elif fmt == "PNG":
            self.compression.setValue(options.png_compression)
            form.addRow("Compression (0–9)", self.compression)
        elif fmt == "TIFF":
            self.tiff.setCurrentIndex(max(0, self.tiff.findData(options.tiff_compression)))
            form.addRow("Compression", self.tiff)
        form.addRow(_ok_cancel(self))

    def result_options(self) -> SaveOptions:
        if self.fmt == "JPEG":
            return replace(self.options, jpeg_quality=self.quality.value())
        if self.fmt == "WEBP":
            return replace(
                self.options,
                webp_quality=self.quality.value(),
                webp_lossless=self.lossless.isChecked(),
            )
        if self.fmt == "PNG":
            return replace(self.options, png_compression=self.compression.value())
        if self.fmt == "TIFF":
            return replace(self.options, tiff_compression=self.tiff.currentData())
        return self.options

    @classmethod
    def ask(cls, parent, fmt: str, options: SaveOptions) -> SaveOptions | None:
        """The options to save with, or None if the user cancelled."""
        if fmt.upper() not in cls.FORMATS_WITH_OPTIONS:
            return options
        dialog = cls(parent, fmt.upper(), options)
        return dialog.result_options() if dialog.exec() == QDialog.DialogCode.Accepted else None


class PreferencesDialog(QDialog):
    """Models folder, compute device, CPU threads, the image size limit and autosave."""

    def __init__(self, parent, settings: Settings) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        form = QFormLayout(self)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.models_dir = QLineEdit(settings.models_dir())
        self.models_dir.setPlaceholderText("(SEMEDIT_MODELS, else the user data folder)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        layout.addWidget(self.models_dir, 1)
        layout.addWidget(browse)
        form.addRow("Models folder", row)
        self.device = QComboBox()
        for text, value in (
            ("Automatic (CUDA when present)", "auto"),
            ("CPU", "cpu"),
            ("CUDA", "cuda"),
        ):
            self.device.addItem(text, value)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device())))
        form.addRow("Device (next start)", self.device)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("Default")
        self.threads.setValue(settings.cpu_threads())
        form.addRow("CPU threads", self.threads)
        self.max_mp = QDoubleSpinBox()
        self.max_mp.setRange(1, 10000)
        self.max_mp.setSuffix(" MP")
        self.max_mp.setValue(settings.max_megapixels())
        form.addRow("Largest image to open", self.max_mp)
        self.autosave = QSpinBox()
        self.autosave.setRange(0, 3600)
        self.autosave.setSpecialValueText("Off")
        self.autosave.setSuffix(" s")
        self.autosave.setValue(settings.autosave_seconds())
        self.autosave.setToolTip(
            "Unsaved work (image, mask, style regions) is copied this long after each change "
            "and offered back if SemEdit does not close properly. 0 turns it off."
        )
        form.addRow("Autosave after (seconds)", self.autosave)
        form.addRow(_ok_cancel(self))

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Models folder", self.models_dir.text())
        if path:
            self.models_dir.setText(path)

    def store(self) -> None:
        self.settings.set_models_dir(self.models_dir.text().strip())
        self.settings.set_device(self.device.currentData())
        self.settings.set_cpu_threads(self.threads.value())
        set_cpu_threads(self.threads.value() or None)
        self.settings.set_max_megapixels(self.max_mp.value())
        self.settings.set_autosave_seconds(self.autosave.value())

    @classmethod
    def edit(cls, parent, settings: Settings) -> bool:
        dialog = cls(parent, settings)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            dialog.store()
            return True
        return False
