"""The Tool options dock: the settings of the current tool and of the mask overlay."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from editor.core.mask_ops import Combine
from editor.ui.tools import BrushTool, FacePickTool, MagicWandTool, RegionTool, Tool

MAX_BRUSH = 2000


def _slider_with_box(
    minimum: int, maximum: int, suffix: str = ""
) -> tuple[QWidget, QSlider, QSpinBox]:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(minimum, maximum)
    box = QSpinBox()
    box.setRange(minimum, maximum)
    box.setSuffix(suffix)
    slider.valueChanged.connect(box.setValue)
    box.valueChanged.connect(slider.setValue)
    layout.addWidget(slider, 1)
    layout.addWidget(box)
    return row, slider, box


class ToolOptions(QWidget):
    """Shows the options of whichever tool is current and writes changes back to it."""

    maskStyleChanged = Signal(QColor, float)
    brushChanged = Signal(object)  # Brush: the brush and the eraser share one

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tool: Tool | None = None
        self._updating = False
        outer = QVBoxLayout(self)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack)

        # brush / eraser
        brush_page = QWidget()
        form = QFormLayout(brush_page)
        row, _, self.size_box = _slider_with_box(1, MAX_BRUSH, " px")
        form.addRow("Size  [ ]", row)
        row, _, self.hardness_box = _slider_with_box(0, 100, " %")
        form.addRow("Hardness", row)
        row, _, self.opacity_box = _slider_with_box(1, 100, " %")
        form.addRow("Opacity", row)
        for box in (self.size_box, self.hardness_box, self.opacity_box):
            box.valueChanged.connect(self._brush_changed)
        self.stack.addWidget(brush_page)

        # region tools
        region_page = QWidget()
        form = QFormLayout(region_page)
        self.mode_combo = QComboBox()
        for mode in Combine:
            self.mode_combo.addItem(mode.value.capitalize(), mode)
        self.mode_combo.setToolTip("Shift adds, Alt subtracts, Shift+Alt intersects")
        self.mode_combo.currentIndexChanged.connect(self._region_changed)
        form.addRow("Mode", self.mode_combo)
        self.tolerance_box = QSpinBox()
        self.tolerance_box.setRange(0, 255)
        self.tolerance_box.valueChanged.connect(self._region_changed)
        self.contiguous_box = QCheckBox("Contiguous")
        self.contiguous_box.toggled.connect(self._region_changed)
        form.addRow("Tolerance", self.tolerance_box)
        form.addRow("", self.contiguous_box)
        self._region_form = form
        self.stack.addWidget(region_page)

        # other tools (the face picker): what a click does
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.stack.addWidget(self.hint_label)

        # mask overlay, always shown
        overlay = QWidget()
        form = QFormLayout(overlay)
        self.color_button = QPushButton()
        self.color_button.setToolTip("Colour of the mask overlay")
        row, _, self.overlay_box = _slider_with_box(5, 100, " %")
        self.overlay_box.valueChanged.connect(self._overlay_changed)
        form.addRow("Mask colour", self.color_button)
        form.addRow("Mask opacity", row)
        outer.addWidget(overlay)
        outer.addStretch(1)
        self._color = QColor(255, 40, 60)

    # --- tool ----------------------------------------------------------------------------------

    def set_tool(self, tool: Tool | None) -> None:
        self.tool = tool
        self._updating = True
        try:
            if isinstance(tool, BrushTool):
                self.stack.setCurrentIndex(0)
                self.size_box.setValue(int(round(tool.brush.size)))
                self.hardness_box.setValue(int(round(tool.brush.hardness * 100)))
                self.opacity_box.setValue(int(round(tool.brush.opacity * 100)))
            elif isinstance(tool, RegionTool):
                self.stack.setCurrentIndex(1)
                self.mode_combo.setCurrentIndex(list(Combine).index(tool.mode))
                wand = isinstance(tool, MagicWandTool)
                # Only the wand's own options: greyed-out ones on other tools read as broken.
                self._region_form.setRowVisible(self.tolerance_box, wand)
                self._region_form.setRowVisible(self.contiguous_box, wand)
                if wand:
                    self.tolerance_box.setValue(int(tool.tolerance))
                    self.contiguous_box.setChecked(tool.contiguous)
            elif isinstance(tool, FacePickTool):
                self.stack.setCurrentIndex(2)
                self.hint_label.setText(
                    "Click a face to choose it for Face Swap; the Faces panel holds the new face"
                )
        finally:
            self._updating = False

    def refresh(self) -> None:
        self.set_tool(self.tool)

    def _brush_changed(self) -> None:
        if self._updating or not isinstance(self.tool, BrushTool):
            return
        self.brushChanged.emit(
            replace(
                self.tool.brush,
                size=float(self.size_box.value()),
                hardness=self.hardness_box.value() / 100,
                opacity=self.opacity_box.value() / 100,
            )
        )

    def _region_changed(self) -> None:
        if self._updating or not isinstance(self.tool, RegionTool):
            return
        self.tool.mode = self.mode_combo.currentData()
        if isinstance(self.tool, MagicWandTool):
            self.tool.tolerance = float(self.tolerance_box.value())
            self.tool.contiguous = self.contiguous_box.isChecked()

    # --- overlay -------------------------------------------------------------------------------

    def set_mask_style(self, color: QColor, opacity: float) -> None:
        self._color = QColor(color)
        self.color_button.setStyleSheet(f"background-color: {color.name()}; min-height: 18px")
        self._updating = True
        self.overlay_box.setValue(int(round(opacity * 100)))
        self._updating = False

    def _overlay_changed(self) -> None:
        if not self._updating:
            self.maskStyleChanged.emit(self._color, self.overlay_box.value() / 100)
