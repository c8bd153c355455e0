"""The Styles panel: the style library as thumbnails; drop pictures on it or paste one to add.

Fast styles (feed-forward networks: the shipped ones and those the user trained) are listed after
the pictures, each with a "FAST" badge on its icon; selecting one makes Stylise run in one pass
with that network. Dropping a .safetensors fast style network adds it to the user's fast styles.

Drop image files from the file manager (or an image dragged from a browser), or press Ctrl+V
with a picture or image files on the clipboard. F2 or a double-click renames, Del removes, the
context menu has all of it. The selected style is the one the style brush and texture tools use.
The library itself (files, index, thumbnails) is `editor.core.style_library`; this only draws it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QMimeData, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QIcon,
    QImage,
    QKeySequence,
    QPainter,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from editor.core.imageio import OPEN_FILTER
from editor.core.style_library import StyleEntry, StyleLibrary, StyleLibraryError
from editor.engine.models.fast_styles import FastStyle, FastStyleError, check_style_file
from editor.ui.qimage import qimage_from_pixels

ICON_SIZE = 72
_ID_ROLE = Qt.ItemDataRole.UserRole
FAST_PREFIX = "fast:"
"""Ids of fast styles in the panel (library entries have hex ids): "fast:<name>"."""
FAST_BADGE = QColor(230, 120, 20)


def thumbnail_list(icon_size: int, grid: QSize) -> QListWidget:
    """A wrapping grid of icons with their names (the Styles and Faces panels); files dropped on
    it go to the panel that holds it."""
    view = QListWidget()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setIconSize(QSize(icon_size, icon_size))
    view.setGridSize(grid)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setWordWrap(True)
    view.setDragDropMode(QListView.DragDropMode.NoDragDrop)
    view.setAcceptDrops(False)
    view.viewport().setAcceptDrops(False)
    return view


def fast_entry(style: FastStyle) -> StyleEntry:
    """A fast style as a panel entry: kind "fast", `file` its absolute path."""
    return StyleEntry(FAST_PREFIX + style.name, style.name, "fast", str(style.path))


def _fast_icon(style: FastStyle) -> QIcon:
    """The style's thumbnail (a PNG beside its weights, if training left one) or a plain tile,
    with a "FAST" badge in the corner."""
    pixmap = QPixmap(ICON_SIZE, ICON_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    thumb = QPixmap(str(style.path.with_name(style.name + ".png")))
    if not thumb.isNull():
        thumb = thumb.scaled(
            ICON_SIZE,
            ICON_SIZE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        painter.drawPixmap(
            (ICON_SIZE - thumb.width()) // 2, (ICON_SIZE - thumb.height()) // 2, thumb
        )
    else:
        painter.setBrush(QColor(60, 70, 90))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(QRectF(4, 4, ICON_SIZE - 8, ICON_SIZE - 8), 8, 8)
        painter.setPen(QColor(235, 235, 235))
        font = painter.font()
        font.setPixelSize(ICON_SIZE // 3)
        font.setBold(True)
        painter.setFont(font)
        initials = "".join(w[0] for w in style.name.replace("_", " ").split()[:2]).upper()
        painter.drawText(QRectF(0, 0, ICON_SIZE, ICON_SIZE), Qt.AlignmentFlag.AlignCenter, initials)
    badge = QRectF(ICON_SIZE - 34, ICON_SIZE - 16, 33, 15)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(FAST_BADGE)
    painter.drawRoundedRect(badge, 4, 4)
    painter.setPen(QColor(255, 255, 255))
    font = painter.font()
    font.setPixelSize(10)
    font.setBold(True)
    painter.setFont(font)
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "FAST")
    painter.end()
    return QIcon(pixmap)


def pixels_from_qimage(image: QImage) -> np.ndarray:
    """A QImage (a pasted picture) -> (H, W, 3|4) uint8; alpha kept only where it is used."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w = rgba.height(), rgba.width()
    buffer = np.frombuffer(rgba.constBits(), np.uint8, count=rgba.sizeInBytes())
    pixels = buffer.reshape(h, rgba.bytesPerLine())[:, : 4 * w].reshape(h, w, 4).copy()
    return pixels if (pixels[..., 3] < 255).any() else np.ascontiguousarray(pixels[..., :3])


