"""The main window: menus, tools, docks, the job bar and the file workflow around one document.

Each edit family's logic (requests, menus' state, results) lives in its controller
(`remove_edits`, `style_edits`, `face_edits`, `upscale_edits`); the window wires actions to them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QColorDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from editor import __version__
from editor.core import mask_ops
from editor.core.document import Document, Layer
from editor.core.face_sets import FaceSetLibrary
from editor.core.imageio import (
    OPEN_FILTER,
    SUPPORTED_EXTENSIONS,
    ImageIOError,
    SaveOptions,
    format_for_path,
    load_mask,
    save_image,
    save_mask,
)
from editor.core.patch import ArrayPatch
from editor.core.style_library import StyleLibrary
from editor.engine.models import fast_styles
from editor.engine.models.fast_styles import list_fast_styles
from editor.engine.models.manager import Models
from editor.engine.spill import remove_stale
from editor.engine.worker import Engine
from editor.ui.app_icon import APP_ID, app_icon
from editor.ui.autosave import Autosaver
from editor.ui.canvas import CanvasView
from editor.ui.commands import PatchCommand
from editor.ui.dialogs import PreferencesDialog, SaveOptionsDialog
from editor.ui.edit_session import EditSession
from editor.ui.face_edits import FaceEdits
from editor.ui.face_panel import FacePanel
from editor.ui.job_bar import JobBar
from editor.ui.main_thread_gc import MainThreadGC
from editor.ui.models_dialog import ModelsDialog
from editor.ui.remove_edits import RemoveEdits
from editor.ui.settings import Settings, make_store
from editor.ui.shortcuts import key_sequences
from editor.ui.style_edits import StyleEdits
from editor.ui.style_options import StyleOptions
from editor.ui.style_panel import FAST_PREFIX, StylePanel
from editor.ui.tool_options import MAX_BRUSH, ToolOptions
from editor.ui.tools import (
    BrushTool,
    EllipseTool,
    EraserTool,
    LassoTool,
    MagicWandTool,
    PolygonTool,
    RectangleTool,
    Tool,
)
from editor.ui.upscale_edits import UpscaleEdits

log = logging.getLogger(__name__)

SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;TIFF (*.tif *.tiff);;BMP (*.bmp)"


class MainWindow(QMainWindow):
    """One document per window; everything that changes it goes through the undo stack."""

    def __init__(
        self,
        settings: QSettings | None = None,
        engine: Engine | None = None,
        style_library: StyleLibrary | None = None,
        fast_styles_dir: Path | None = None,
        face_sets: FaceSetLibrary | None = None,
    ) -> None:
        super().__init__()
        self.style_library = style_library or StyleLibrary()
        self.face_sets = face_sets or FaceSetLibrary()
        self.fast_styles_dir = fast_styles_dir or fast_styles.user_dir()
        self._train_dialog = None
        self._batch_dialog = None
        self.settings = Settings(settings)
        self.document: Document | None = None
        self.undo_stack = QUndoStack(self)
        self.save_options = SaveOptions()
        self.setWindowTitle("SemEdit")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.canvas = CanvasView(self)
        self.job_bar = JobBar(self)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.job_bar)
        self.setCentralWidget(central)

        self.engine = engine or Engine(
            device=self.settings.device(), threads=self.settings.cpu_threads() or None
        )
        self.engine.set_models(lambda: Models(make_store(self.settings)))
        self.session = EditSession(self.engine, self.canvas, self.job_bar, self._push_result)
        self.session.message.connect(self._show_status)
        self.session.newDocument.connect(self.open_result)
        self.canvas.viewportChanged.connect(self.session.set_viewport)
        self.remove_edits = RemoveEdits(self.session, self._show_status)
        self.upscale_edits = UpscaleEdits(
            self.session,
            self.canvas,
            self.settings,
            self._show_status,
            lambda title, text: self.show_error(title, text),  # late: tests replace show_error
            self.set_compare,
        )
        self._compare_before_hold: float | None = None
        self.autosaver = Autosaver(self)

        self._build_tools()
        self._build_docks()
        self._build_actions()
        self._build_menus()
        self._build_status_bar()
        self.canvas.cursorMoved.connect(self._show_cursor)
        self.canvas.zoomChanged.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f} %"))
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.undo_stack.indexChanged.connect(self._update_title)
        self.canvas.set_mask_style(self.settings.mask_color(), self.settings.mask_opacity())
        self.tool_options.set_mask_style(self.settings.mask_color(), self.settings.mask_opacity())
        self.set_tool("brush")
        self._update_actions()
        QTimer.singleShot(0, self.autosaver.offer_recovery)

    # --- construction ----------------------------------------------------------------------

    def _build_tools(self) -> None:
        self.tools: dict[str, Tool] = {
            "brush": BrushTool(self, on_stroke=self._stroke_finished),
            "eraser": EraserTool(self, on_stroke=self._stroke_finished),
            "rectangle": RectangleTool(self),
            "ellipse": EllipseTool(self),
            "lasso": LassoTool(self),
            "polygon": PolygonTool(self),
            "wand": MagicWandTool(self),
        }
        self.tools["eraser"].brush = self.tools["brush"].brush

    def _build_docks(self) -> None:
        self.tool_options = ToolOptions(self)
        self.tool_options.maskStyleChanged.connect(self._set_mask_style)
        self.tool_options.brushChanged.connect(self.set_brush)
        self.tool_options.color_button.clicked.connect(self.choose_mask_color)
        dock = QDockWidget("Tool options", self)
        dock.setObjectName("tool_options")
        dock.setWidget(self.tool_options)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.history_view = QUndoView(self.undo_stack)
        self.history_view.setEmptyLabel("")  # nothing happened yet: no document
        history = QDockWidget("History", self)
        history.setObjectName("history")
        history.setWidget(self.history_view)
        self.style_panel = StylePanel(
            self.style_library,
            fast_styles=lambda: list_fast_styles(self.fast_styles_dir),
            fast_folder=self.fast_styles_dir,
        )
        self.style_options = StyleOptions(self.settings)
        self.style_panel.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.style_panel.selectionChanged.connect(
            lambda entry: self.settings.set_selected_style(entry.id if entry else "")
        )
        # Only the style chosen last time: with a fast style selected the brush previews it live,
        # and a first mask painted to remove something should stay a mask.
        self.style_panel.select(self.settings.selected_style())
        styles_widget = QWidget()
        styles_layout = QVBoxLayout(styles_widget)
        styles_layout.setContentsMargins(0, 0, 0, 0)
        styles_layout.addWidget(self.style_panel, 1)
        scroll = QScrollArea()
        scroll.setWidget(self.style_options)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(min(360, self.style_options.sizeHint().height()))
        styles_layout.addWidget(scroll)
        styles_layout.addWidget(self.style_options.run_buttons)
        styles = QDockWidget("Styles", self)
        styles.setObjectName("styles")
        styles.setWidget(styles_widget)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, styles)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, history)
        scroll.setMinimumWidth(self.style_options.minimumSizeHint().width() + 12)
        self.resizeDocks([dock, styles, history], [200, 520, 100], Qt.Orientation.Vertical)
        self.resizeDocks([styles], [300], Qt.Orientation.Horizontal)
        self.style_edits = StyleEdits(
            self.session,
            self.canvas,
            self.style_panel,
            self.style_options,
            self._push_result,
            self._show_status,
            self._models_dir,
        )
        self.face_panel = FacePanel(self.face_sets)
        self.face_panel.message.connect(self._show_status)
        faces = QDockWidget("Faces", self)
        faces.setObjectName("faces")
        faces.setWidget(self.face_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, faces)
        self.tabifyDockWidget(styles, faces)
        styles.raise_()
        self.faces_dock = faces
        self.face_edits = FaceEdits(
            self.session,
            self.canvas,
            self.face_panel,
            self,
            self._show_status,
            self._models_dir,
        )
        self.tools["face"] = self.face_edits.tool
        self.docks = [dock, styles, faces, history]

    def _action(
        self,
        text: str,
        slot: Callable | None,
        shortcut=None,
        *,
        checkable: bool = False,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
            action.setShortcuts(key_sequences(*keys))
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        a = self._action
        self.act_open = a("&Open…", self.open_dialog, K.Open)
        self.act_save = a("&Save", self.save, K.Save)
        self.act_save_as = a("Save &As…", self.save_as, K.SaveAs)
        self.act_export = a("&Export a Copy…", self.export, "Ctrl+Shift+E")
        self.act_close = a("&Close", self.close_document, K.Close)
        self.act_quit = a("&Quit", self.close, [K.Quit, "Ctrl+Q"])
        self.act_undo = self.undo_stack.createUndoAction(self, "&Undo")
        self.act_undo.setShortcuts(key_sequences(K.Undo))
        self.act_redo = self.undo_stack.createRedoAction(self, "&Redo")
        # X11's Redo is Ctrl+Shift+Z, Windows' Ctrl+Y: both work everywhere.
        self.act_redo.setShortcuts(key_sequences(K.Redo, "Ctrl+Shift+Z", "Ctrl+Y"))
        self.act_prefs = a("&Preferences…", self.preferences, [K.Preferences, "Ctrl+,"])
        self.act_models = a("&Models…", self.show_models, tip="Download or import model weights")
        self.act_zoom_in = a("Zoom &In", self.canvas.zoom_in, [K.ZoomIn, "Ctrl+="])
        self.act_zoom_out = a("Zoom &Out", self.canvas.zoom_out, K.ZoomOut)
        self.act_fit = a("&Fit in Window", self.canvas.fit, "Ctrl+0")
        self.act_100 = a("&Actual Pixels (100 %)", self.canvas.actual_size, "Ctrl+1")
        self.act_compare = a(
            "&Compare Before/After",
            self.toggle_compare,
            "Ctrl+B",
            checkable=True,
            tip="Split view: the image as opened on the left",
        )
        self.act_show_mask = a("Show &Mask", self._toggle_mask, "Ctrl+H", checkable=True)
        self.act_show_mask.setChecked(True)
        self.act_mask_all = a("Mask &All", partial(self.mask_operation, "all"), K.SelectAll)
        self.act_mask_clear = a(
            "&Clear Mask", partial(self.mask_operation, "clear"), ["Ctrl+D", "Ctrl+Shift+A"]
        )
        self.act_mask_invert = a("&Invert Mask", partial(self.mask_operation, "invert"), "Ctrl+I")
        self.act_mask_grow = a("&Grow…", partial(self.mask_operation, "grow"))
        self.act_mask_shrink = a("&Shrink…", partial(self.mask_operation, "shrink"))
        self.act_mask_feather = a("&Feather…", partial(self.mask_operation, "feather"), "Shift+F6")
        self.act_mask_color = a("Overlay &Colour…", self.choose_mask_color)
        self.act_mask_load = a("&Load Mask…", self.load_mask_dialog)
        self.act_mask_save = a("Sa&ve Mask…", self.save_mask_dialog)
        self.act_upscale = {
            scale: a(
                f"Upscale ×{scale}",
                partial(self.run_upscale, scale),
                f"Ctrl+Alt+{scale}",
                tip=f"Enlarge {scale}× with the best super-resolution model available",
            )
            for scale in (2, 3, 4)
        }
        self.act_faceswap = a(
            "&Face Swap…",
            self.run_faceswap,
            "Ctrl+Alt+F",
            tip="Replace the chosen face (Face tool, F) by the Faces panel's selected set",
        )
        self.act_faceswap_quick = a(
            "Quick Face Swap (no optimisation)",
            None,
            checkable=True,
            tip="Warp and blend only: about a second instead of ten",
        )
        # One setting, two controls: this menu item and the Faces panel's check box.
        self.act_faceswap_quick.toggled.connect(self.face_panel.quick_box.setChecked)
        self.face_panel.quick_box.toggled.connect(self.act_faceswap_quick.setChecked)
        self.act_remove = a(
            "&Remove Masked Object",
            self.run_remove,
            "Ctrl+R",
            tip="Fill the masked area from its surroundings",
        )
        self.act_remove_on_release = a(
            "Remove on Brush Release",
            None,
            checkable=True,
            tip="Start Remove as soon as a brush stroke ends",
        )
        self.act_stylise = a(
            "&Stylise Masked Area",
            self.run_stylise,
            "Ctrl+Alt+S",
            tip="Paint the selected style (and the stored regions) into the image; "
            "no mask: the whole image",
        )
        self.act_texture = a(
            "Fill with &Texture",
            self.run_texture,
            "Ctrl+Shift+T",
            tip="Fill the masked area with texture from the sample or the selected style",
        )
        self.act_style_region = a(
            "&Add Region",
            self.style_edits.add_region,
            "Ctrl+Alt+R",
            tip="Store the mask with the selected style as one region; the mask clears",
        )
        self.act_style_clear_regions = a(
            "&Clear Regions", self.style_edits.clear_regions, tip="Forget the stored regions"
        )
        self.act_texture_sample = a(
            "Use Selection as Texture &Sample",
            self.style_edits.use_selection_as_sample,
            tip="Copy the texture from the masked area's box; then paint where it goes",
        )
        self.act_batch = a(
            "&Batch…",
            self.show_batch,
            "Ctrl+Alt+B",
            tip="Upscale, remove, style or face-swap a folder of images into another folder",
        )
        self.act_train_style = a(
            "Train &Fast Style…",
            self.show_train_style,
            tip="Train a fast style network from a painting and a folder of photos",
        )
        self.act_style_region.setToolTip("Add region (Ctrl+Alt+R)")
        self.act_texture_sample.setIconText("Use selection")
        self.act_texture_sample.setToolTip("Take the masked area's box as the texture sample")
        self.act_stylise.setIconText("Stylise")
        self.act_stylise.setToolTip("Stylise the masked area or the regions (Ctrl+Alt+S)")
        self.act_texture.setIconText("Fill with texture")
        self.act_texture.setToolTip("Fill the masked area with texture (Ctrl+Shift+T)")
        self.style_options.bind_actions(
            self.act_stylise, self.act_texture, self.act_style_region, self.act_texture_sample
        )
        self.act_cancel = a("Cancel", self.cancel, "Esc", tip="Cancel the running edit or shape")
        self.act_apply = a("Apply Edit Result", self.session.apply, "Ctrl+Return")
        self.act_brush_smaller = a("Smaller Brush", partial(self.resize_brush, 1 / 1.2), "[")
        self.act_brush_bigger = a("Bigger Brush", partial(self.resize_brush, 1.2), "]")
        self.act_about = a("&About SemEdit", self.about)
        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for key, text, shortcut in [
            ("brush", "Brush", "B"),
            ("eraser", "Eraser", "E"),
            ("rectangle", "Rectangle", "M"),
            ("ellipse", "Ellipse", "Shift+M"),
            ("lasso", "Lasso", "L"),
            ("polygon", "Polygon", "Shift+L"),
            ("wand", "Magic Wand", "W"),
            ("face", "Face", "F"),
        ]:
            act = a(
                f"{text}",
                partial(self.set_tool, key),
                shortcut,
                checkable=True,
                tip=f"{text} ({shortcut})",
            )
            act.setToolTip(f"{text} ({shortcut})")
            self.tool_group.addAction(act)
            self.tool_actions[key] = act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        for act in (self.act_save, self.act_save_as, self.act_export):
            file_menu.addAction(act)
        file_menu.addSeparator()
        file_menu.addAction(self.act_batch)
        file_menu.addSeparator()
        file_menu.addAction(self.act_close)
        file_menu.addAction(self.act_quit)
        edit = bar.addMenu("&Edit")
        edit.addAction(self.act_undo)
        edit.addAction(self.act_redo)
        edit.addSeparator()
        edit.addAction(self.act_models)
        edit.addAction(self.act_prefs)
        view = bar.addMenu("&View")
        for act in (self.act_zoom_in, self.act_zoom_out, self.act_fit, self.act_100):
            view.addAction(act)
        view.addSeparator()
        view.addAction(self.act_compare)
        view.addAction(self.act_show_mask)
        for dock in self.docks:
            view.addAction(dock.toggleViewAction())
        tools = bar.addMenu("&Tools")
        for act in self.tool_actions.values():
            tools.addAction(act)
        tools.addSeparator()
        tools.addAction(self.act_brush_smaller)
        tools.addAction(self.act_brush_bigger)
        mask = bar.addMenu("&Mask")
        for act in (self.act_mask_all, self.act_mask_clear, self.act_mask_invert):
            mask.addAction(act)
        mask.addSeparator()
        for act in (self.act_mask_grow, self.act_mask_shrink, self.act_mask_feather):
            mask.addAction(act)
        mask.addSeparator()
        for act in (self.act_mask_color, self.act_mask_load, self.act_mask_save):
            mask.addAction(act)
        image = bar.addMenu("&Image")
        image.addAction(self.act_remove)
        methods = image.addMenu("Remove &Method")
        methods.addActions(self.remove_edits.methods.actions())
        image.addAction(self.act_remove_on_release)
        image.addSeparator()
        style_menu = image.addMenu("&Style")
        style_menu.addAction(self.act_stylise)
        style_menu.addAction(self.act_style_region)
        style_menu.addAction(self.act_style_clear_regions)
        style_menu.addSeparator()
        style_menu.addAction(self.act_texture)
        style_menu.addAction(self.act_texture_sample)
        style_menu.addSeparator()
        style_menu.addAction(self.act_train_style)
        image.addAction(self.act_faceswap)
        image.addAction(self.act_faceswap_quick)
        image.addSeparator()
        for act in self.act_upscale.values():
            image.addAction(act)
        image.addMenu("Upscale Mo&del").addActions(self.upscale_edits.looks.actions())
        image.addSeparator()
        image.addAction(self.act_apply)
        image.addAction(self.act_cancel)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)

        toolbar = QToolBar("Tools", self)
        toolbar.setObjectName("tools")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addActions(list(self.tool_actions.values()))
        self.addToolBar(Qt.ToolBarArea.LeftToolBarArea, toolbar)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.position_label = QLabel("")
        self.pixel_label = QLabel("")
        self.zoom_label = QLabel("")
        self.size_label = QLabel("")
        self.device_label = QLabel(self.engine.device.upper())
        for label in (
            self.position_label,
            self.pixel_label,
            self.zoom_label,
            self.size_label,
            self.device_label,
        ):
            status.addPermanentWidget(label)

    # --- document lifecycle ----------------------------------------------------------------

    def set_document(self, document: Document | None, history: str = "Opened") -> None:
        """Show `document` (None: the empty canvas); `history` names its first History row."""
        self.session.set_document(document)
        self.style_edits.set_document(document)
        self.face_edits.set_document(document)
        self.undo_stack.clear()
        self.history_view.setEmptyLabel(history if document is not None else "")
        self.document = document
        self.canvas.set_document(document)
        self.autosaver.set_document(document)
        if document is not None and self.canvas.tool is self.tools["face"]:
            self.face_edits.find_faces()  # the outlines for the new image
        if document is not None:
            bits = f"{document.bit_depth}-bit"
            kind = {1: "gray", 3: "RGB", 4: "RGBA"}[document.channels]
            self.size_label.setText(f"{document.width} × {document.height} {kind} {bits}")
        else:
            self.size_label.setText("")
        self._update_title()
        self._update_actions()

    def open_path(self, path: str | Path) -> bool:
        """Open a file in place of the current document; on failure the current one stays.

        The file is read before asking about unsaved changes: a file that cannot be opened
        never costs the user a decision about the one they have."""
        try:
            document = Document.open(path, max_pixels=self.settings.max_pixels())
        except ImageIOError as error:
            self.show_error("Cannot open image", str(error))
            return False
        if not self.maybe_save(f"before opening {Path(path).name}"):
            return False
        self.set_document(document)
        self.settings.add_recent(path)
        self.settings.set_last_dir(path)
        self.statusBar().showMessage(f"Opened {Path(path).name}", 5000)
        return True

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open image", self.settings.last_dir(), OPEN_FILTER
        )
        if path:
            self.open_path(path)

    def close_document(self) -> None:
        if self.maybe_save("before closing it"):
            self.set_document(None)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for path in files:
            self.recent_menu.addAction(
                Path(path).name, partial(self._open_recent, path)
            ).setToolTip(path)

    def _open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.settings.remove_recent(path)
            self.show_error("Cannot open image", f"{path} no longer exists; removed from Recent.")
            return
        self.open_path(path)

    @property
    def image_modified(self) -> bool:
        """Whether pixels differ from the last save (mask-only changes do not count)."""
        stack = self.undo_stack
        if stack.cleanIndex() < 0:
            return True
        lo, hi = sorted((stack.cleanIndex(), stack.index()))
        return any(getattr(stack.command(i), "touches_image", False) for i in range(lo, hi))

    def maybe_save(self, when: str = "before closing it") -> bool:
        """Ask about unsaved changes; False means the user chose to stay.

        when: what is about to happen, as the question ends ("before opening b.png")."""
        if self.document is None or not self.image_modified:
            return True
        answer = self.ask_save_changes(f"Save the changes to {self.document.display_name} {when}?")
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def save(self) -> bool:
        doc = self.document
        if doc is None:
            return False
        if doc.path is None or doc.path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            return self.save_as()
        if not doc.overwrite_confirmed and doc.path.exists():
            if not self.confirm_overwrite(doc.path):
                return self.save_as()
            doc.overwrite_confirmed = True
        return self._write(doc.path, self.save_options, becomes_document_path=True)

    def save_as(self) -> bool:
        return self._save_dialog("Save image as", becomes_document_path=True)

    def export(self) -> bool:
        return self._save_dialog("Export a copy", becomes_document_path=False)

    def _save_dialog(self, title: str, *, becomes_document_path: bool) -> bool:
        if self.document is None:
            return False
        doc = self.document
        if doc.path:
            start = str(doc.path)
        elif doc.suggested_name:
            start = str(Path(self.settings.last_dir()) / doc.suggested_name)
        else:
            start = self.settings.last_dir()
        path, _ = QFileDialog.getSaveFileName(self, title, start, SAVE_FILTER)
        if not path:
            return False
        try:
            fmt = format_for_path(path)
        except ImageIOError as error:
            self.show_error("Cannot save", str(error))
            return False
        options = SaveOptionsDialog.ask(self, fmt, self.save_options)
        if options is None:
            return False
        self.save_options = options
        return self._write(Path(path), options, becomes_document_path=becomes_document_path)

    def _write(self, path: Path, options: SaveOptions, *, becomes_document_path: bool) -> bool:
        doc = self.document
        try:
            save_image(path, doc.image, options=options, icc_profile=doc.icc_profile, exif=doc.exif)
        except ImageIOError as error:
            self.show_error("Cannot save", str(error))
            return False
        if becomes_document_path:
            doc.path = path
            doc.overwrite_confirmed = True  # the user chose this file, or confirmed it
            self.undo_stack.setClean()
            self.autosaver.discard()
        self.settings.add_recent(path)
        self.settings.set_last_dir(path)
        self.statusBar().showMessage(f"Saved {path.name}", 5000)
        self._update_title()
        return True

    # --- dialogs (overridable in tests) ------------------------------------------------------

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def ask_save_changes(self, question: str) -> QMessageBox.StandardButton:
        return QMessageBox.question(
            self,
            "Unsaved changes",
            question,
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def confirm_overwrite(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self,
            "Overwrite the original?",
            f"{path.name} is the file you opened. Replace it with the edited image?\n"
            "Choose No to save under a new name instead.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # --- tools and mask --------------------------------------------------------------------

    def set_tool(self, key: str) -> None:
        tool = self.tools[key]
        self.tool_actions[key].setChecked(True)
        self.canvas.set_tool(tool)
        self.tool_options.set_tool(tool)
        if key == "face":
            self.faces_dock.show()
            self.faces_dock.raise_()
            self.face_edits.find_faces()

    def cancel(self) -> None:
        """Esc: drop a half-drawn shape (polygon, lasso) and cancel this window's running edits."""
        if self.canvas.tool is not None:
            self.canvas.tool.cancel()
            self.canvas.viewport().update()
        self.session.cancel()
        self.style_edits.cancel_previews()

    def resize_brush(self, factor: float) -> None:
        """[ and ]: scale the brush by `factor`, by at least one pixel each press."""
        brush_tool: BrushTool = self.tools["brush"]  # type: ignore[assignment]
        old = brush_tool.brush.size
        size = max(old + 1, old * factor) if factor > 1 else min(old - 1, old * factor)
        self.set_brush(replace(brush_tool.brush, size=float(min(MAX_BRUSH, max(1, round(size))))))

    def set_brush(self, brush) -> None:
        """One brush for painting and erasing, like most editors' shared brush size."""
        self.tools["brush"].brush = self.tools["eraser"].brush = brush  # type: ignore[attr-defined]
        self.tool_options.refresh()
        self.canvas.viewport().update()

    def push_patch(
        self,
        layer: Layer,
        patch: ArrayPatch,
        text: str,
        *,
        applied: bool,
        extra: Sequence[tuple[Layer, ArrayPatch]] = (),
    ) -> None:
        """Tools call this: one finished change (and the `extra` changes made with it) becomes
        one undo command."""
        if self.document is None or patch.empty:
            return
        command = PatchCommand(self.document, layer, patch, text, applied=applied, extra=extra)
        self.undo_stack.push(command)

    def _stroke_finished(self, erase: bool) -> None:
        """A brush or eraser stroke became an undo command: Remove on Brush Release takes a
        painted stroke, else the live style preview (when one is wanted) shows the new mask."""
        if not erase and self.act_remove_on_release.isChecked():
            QTimer.singleShot(0, self.run_remove)
        else:
            self.style_edits.on_mask_stroke()

    def _push_result(
        self,
        layer: Layer,
        patch: ArrayPatch,
        text: str,
        extra: Sequence[tuple[Layer, ArrayPatch]] = (),
    ) -> None:
        self.push_patch(layer, patch, text, applied=False, extra=extra)

    def mask_operation(self, op: str) -> None:
        doc = self.document
        if doc is None:
            return
        shape = doc.mask.shape
        if op in ("grow", "shrink", "feather"):
            amount, ok = QInputDialog.getInt(self, f"{op.capitalize()} mask", "Pixels:", 8, 1, 1000)
            if not ok:
                return
            new = getattr(mask_ops, op)(doc.mask, amount)
            text = f"{op.capitalize()} mask by {amount} px"
        else:
            new = {
                "all": lambda: mask_ops.fill(shape),
                "clear": lambda: mask_ops.clear(shape),
                "invert": lambda: mask_ops.invert(doc.mask),
            }[op]()
            text = {"all": "Mask all", "clear": "Clear mask", "invert": "Invert mask"}[op]
        self.push_patch("mask", doc.diff("mask", new), text, applied=False)

    def choose_mask_color(self) -> None:
        color = QColorDialog.getColor(self.canvas.mask_color, self, "Mask overlay colour")
        if color.isValid():
            self._set_mask_style(color, self.canvas.mask_opacity)
            self.tool_options.set_mask_style(color, self.canvas.mask_opacity)

    def _set_mask_style(self, color: QColor, opacity: float) -> None:
        self.canvas.set_mask_style(color, opacity)
        self.settings.set_mask_color(color)
        self.settings.set_mask_opacity(opacity)

    def _toggle_mask(self, checked: bool) -> None:
        self.canvas.set_mask_style(visible=checked)

    def load_mask_dialog(self) -> None:
        if self.document is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Load mask", self.settings.last_dir(), OPEN_FILTER
        )
        if not path:
            return
        try:
            new = load_mask(path, self.document.mask.shape)
        except ImageIOError as error:
            self.show_error("Cannot load mask", str(error))
            return
        self.push_patch("mask", self.document.diff("mask", new), "Load mask", applied=False)

    def save_mask_dialog(self) -> None:
        if self.document is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save mask", self.settings.last_dir(), "PNG (*.png)"
        )
        if path:
            try:
                save_mask(path, self.document.mask)
            except ImageIOError as error:
                self.show_error("Cannot save mask", str(error))

    # --- view ------------------------------------------------------------------------------

    def toggle_compare(self, checked: bool) -> None:
        self.canvas.set_compare(0.5 if checked else None)

    def set_compare(self, split: float | None) -> None:
        """Show the compare split at `split` (None: off) with View ▸ Compare checked to match."""
        self.act_compare.setChecked(split is not None)
        self.canvas.set_compare(split)

    def keyPressEvent(self, event) -> None:
        # Hold backslash to see the whole image as opened.
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat() and self.document:
            self._compare_before_hold = self.canvas.compare_split
            self.canvas.set_compare(1.0)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat() and self.document:
            self.canvas.set_compare(self._compare_before_hold)
            return
        super().keyReleaseEvent(event)

    def _show_cursor(self, x: int, y: int) -> None:
        doc = self.document
        if doc is None or x < 0:
            self.position_label.setText("")
            self.pixel_label.setText("")
            return
        self.position_label.setText(f"x {x}  y {y}")
        value = doc.image[y, x]
        names = {1: "L", 3: "RGB", 4: "RGBA"}[doc.channels]
        channels = " ".join(f"{n} {int(v)}" for n, v in zip(names, value, strict=False))
        self.pixel_label.setText(f"{channels}  mask {int(doc.mask[y, x])}")

    def _update_title(self, *_) -> None:
        doc = self.document
        if doc is None:
            self.setWindowTitle("SemEdit")
        else:
            modified = " *" if self.image_modified else ""
            self.setWindowTitle(f"{doc.display_name}{modified} — SemEdit")
        self._update_actions()

    def _update_actions(self) -> None:
        has = self.document is not None
        for act in (
            self.act_save,
            self.act_save_as,
            self.act_export,
            self.act_close,
            self.act_mask_all,
            self.act_mask_clear,
            self.act_mask_invert,
            self.act_mask_grow,
            self.act_mask_shrink,
            self.act_mask_feather,
            self.act_mask_load,
            self.act_mask_save,
            self.act_remove,
            self.act_faceswap,
            self.act_stylise,
            self.act_texture,
            self.act_style_region,
            self.act_texture_sample,
            self.act_compare,
            self.act_fit,
            self.act_100,
            self.act_zoom_in,
            self.act_zoom_out,
        ):
            act.setEnabled(has)

    # --- edits -----------------------------------------------------------------------------

    def run_remove(self) -> int | None:
        """Fill the masked region through the engine; the result waits for Apply."""
        return self.remove_edits.remove()

    def run_faceswap(self, photos: list[str] | None = None) -> int | None:
        """Swap the chosen face (Face tool; else the one under the mask, else the largest) for
        the Faces panel's selected set. With `photos` (or, when there is no set yet, photos
        asked for) a new set is made of them first; the swap starts once their faces are found.
        The result waits for Apply."""
        if self.document is None:
            return None
        if photos is None and self.face_panel.current_set() is None:
            photos, _ = QFileDialog.getOpenFileNames(
                self,
                "Photos of the new face (several poses help)",
                self.settings.last_dir(),
                OPEN_FILTER,
            )
            if not photos:
                return None
        if photos:
            face_set = self.face_panel.add_paths(photos)  # looked at on the engine, then swapped
            if face_set is None:
                return None
            self.faces_dock.show()
        return self.face_edits.swap()

    def run_stylise(self) -> int | None:
        """Stylise the masked area (and the stored regions) in one run; Apply at any moment."""
        return self.style_edits.stylise()

    def run_texture(self) -> int | None:
        """Fill the masked area with texture synthesised from the sample or the selected style."""
        return self.style_edits.fill_texture()

    def run_upscale(self, scale: int) -> int | None:
        """Enlarge the image; the visible part is upscaled first and shown beside the original."""
        return self.upscale_edits.upscale(scale)

    def open_result(self, image, name: str) -> bool:
        """An edit that changes the image size (upscaling) opens its result as a new, unsaved
        document in this window, fitted to the view; the image it came from stays on disk (its
        unsaved changes are offered for saving first). False: the user chose to stay."""
        source = self.document
        if source is None:
            return False
        scale = max(1, round(image.shape[1] / source.width))
        if not self.maybe_save(f"before opening the ×{scale} result in its place"):
            return False
        document = Document(
            image=np.array(image),  # detach from any temporary memory-mapped file
            icc_profile=source.icc_profile,
            exif=source.exif,
            suggested_name=f"{Path(source.display_name).stem}_x{scale}.png",
        )
        self.set_document(document, history=f"{name} of {source.display_name}")
        self.set_compare(None)
        self.undo_stack.resetClean()  # a new, unsaved image
        self._update_title()
        self.statusBar().showMessage(
            f"{document.display_name}: {document.width} × {document.height}, not saved yet", 8000
        )
        return True

    # --- misc ------------------------------------------------------------------------------

    def show_train_style(self):
        """Image ▸ Style ▸ Train Fast Style…: the (non-modal) training dialog."""
        from editor.ui.train_style_dialog import TrainStyleDialog

        entry = self.style_panel.current_entry()
        picture = (
            self.style_library.path(entry) if entry is not None and entry.kind == "image" else None
        )
        if self._train_dialog is not None:
            self._train_dialog.suggest_picture(picture, entry.name if picture else "")
        else:
            self._train_dialog = TrainStyleDialog(
                self.engine,
                self.fast_styles_dir,
                picture=picture,
                picture_name=entry.name if picture is not None else "",
                settings=self.settings,
                parent=self,
            )
            self._train_dialog.trained.connect(self._on_style_trained)
        self._train_dialog.show()
        self._train_dialog.raise_()
        return self._train_dialog

    def show_batch(self):
        """File ▸ Batch…: the (non-modal) batch dialog; the open image's folder preset."""
        from editor.ui.batch_dialog import BatchDialog

        if self._batch_dialog is None:
            self._batch_dialog = BatchDialog(
                self.engine,
                fast_styles_dir=self.fast_styles_dir,
                models_dir=self._models_dir(),
                parent=self,
            )
            document = self.document
            if document is not None and document.path is not None:
                self._batch_dialog.inputs_edit.setText(str(document.path.parent))
        self._batch_dialog.show()
        self._batch_dialog.raise_()
        return self._batch_dialog

    def _on_style_trained(self, path) -> None:
        name = Path(path).name[: -len(".safetensors")]
        self.style_panel.refresh(select=FAST_PREFIX + name)
        self.statusBar().showMessage(f"Fast style {name} is ready in the Styles panel", 8000)

    def _models_dir(self) -> Path | None:
        """The models folder of a fresh store: a folder changed in Preferences takes effect."""
        return make_store(self.settings).models_dir

    def _show_status(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def preferences(self) -> None:
        PreferencesDialog.edit(self, self.settings)

    def show_models(self) -> None:
        # A fresh store each time, so a models folder changed in Preferences takes effect.
        ModelsDialog(make_store(self.settings), self.engine, self).exec()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About SemEdit",
            f"SemEdit {__version__}\nAn image editor whose tools are deep-learning semantic edits.",
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_image(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_image(event)
        if path is not None:
            event.acceptProposedAction()
            QTimer.singleShot(0, partial(self.open_path, path))

    def closeEvent(self, event: QCloseEvent) -> None:
        batch = self._batch_dialog
        if batch is not None and batch.running:
            answer = QMessageBox.question(
                self,
                "Batch running",
                "A batch is still running. Stop it and quit? The files written so far are "
                "complete; Skip existing continues it later.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        if not self.maybe_save("before quitting"):
            event.ignore()
            return
        self.autosaver.discard()
        self.engine.shutdown()
        event.accept()


def _dropped_image(event) -> str | None:
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in SUPPORTED_EXTENSIONS:
            return url.toLocalFile()
    return None


QUIT_AFTER_START_ENV = "SEMEDIT_QUIT_AFTER_START"
"""Set to 1: the GUI quits (exit 0) as soon as its event loop runs with the window shown; the
packaged app's smoke test (packaging/check-frozen.sh) and bench_package.py use it."""


def run_app(argv: list[str], path: str | None = None) -> int:
    """Start the GUI (optionally opening `path`) and return the exit code."""
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName("SemEdit")
    app.setOrganizationName("SemEdit")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)  # Wayland's app id and the task bar's link to the menu entry
    app.setWindowIcon(app_icon())
    remove_stale()  # spill folders a killed upscale left in the temp folder (never a live one's)
    MainThreadGC(app)  # cycles holding Qt objects are freed on this thread, never the engine's
    window = MainWindow()
    window.show()
    if path:
        QTimer.singleShot(0, partial(window.open_path, path))
    if os.environ.get(QUIT_AFTER_START_ENV) == "1":
        QTimer.singleShot(0, window.close)
    return app.exec()
