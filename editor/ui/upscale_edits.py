"""Upscale in the window: the Upscale Model menu's look and the enlargement of the whole image.

Upscale picks the best super-resolution network the store has for the scale and the look
(`choose_upscaler`), checks that the output fits in memory and on the temporary disk before any
copy is made, and sends one `upscale.UpscaleRequest` through the window's `EditSession`. The tiles
under the viewport come first and show beside the original in a compare split; Apply opens the
result as a new document (the session's `newDocument`, which the window handles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup

from editor.engine.edits import upscale
from editor.engine.models.upscalers import choose_upscaler
from editor.engine.spill import temp_root
from editor.engine.store import ModelError
from editor.ui.canvas import CanvasView
from editor.ui.edit_session import EditSession
from editor.ui.settings import Settings, make_store

UPSCALE_LOOKS = (
    ("faithful", "Faithful", "PSNR-trained networks: closest to the original on average, smooth"),
    (
        "sharp",
        "Sharp (GAN)",
        "Real-ESRGAN, else the built-in SemEdit GAN: draws believable texture "
        "(×2/×3: ×4, then downscaled)",
    ),
)


class UpscaleEdits(QObject):
    """The window's upscaling: the look kept in the settings, and the request built from it.

    status: shows a status-bar message for the given milliseconds, 0 until the next one.
    show_error: the window's error dialog (tests replace it). set_compare: sets the canvas's
    compare split and the View menu's check mark together.
    """

    def __init__(
        self,
        session: EditSession,
        canvas: CanvasView,
        settings: Settings,
        status: Callable[[str, int], None],
        show_error: Callable[[str, str], None],
        set_compare: Callable[[float], None],
    ) -> None:
        super().__init__()
        self.session = session
        self.canvas = canvas
        self.settings = settings
        self._status = status
        self._show_error = show_error
        self._set_compare = set_compare
        self.looks = QActionGroup(self)  # Image ▸ Upscale Model, kept in Settings
        for look, label, tip in UPSCALE_LOOKS:
            act = QAction(label, self)
            act.setCheckable(True)
            act.setData(look)
            act.setToolTip(tip)
            act.setChecked(look == settings.upscale_look())
            self.looks.addAction(act)
        self.looks.triggered.connect(lambda act: settings.set_upscale_look(str(act.data())))

    def upscale(self, scale: int) -> int | None:
        """Enlarge the image; the visible part is upscaled first and shown beside the original."""
        doc = self.session.document
        if doc is None:
            return None
        try:
            look = self.settings.upscale_look()
            choice = choose_upscaler(make_store(self.settings), scale, look=look)
        except (ModelError, ValueError) as error:
            self._status(str(error), 0)
            self._show_error("Cannot upscale", str(error))
            return None
        request = upscale.UpscaleRequest(image=doc.image, scale=scale, model=choice)
        try:  # output size, memory and temporary disk, before the job (and its copy) starts
            request.check_fits(temp_root())
        except upscale.UpscaleTooLarge as error:
            self._show_error("Cannot upscale", str(error))
            return None
        request = replace(request, image=doc.image.copy())
        factory = partial(upscale.run, request)  # loads the weights on the engine thread
        if self.canvas.compare_split is None:
            # Split where the user looks: half of the image can be off screen when zoomed in.
            seen = self.canvas.visible_image_rect() or doc.bounds
            self._set_compare((seen.x + seen.w / 2) / doc.width)
        self._status(f"Upscaling with {choice.label}", 0)
        return self.session.submit(f"Upscale ×{scale}", factory, scale=scale)
