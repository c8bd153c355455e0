"""Remove in the window: the Remove Method menu's choice and the removal of the masked object.

Remove sends one `remove.RemoveRequest` (the image, the mask, the method) to the engine through
the window's `EditSession`; the result waits for Apply, which also clears the mask it used up in
the same undo step. Refined needs the VGG19 feature weights: without them the run falls back to
Quick and the status bar says so, rather than failing after the user asked for it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup

from editor.engine.edits import remove
from editor.ui.edit_session import EditSession

REMOVE_METHOD_LABELS = {
    "refined": "Refined (patch fill + neural texture)",
    "quick": "Quick (patch fill)",
    "telea": "Telea (smooth diffusion)",
    "ns": "Navier–Stokes (smooth diffusion)",
}


class RemoveEdits(QObject):
    """The window's removal: which method the menu has checked, and the request built from it.

    status: shows a status-bar message for the given milliseconds (`QStatusBar.showMessage`).
    """

    def __init__(
        self,
        session: EditSession,
        status: Callable[[str, int], None],
    ) -> None:
        super().__init__()
        self.session = session
        self._status = status
        self.methods = QActionGroup(self)  # Image ▸ Remove Method, for this window only
        for method in remove.METHODS:
            act = QAction(REMOVE_METHOD_LABELS.get(method, method), self)
            act.setCheckable(True)
            act.setData(method)
            act.setChecked(method == remove.DEFAULT_METHOD)
            self.methods.addAction(act)

    @property
    def method(self) -> str:
        """The method checked in the menu (a `remove.METHODS` key)."""
        return self.methods.checkedAction().data()

    def remove(self) -> int | None:
        """Fill the masked region through the engine; the result waits for Apply."""
        doc = self.session.document
        if doc is None:
            return None
        if not doc.mask.any():
            self._status("Paint over the object to remove first (B for the brush)", 6000)
            return None
        method = self.method
        if method == "refined" and not remove.refined_available(self.session.engine.models()):
            method = "quick"
            self._status(
                "Refined removal needs VGG19 feature weights (Edit ▸ Models…); using Quick", 8000
            )
        snapshot = doc.image.copy()
        request = remove.RemoveRequest(image=snapshot, mask=doc.mask.copy(), method=method)
        factory = partial(remove.run, request)
        return self.session.submit(
            f"Remove ({method})", factory, before=snapshot, consumes_mask=request.mask
        )
