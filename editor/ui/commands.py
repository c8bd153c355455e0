"""Undo commands. Each stores an ArrayPatch (only the changed tiles), never whole images."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from editor.core.document import Document, Layer
from editor.core.patch import ArrayPatch


class PatchCommand(QUndoCommand):
    """One user-visible change of one layer: a stroke, a region, a mask operation, an edit result.

    `applied=True` means the change is already in the document (a brush stroke is painted live),
    so the first redo(), which QUndoStack.push() calls, must not write it again.
    """

    def __init__(
        self,
        document: Document,
        layer: Layer,
        patch: ArrayPatch,
        text: str,
        *,
        applied: bool = False,
    ) -> None:
        super().__init__(text)
        self.document = document
        self.layer = layer
        self.patch = patch
        self._skip_redo = applied

    @property
    def touches_image(self) -> bool:
        """Whether this command changes pixels that Save writes (mask edits do not)."""
        return self.layer == "image"

    @property
    def nbytes(self) -> int:
        return self.patch.nbytes

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        self.document.apply_patch(self.layer, self.patch, forward=True)

    def undo(self) -> None:
        self.document.apply_patch(self.layer, self.patch, forward=False)