class StylePanel(QWidget):
    """Thumbnails of the library's styles; the current item is the selected style."""

    selectionChanged = Signal(object)  # StyleEntry | None
    message = Signal(str)  # for the status bar

    def __init__(
        self,
        library: StyleLibrary,
        parent=None,
        *,
        fast_styles: Callable[[], list[FastStyle]] | None = None,
        fast_folder: Path | None = None,
    ) -> None:
        """fast_styles: lists the fast styles to show after the pictures (None: pictures only);
        fast_folder: where dropped fast style networks are copied (the user's fast styles)."""
        super().__init__(parent)
        self.library = library
        self._list_fast = fast_styles
        self.fast_folder = fast_folder
        self._fast: dict[str, FastStyle] = {}  # panel id -> fast style
        self._entries: list[StyleEntry] = []
        self._filling = False
        self.setAcceptDrops(True)

        self.list = thumbnail_list(ICON_SIZE, QSize(ICON_SIZE + 16, ICON_SIZE + 30))
        self.list.setEditTriggers(
            QListWidget.EditTrigger.DoubleClicked | QListWidget.EditTrigger.EditKeyPressed
        )
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemChanged.connect(self._item_renamed)
        self.list.setToolTip("Drop pictures here to add styles; F2 renames, Del removes")

        self.hint = QLabel("Drop pictures here, or paste one (Ctrl+V)")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)  # drawn greyed: a hint, not a control
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Add pictures from files")
        self.add_button.clicked.connect(self.add_dialog)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.hint, 1)
        row.addWidget(self.add_button)
        layout.addLayout(row)

        scope = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self.act_paste = self._action("&Paste Style", self.paste, QKeySequence.StandardKey.Paste)
        self.act_rename = self._action("Re&name", self.rename_current, "F2")
        self.act_remove = self._action("&Remove", self.remove_current, QKeySequence("Del"))
        self.act_add = self._action("&Add Pictures…", self.add_dialog)
        for act in (self.act_paste, self.act_rename, self.act_remove):
            act.setShortcutContext(scope)
        self.refresh()

    def _action(self, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- state -------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Re-read the library (another window may have changed it) and redraw the items."""
        keep = select or (self.current_entry().id if self.current_entry() else None)
        fast = self._list_fast() if self._list_fast is not None else []
        entries = self.library.entries() + [fast_entry(f) for f in fast]
        if entries == self._entries and select is None:
            return
        self._entries = entries
        self._fast = {fast_entry(f).id: f for f in fast}
        self._filling = True
        try:
            self.list.clear()
            for entry in entries:
                item = QListWidgetItem(entry.name)
                item.setData(_ID_ROLE, entry.id)
                style = self._fast.get(entry.id)
                if style is not None:
                    origin = "shipped with SemEdit" if style.shipped else "trained by you"
                    item.setToolTip(
                        f"Fast style ({origin}): one pass, live preview while painting\n"
                        f"{style.description}"
                    )
                    item.setIcon(_fast_icon(style))
                    self.list.addItem(item)
                    continue
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                item.setToolTip(f"{entry.name} ({entry.kind})")
                thumb = self.library.thumbnail(entry)
                if thumb is not None:
                    item.setIcon(QIcon(QPixmap.fromImage(qimage_from_pixels(thumb))))
                self.list.addItem(item)
        finally:
            self._filling = False
        self.select(keep)
        if self.list.currentItem() is None:
            self.selectionChanged.emit(None)

    def entries(self) -> list[StyleEntry]:
        return list(self._entries)

    def fast_style(self, entry: StyleEntry | None) -> FastStyle | None:
        """The fast style behind a panel entry (None for pictures)."""
        return None if entry is None else self._fast.get(entry.id)

    def current_entry(self) -> StyleEntry | None:
        item = self.list.currentItem()
        if item is None:
            return None
        return next((e for e in self._entries if e.id == item.data(_ID_ROLE)), None)

    def select(self, style_id: str | None) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(_ID_ROLE) == style_id:
                self.list.setCurrentRow(row)
                return

    def _current_changed(self, *_) -> None:
        if not self._filling:
            self.selectionChanged.emit(self.current_entry())

    # --- adding ------------------------------------------------------------------------------

    def add_paths(self, paths: list[str | Path]) -> list[StyleEntry]:
        """Add picture files; the ones that are not readable images are reported in one message
        and add nothing. The last one added becomes the selected style."""
        added: list[StyleEntry] = []
        known: list[StyleEntry] = []
        errors: list[str] = []
        fast_added: list[str] = []
        for path in paths:
            if str(path).lower().endswith(".safetensors"):
                try:
                    fast_added.append(self.add_fast_file(path))
                except (FastStyleError, OSError) as error:
                    errors.append(str(error))
                continue
            before = {entry.id for entry in self.library.entries("image")}
            try:
                entry = self.library.add_file(path)  # the same picture again: its entry
            except StyleLibraryError as error:
                errors.append(str(error))
                continue
            (known if entry.id in before else added).append(entry)
        if fast_added:
            self.refresh(select=FAST_PREFIX + fast_added[-1])
            self.message.emit(f"Added fast style: {', '.join(fast_added)}")
        if added:
            self.refresh(select=added[-1].id)
            names = ", ".join(e.name for e in added)
            self.message.emit(f"Added style{'s' if len(added) > 1 else ''}: {names}")
        elif known:
            self.refresh(select=known[-1].id)
            names = ", ".join(e.name for e in known)
            self.message.emit(f"Already in Styles: {names}")
        if errors:
            self.show_error("Cannot add style", "\n".join(errors))
        return added

    def add_fast_file(self, path: str | Path) -> str:
        """Copy a fast style network (checked first: a .safetensors TransformNet) into the user's
        fast styles; returns its name. FastStyleError says why a file is refused."""
        path = Path(path)
        if self.fast_folder is None:
            raise FastStyleError(f"{path.name}: fast styles cannot be added here")
        check_style_file(path)
        name = path.name[: -len(".safetensors")]
        self.fast_folder.mkdir(parents=True, exist_ok=True)
        target = self.fast_folder / path.name
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        return name

    def add_pixels(self, pixels: np.ndarray, name: str = "Pasted style") -> StyleEntry | None:
        try:
            entry = self.library.add_pixels(pixels, name)
        except StyleLibraryError as error:
            self.show_error("Cannot add style", str(error))
            return None
        self.refresh(select=entry.id)
        self.message.emit(f"Added style: {entry.name} (F2 renames it)")
        return entry

    def add_mime(self, mime: QMimeData) -> bool:
        """Add what a drop or the clipboard carries: local files, else an image. False: nothing
        usable (the user is told why)."""
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if paths:
            return bool(self.add_paths(paths))
        if mime.hasImage():
            image = mime.imageData()
            if isinstance(image, QImage) and not image.isNull():
                return self.add_pixels(pixels_from_qimage(image)) is not None
        self.show_error(
            "Cannot add style",
            "That is not a picture. Drop image files (PNG, JPEG, WebP, TIFF…) or paste a "
            "copied image to add a style.",
        )
        return False

    def paste(self) -> bool:
        return self.add_mime(QGuiApplication.clipboard().mimeData())

    def add_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Add style pictures", "", OPEN_FILTER)
        if paths:
            self.add_paths(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        event.acceptProposedAction()
        self.add_mime(event.mimeData())

    # --- rename and remove -------------------------------------------------------------------

    def rename_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        if self.fast_style(self.current_entry()) is not None:
            self.message.emit("A fast style is named by its file; it cannot be renamed here")
            return
        self.list.editItem(item)

    def _item_renamed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        style_id = item.data(_ID_ROLE)
        entry = next((e for e in self._entries if e.id == style_id), None)
        if entry is None or item.text() == entry.name:
            return
        try:
            renamed = self.library.rename(entry, item.text())
        except StyleLibraryError as error:
            self.message.emit(str(error))
            self._filling = True
            item.setText(entry.name)  # back to the name the library has
            self._filling = False
            return
        self._entries = [renamed if e.id == style_id else e for e in self._entries]
        self._filling = True
        item.setText(renamed.name)  # trimmed
        item.setToolTip(f"{renamed.name} ({renamed.kind})")
        self._filling = False
        if item is self.list.currentItem():
            self.selectionChanged.emit(renamed)

    def remove_current(self) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        row = self.list.currentRow()
        fast = self.fast_style(entry)
        if fast is not None:
            if fast.shipped:
                self.message.emit(f"{fast.name} ships with SemEdit and cannot be removed")
                return
            for path in (fast.path, fast.path.with_name(fast.name + ".png")):
                try:
                    path.unlink()
                except OSError:
                    pass
        else:
            try:
                self.library.remove(entry)
            except StyleLibraryError as error:
                self.message.emit(str(error))
        self.refresh()
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        self.selectionChanged.emit(self.current_entry())
        self.message.emit(f"Removed style {entry.name}")

    def _context_menu(self, pos) -> None:
        has = self.list.itemAt(pos) is not None
        if has:
            self.list.setCurrentItem(self.list.itemAt(pos))
        menu = QMenu(self)
        menu.addAction(self.act_add)
        menu.addAction(self.act_paste)
        menu.addSeparator()
        for act in (self.act_rename, self.act_remove):
            act.setEnabled(has)
            menu.addAction(act)
        menu.exec(self.list.viewport().mapToGlobal(pos))
        for act in (self.act_rename, self.act_remove):
            act.setEnabled(True)

    # --- overridable in tests ----------------------------------------------------------------

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.WindowActivate:
            self.refresh()  # another window may have added or removed styles
        return super().event(event)
