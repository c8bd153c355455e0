"""The Faces panel: face sets (photos of a new face) to swap into the image, and the Swap button.

Drop photos of a person on the panel to make a set (on a set: to add them to it), or use New
Set…; each photo is looked at once by the engine (its landmarks are kept with the set, so later
swaps skip the detection; photos without a face are named and dropped). Pick the face to replace
on the canvas with the Face tool (F), choose a set, press Swap. F2 renames a set, Del removes
it. The sets themselves live in `editor.core.face_sets`; this only draws them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QAction, QDropEvent, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from editor.core.face_sets import THUMBNAIL_SIZE, FaceSet, FaceSetError, FaceSetLibrary
from editor.core.imageio import OPEN_FILTER
from editor.ui.qimage import qimage_from_pixels
from editor.ui.style_panel import thumbnail_list

_ID_ROLE = Qt.ItemDataRole.UserRole


def _label(face_set: FaceSet) -> str:
    if face_set.unchecked:
        return f"{face_set.name}\nlooking…"
    count = len(face_set.ready)
    return f"{face_set.name}\n{count} photo{'s' if count != 1 else ''}"


class FacePanel(QWidget):
    """The sets as face thumbnails; the current item is the set Swap uses."""

    photosAdded = Signal(str)  # set id: some photos still need looking at
    swapRequested = Signal()
    message = Signal(str)

    def __init__(self, library: FaceSetLibrary, parent=None) -> None:
        super().__init__(parent)
        self.library = library
        self._sets: list[FaceSet] = []
        self._filling = False
        self.setAcceptDrops(True)

        self.list = thumbnail_list(THUMBNAIL_SIZE, QSize(THUMBNAIL_SIZE + 24, THUMBNAIL_SIZE + 40))
        self.list.setEditTriggers(QListWidget.EditTrigger.EditKeyPressed)
        self.list.itemChanged.connect(self._item_renamed)
        self.list.setToolTip("Drop photos of one person here (several poses and expressions)")

        self.target_label = QLabel()
        self.target_label.setWordWrap(True)
        self.quick_box = QCheckBox("Quick (warp and blend, no optimisation)")
        self.new_button = QPushButton("New Set…")
        self.new_button.clicked.connect(self.new_set_dialog)
        self.add_button = QPushButton("Add Photos…")
        self.add_button.clicked.connect(self.add_photos_dialog)
        self.swap_button = QPushButton("Swap")
        self.swap_button.setToolTip("Replace the chosen face by the selected set (Ctrl+Alt+F)")
        self.swap_button.clicked.connect(self.swapRequested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.add_button)
        layout.addLayout(row)
        layout.addWidget(self.target_label)
        layout.addWidget(self.quick_box)
        layout.addWidget(self.swap_button)

        scope = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for text, slot, key in (
            ("Re&name", self.rename_current, "F2"),
            ("&Remove", self.remove_current, "Del"),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(scope)
            action.triggered.connect(slot)
            self.addAction(action)
        self.set_target_text(None, 0)
        self.refresh()

    # --- state -------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Re-read the sets (another window may have changed them) and redraw."""
        current = self.current_set()
        keep = select or (current.id if current else None)
        sets = self.library.sets()
        if sets == self._sets and select is None:
            return
        self._sets = sets
        self._filling = True
        try:
            self.list.clear()
            for face_set in sets:
                item = QListWidgetItem(_label(face_set))
                item.setData(_ID_ROLE, face_set.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                names = ", ".join(p.name for p in face_set.photos if p.name)
                item.setToolTip(f"{face_set.name}: {len(face_set.photos)} photo(s)\n{names}")
                thumb = self.library.thumbnail(face_set)
                if thumb is not None:
                    item.setIcon(QIcon(QPixmap.fromImage(qimage_from_pixels(thumb))))
                self.list.addItem(item)
        finally:
            self._filling = False
        for row in range(self.list.count()):
            if self.list.item(row).data(_ID_ROLE) == keep:
                self.list.setCurrentRow(row)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(self.list.count() - 1)

    def current_set(self) -> FaceSet | None:
        item = self.list.currentItem()
        if item is None:
            return None
        return next((s for s in self._sets if s.id == item.data(_ID_ROLE)), None)

    def quick(self) -> bool:
        return self.quick_box.isChecked()

    def set_target_text(self, chosen: int | None, count: int | None) -> None:
        """What the canvas shows: count None = not looked yet, 0 = no face. `chosen` is the
        engine's index (from 0); users count faces from 1, as the outlines and --target do."""
        if count is None:
            text = "Faces in the image: choose the Face tool (F) to find them"
        elif count == 0:
            text = "No face found in the image (dlib needs a face of about 80 px)"
        elif chosen is None:
            text = f"{count} face(s) found: click one on the canvas (Face tool, F)"
        else:
            text = f"Face {chosen + 1} of {count} chosen (numbered from the left); click another"
        self.target_label.setText(text)

    # --- adding ------------------------------------------------------------------------------

    def add_paths(self, paths: list[str | Path], into: str | None = None) -> FaceSet | None:
        """A new set of the photos (named after the first one's folder), or more photos for the
        set `into`; unreadable files are named in the status bar and left out."""
        if not paths:
            return None
        try:
            if into is None:
                first = Path(paths[0])
                name = first.parent.name if len(paths) > 1 else first.stem
                face_set, skipped = self.library.create(name, paths)
            else:
                face_set, skipped = self.library.add_photos(into, paths)
        except FaceSetError as error:
            self.message.emit(str(error))
            return None
        if skipped:
            self.message.emit("Not added: " + "; ".join(skipped))
        self.refresh(select=face_set.id)
        self.photosAdded.emit(face_set.id)
        return face_set

    def new_set_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Photos of the new face (several poses help)", "", OPEN_FILTER
        )
        self.add_paths(paths)

    def add_photos_dialog(self) -> None:
        current = self.current_set()
        if current is None:
            self.new_set_dialog()
            return
        paths, _ = QFileDialog.getOpenFileNames(
            self, f"More photos of {current.name}", "", OPEN_FILTER
        )
        self.add_paths(paths, into=current.id)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        event.acceptProposedAction()
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        pos = self.list.viewport().mapFrom(self, event.position().toPoint())
        item = self.list.itemAt(pos)
        self.add_paths(paths, into=item.data(_ID_ROLE) if item is not None else None)

    # --- rename and remove -------------------------------------------------------------------

    def rename_current(self) -> None:
        item = self.list.currentItem()
        face_set = self.current_set()
        if item is not None and face_set is not None:
            self._filling = True
            item.setText(face_set.name)  # edit the name alone, not the photo count
            self._filling = False
            self.list.editItem(item)

    def _item_renamed(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        set_id = item.data(_ID_ROLE)
        try:
            self.library.rename(set_id, item.text().split("\n")[0])
        except FaceSetError as error:
            self.message.emit(str(error))
        self.refresh(select=set_id)

    def remove_current(self) -> None:
        face_set = self.current_set()
        if face_set is None:
            return
        try:
            self.library.remove(face_set.id)
        except FaceSetError as error:
            self.message.emit(str(error))
            return
        self.refresh()
        self.message.emit(f"Removed face set {face_set.name}")

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.WindowActivate:
            self.refresh()
        return super().event(event)
