"""Options of the style brush and texture tools: the run's parameters, the regions, the sample.

Only widgets and the values they hold; `editor.ui.style_edits` turns them into requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from editor.engine.edits import style
from editor.ui.settings import Settings

METHOD_LABELS = {
    "gatys": "Gatys (Gram matrices)",
    "mrf": "Patches (CNNMRF)",
    "wct": "Fast (universal)",
    "fast": "Fast style network",
}


AUTO_ITERATIONS = 0
"""The iterations box's minimum, shown as "Auto"."""


@dataclass(frozen=True)
class StyleParams:
    """What the user chose for the next style run."""

    method: str = style.DEFAULT_METHOD
    strength: float = style.DEFAULT_STRENGTH
    keep_colors: bool = False
    style_scale: float = 1.0
    iterations: int | None = None
    """None: Auto, the network's own default (`style.default_iterations`)."""


def _swatch(color: QColor) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(color)
    return QIcon(pix)


class StyleOptions(QWidget):
    """Method, strength, colours, scale, iterations; the stored regions; the texture sample."""

    removeRegionRequested = Signal(int)  # row
    clearRegionsRequested = Signal()
    clearSampleRequested = Signal()

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 0, 4, 4)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.method_combo = QComboBox()
        for method in style.PICTURE_METHODS:
            self.method_combo.addItem(METHOD_LABELS.get(method, method), method)
        self.method_combo.setToolTip(self.PICTURE_TIP)
        form.addRow("Method", self.method_combo)
        strength_row = QWidget()
        row = QHBoxLayout(strength_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.strength_slider = QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setToolTip("Left keeps more of the picture, right paints more style")
        row.addWidget(QLabel("Content"))
        row.addWidget(self.strength_slider, 1)
        row.addWidget(QLabel("Style"))
        form.addRow("Strength", strength_row)
        self.keep_colors_box = QCheckBox("Keep original colours")
        self.keep_colors_box.setToolTip("Take only the style's brushwork, not its palette")
        form.addRow("", self.keep_colors_box)
        self.scale_box = QDoubleSpinBox()
        self.scale_box.setRange(0.25, 4.0)
        self.scale_box.setSingleStep(0.25)
        self.scale_box.setDecimals(2)
        self.scale_box.setSuffix(" ×")
        self.scale_box.setToolTip("Above 1 the style's brush strokes (or texture) come out larger")
        form.addRow("Style scale", self.scale_box)
        self.iterations_box = QSpinBox()
        self.iterations_box.setRange(AUTO_ITERATIONS, 5000)
        self.iterations_box.setSpecialValueText("Auto")
        self.iterations_box.setSingleStep(25)
        self.iterations_box.setToolTip(
            "More steps converge further; Apply stops a run early and keeps what it shows. "
            f"Auto: {style.FULL_ITERATIONS} on the full VGG19, "
            f"{style.DEFAULT_ITERATIONS} otherwise"
        )
        form.addRow("Iterations", self.iterations_box)
        self.live_box = QCheckBox("Live preview while painting")
        self.live_box.setToolTip(
            "With a fast style or Fast (universal): each brush stroke shows the style in the "
            "painted area at once; Apply (Ctrl+Return) renders it at full size"
        )
        form.addRow("", self.live_box)
        outer.addLayout(form)

        regions = QGroupBox("Regions (several styles in one run)")
        box = QVBoxLayout(regions)
        box.setContentsMargins(4, 4, 4, 4)
        self.region_list = QListWidget()
        self.region_list.setMaximumHeight(72)
        self.region_list.setToolTip(
            "Paint an area, pick its style, Add region; repeat; Stylise runs them all at once"
        )
        box.addWidget(self.region_list)
        buttons = QHBoxLayout()
        self.add_region_button = QToolButton()
        self.remove_region_button = QPushButton("Remove")
        self.clear_regions_button = QPushButton("Clear")
        for button in (
            self.add_region_button,
            self.remove_region_button,
            self.clear_regions_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        box.addLayout(buttons)
        outer.addWidget(regions)
        self.remove_region_button.clicked.connect(self._remove_region)
        self.clear_regions_button.clicked.connect(self.clearRegionsRequested)
        self.region_list.currentRowChanged.connect(self._update_region_buttons)

        texture = QGroupBox("Texture sample")
        box = QVBoxLayout(texture)
        box.setContentsMargins(4, 4, 4, 4)
        self.sample_label = QLabel()
        self.sample_label.setWordWrap(True)
        box.addWidget(self.sample_label)
        buttons = QHBoxLayout()
        self.use_sample_button = QToolButton()
        self.clear_sample_button = QPushButton("Use style")
        self.clear_sample_button.setToolTip("Take the texture from the selected style again")
        self.clear_sample_button.clicked.connect(self.clearSampleRequested)
        buttons.addWidget(self.use_sample_button)
        buttons.addWidget(self.clear_sample_button)
        buttons.addStretch(1)
        box.addLayout(buttons)
        outer.addWidget(texture)

        # the run buttons: a separate strip, so the window can keep them in sight below a
        # scrolling options area
        self.run_buttons = QWidget()
        run_row = QHBoxLayout(self.run_buttons)
        run_row.setContentsMargins(4, 2, 4, 2)
        self.stylise_button = QToolButton()
        self.texture_button = QToolButton()
        for button in (self.stylise_button, self.texture_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            run_row.addWidget(button, 1)

        self.load_settings()
        for signal in (
            self.method_combo.currentIndexChanged,
            self.strength_slider.valueChanged,
            self.keep_colors_box.toggled,
            self.scale_box.valueChanged,
            self.iterations_box.valueChanged,
        ):
            signal.connect(self._save_settings)
        self.live_box.setChecked(settings._bool("style/live_preview", True))
        self.live_box.toggled.connect(lambda on: settings.q.setValue("style/live_preview", on))
        self.set_regions([])
        self.set_sample(None)

    PICTURE_TIP = (
        "Gatys: matches the style's colour and texture statistics; "
        "Patches: copies the style's neural patches, smoother where styles mix badly; "
        "Fast (universal): any picture in one pass (whitening and colouring transforms), "
        "with a live preview while painting"
    )

    def set_fast_style(self, fast: bool) -> None:
        """A fast style network is selected: it has its own method (one pass), no iterations."""
        self._fast_selected = fast
        combo = self.method_combo
        combo.blockSignals(True)  # showing "fast" is not a choice to remember
        at = combo.findData("fast")
        if fast and at < 0:
            self._picture_method = combo.currentData()
            combo.addItem(METHOD_LABELS["fast"], "fast")
            combo.setCurrentIndex(combo.count() - 1)
        elif not fast and at >= 0:
            combo.removeItem(at)
            combo.setCurrentIndex(max(0, combo.findData(getattr(self, "_picture_method", None))))
        combo.blockSignals(False)
        if fast != getattr(self, "_strength_is_fast", False):
            # A fast style's strength blends its output with the photo (1 = as trained), not a
            # content/style balance: each kind keeps its own slider position.
            kept = self.strength_slider.value()
            self.strength_slider.blockSignals(True)
            self.strength_slider.setValue(
                getattr(self, "_other_strength", round(style.FAST_STRENGTH * 100))
            )
            self.strength_slider.blockSignals(False)
            self._other_strength = kept
            self._strength_is_fast = fast
        self.method_combo.setEnabled(not fast)
        self.iterations_box.setEnabled(not fast)
        self.method_combo.setToolTip(
            "A fast style network runs its own method: one pass, previewed live while painting"
            if fast
            else self.PICTURE_TIP
        )

    def effective_method(self) -> str:
        """The method Stylise runs now: "fast" for a fast style, else the chosen one."""
        return "fast" if getattr(self, "_fast_selected", False) else self.params().method

    def live_preview_on(self) -> bool:
        """Live brush preview wanted and possible (a one-pass method)."""
        return self.live_box.isChecked() and self.effective_method() in style.ONE_PASS_METHODS

    def bind_actions(self, stylise, texture, add_region, use_sample) -> None:
        """Buttons that mirror the window's actions (text, enabled state, shortcut tips)."""
        self.stylise_button.setDefaultAction(stylise)
        self.texture_button.setDefaultAction(texture)
        self.add_region_button.setDefaultAction(add_region)
        self.use_sample_button.setDefaultAction(use_sample)
        for button in (self.stylise_button, self.texture_button):
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    # --- parameters --------------------------------------------------------------------------

    def params(self) -> StyleParams:
        method = self.method_combo.currentData()
        if method == "fast":  # the picture method chosen before a fast style was selected
            method = getattr(self, "_picture_method", None) or style.DEFAULT_METHOD
        return StyleParams(
            method=method,
            strength=self.strength_slider.value() / 100,
            keep_colors=self.keep_colors_box.isChecked(),
            style_scale=float(self.scale_box.value()),
            iterations=int(self.iterations_box.value()) or None,
        )

    def set_params(self, params: StyleParams) -> None:
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(params.method)))
        self.strength_slider.setValue(int(round(params.strength * 100)))
        self.keep_colors_box.setChecked(params.keep_colors)
        self.scale_box.setValue(params.style_scale)
        self.iterations_box.setValue(params.iterations or AUTO_ITERATIONS)

    def load_settings(self) -> None:
        s = self.settings
        self.set_params(
            StyleParams(
                s.style_method(),
                s.style_strength(),
                s.style_keep_colors(),
                s.style_scale(),
                s.style_iterations(),
            )
        )

    def _save_settings(self, *_) -> None:
        p = self.params()
        self.settings.set_style_options(
            p.method, p.strength, p.keep_colors, p.style_scale, p.iterations
        )

    # --- regions and sample ------------------------------------------------------------------

    def set_regions(self, regions: list[tuple[str, QColor]]) -> None:
        """Show the stored regions: (label, overlay colour) each."""
        self.region_list.clear()
        for label, color in regions:
            self.region_list.addItem(QListWidgetItem(_swatch(color), label))
        if not regions:
            item = QListWidgetItem("None: Stylise uses the painted mask")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.region_list.addItem(item)
        self.clear_regions_button.setEnabled(bool(regions))
        self._has_regions = bool(regions)
        self._update_region_buttons()

    def _update_region_buttons(self, *_) -> None:
        self.remove_region_button.setEnabled(
            getattr(self, "_has_regions", False) and self.region_list.currentRow() >= 0
        )

    def _remove_region(self) -> None:
        row = self.region_list.currentRow()
        if row >= 0 and self._has_regions:
            self.removeRegionRequested.emit(row)

    def set_sample(self, size: tuple[int, int] | None) -> None:
        """(width, height) of a sample taken from the canvas; None: the selected style is used."""
        if size is None:
            self.sample_label.setText("From the selected style")
        else:
            self.sample_label.setText(f"From the canvas: {size[0]} × {size[1]} px")
        self.clear_sample_button.setEnabled(size is not None)
