"""Undo commands. Each stores ArrayPatches (only the changed tiles), never whole images."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QUndoCommand

from editor.core.document import Document, Layer
from editor.core.patch import ArrayPatch


class PatchCommand(QUndoCommand):
    """One user-visible change: a stroke, a region, a mask operation, an edit result.

    `extra` holds further layer changes made by the same step (a removal clears the mask it
    used), undone and redone together with the main one.
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
        extra: Sequence[tuple[Layer, ArrayPatch]] = (),
    ) -> None:
        super().__init__(text)
        self.document = document
        self.layer = layer
        self.patch = patch
        self.changes: list[tuple[Layer, ArrayPatch]] = [(layer, patch)] + [
            (extra_layer, extra_patch)
            for extra_layer, extra_patch in extra
            if not extra_patch.empty
        ]
        self._skip_redo = applied

    @property
    def touches_image(self) -> bool:
        """Whether this command changes pixels that Save writes (mask edits do not)."""
        return any(layer == "image" for layer, _ in self.changes)

    @property
    def nbytes(self) -> int:
        return sum(patch.nbytes for _, patch in self.changes)

    def redo(self) -> None:
        if self._skip_redo:
            self._skip_redo = False
            return
        for layer, patch in self.changes:
            self.document.apply_patch(layer, patch, forward=True)

    def undo(self) -> None:
        for layer, patch in reversed(self.changes):
            self.document.apply_patch(layer, patch, forward=False)
