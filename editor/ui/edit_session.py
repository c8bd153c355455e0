"""The glue between a document, the engine and the canvas that every edit family shares.

`EditSession` submits a run, draws its previews, keeps the finished result as a pending patch and
turns Apply into one undo command; the job bar shows where it is. The patch is computed on the
engine thread, so a 24 MP result costs the UI thread nothing. The edit controllers
(`remove_edits`, `upscale_edits`, `style_edits`, `face_edits`) build requests and hand them here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from editor.core.document import Document
from editor.core.geometry import Rect
from editor.core.mask_ops import changed_patch
from editor.core.patch import ArrayPatch
from editor.engine.jobs import RunContext, RunFactory, Update
from editor.engine.worker import Engine
from editor.ui.canvas import CanvasView
from editor.ui.job_bar import JobBar


@dataclass
class PendingResult:
    """A finished edit waiting for Apply: the result, the undo patch for in-place edits (None for
    edits whose result becomes a new document), and the image revision it was made from."""

    name: str
    patch: ArrayPatch | None
    result: np.ndarray
    revision: int
    consumed_mask: np.ndarray | None = None  # cleared from the mask when the result is applied
    on_applied: Callable[[], object] | None = None  # the submitter's follow-up, after Apply


@dataclass(frozen=True)
class _JobInfo:
    name: str
    revision: int  # the document's image revision when the job was submitted
    scale: int  # result resolution / document resolution
    finishable: bool = False  # an iterative edit: Apply while it runs keeps what it has now
    consumed_mask: np.ndarray | None = None  # the mask this edit used up (removal)
    on_applied: Callable[[], object] | None = None


def _with_patch(factory: RunFactory, before: np.ndarray) -> RunFactory:
    """Wrap a run so it also returns the patch from `before` to its result (on the worker)."""

    def run(ctx: RunContext):
        result = yield from factory(ctx)
        ctx.check_cancelled()
        yield Update(progress=1.0, message="Preparing the result…")
        return result, changed_patch(before, result)

    return run


class EditSession(QObject):
    """Runs edits of one document on the engine; previews, then a pending result, then undo."""

    applied = Signal(str)  # edit name, after its result became an undo command
    newDocument = Signal(object, str)  # result image, edit name: Apply of a resizing edit
    message = Signal(str)  # for the status bar

    def __init__(self, engine: Engine, canvas: CanvasView, bar: JobBar, push_patch) -> None:
        super().__init__()
        self.engine = engine
        self.canvas = canvas
        self.bar = bar
        self._push_patch = push_patch
        self.document: Document | None = None
        self.pending: PendingResult | None = None
        self._jobs: dict[int, _JobInfo] = {}
        self._apply_when_finished: set[int] = set()  # Apply was pressed while these ran
        self.running: int | None = None
        self._offer: Callable[[], object] | None = None  # what Apply runs for a live preview
        engine.started.connect(self._on_started)
        engine.progress.connect(self._on_progress)
        engine.preview.connect(self._on_preview)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.cancelled.connect(self._on_cancelled)
        bar.cancel_button.clicked.connect(self.cancel)
        bar.apply_button.clicked.connect(self.apply)
        bar.discard_button.clicked.connect(self.discard)

    # --- starting ------------------------------------------------------------------------------

    def set_document(self, document: Document | None) -> None:
        self.cancel()
        self.discard()
        self.document = document

    def submit(
        self,
        name: str,
        factory: RunFactory,
        *,
        scale: int = 1,
        before: np.ndarray | None = None,
        finishable: bool = False,
        apply_when_done: bool = False,
        consumes_mask: np.ndarray | None = None,
        on_applied: Callable[[], object] | None = None,
    ) -> int:
        """Queue an edit of the current document; a pending unapplied result is discarded.

        before: a snapshot of the image the caller already took for its request (edits never
        write into their input), reused as the undo patch's before-state instead of a 2nd copy.

        scale == 1: the result replaces the image in place (Apply = one undo command).
        scale > 1: the result is `scale` times larger (upscaling) and Apply opens it as a new
        document; previews arrive at that resolution and are drawn scaled down.

        finishable: an iterative edit that honours `RunContext.finish_requested`; Apply is
        offered while it runs and applies what it has at that moment as one undo command.

        apply_when_done: the user already pressed Apply (on a live preview): the result becomes
        an undo command as soon as it arrives.

        consumes_mask: the mask the edit used up (a removal): Apply clears those mask pixels in
        the same undo step, so the result is not hidden under the overlay; undo brings them back.

        on_applied: called once this in-place edit's result became an undo command (before
        `applied` is emitted), so the submitter reacts to its own edit, not to edit names.
        """
        if self.document is None:
            raise RuntimeError("no document")
        self.discard()
        waiting = self.engine.busy
        if scale == 1:
            snapshot = before if before is not None else self.document.image.copy()
            factory = _with_patch(factory, snapshot)
        job_id = self.engine.submit(name, factory, viewport=self.canvas.visible_image_rect())
        self._jobs[job_id] = _JobInfo(
            name, self.document.image_revision, scale, finishable, consumes_mask, on_applied
        )
        if apply_when_done:
            self._apply_when_finished.add(job_id)
        if waiting:
            self.bar.set_state("running", f"{name}: queued, starts when the running edit ends")
            self.message.emit(f"{name} queued behind the running edit")
        else:
            self.bar.set_state("running", f"{name}: starting…")
        return job_id

    def offer(self, text: str, on_apply: Callable[[], object]) -> None:
        """A live preview is on the canvas (drawn by its owner): the bar offers Apply, which
        calls `on_apply` (typically: submit the full edit with `apply_when_done`), and Discard,
        which hides the preview. Replaces a pending result; a later submit or discard ends it."""
        self.discard()
        self._offer = on_apply
        self.bar.set_state("done", text)

    @property
    def offering(self) -> bool:
        return self._offer is not None

    def set_viewport(self, rect: Rect) -> None:
        """Pass the visible area to this session's jobs: tiled edits do those tiles first."""
        for job_id in self._jobs:
            self.engine.set_viewport(job_id, rect)

    def cancel(self) -> None:
        """Cancel this session's edits (running or queued); other engine jobs carry on."""
        for job_id in list(self._jobs):
            self.engine.cancel(job_id)

    # --- engine signals ------------------------------------------------------------------------

    def _on_started(self, job_id: int, name: str) -> None:
        if job_id not in self._jobs:
            return
        self.running = job_id
        self.bar.set_state("running", f"{name}…", finishable=self._jobs[job_id].finishable)
        self.bar.clock.start()
        self.bar.set_progress(0.0)

    def _on_progress(self, job_id: int, fraction: float, text: str) -> None:
        if job_id != self.running:
            return
        self.bar.set_progress(fraction)
        name = self._jobs[job_id].name
        if job_id in self._apply_when_finished:
            text = "finishing, keeping what the preview shows…"
        self.bar.label.setText(f"{name}: {text}" if text else name)

    def _on_preview(self, job_id: int, update: Update) -> None:
        if job_id == self.running and update.preview is not None:
            self.canvas.show_preview(update.preview, update.preview_rect)

    def _on_finished(self, job_id: int, value) -> None:
        apply_now = job_id in self._apply_when_finished
        job = self._forget(job_id)
        if job is None or self.document is None:
            return
        name, revision = job.name, job.revision
        if job.scale != 1:
            self.pending = PendingResult(name, None, value, revision)
            self.canvas.show_result_tiles(value, job.scale)
            h, w = value.shape[:2]
            self.bar.set_state(
                "done",
                f"{name} finished ({w} × {h}): Apply opens it in place of this image "
                "(the file stays as it is), Discard drops it",
            )
            return
        result, patch = value
        if patch.empty:
            self.canvas.clear_preview()
            self.bar.set_state("message", f"{name}: no pixels changed")
            return
        self.pending = PendingResult(
            name, patch, result, revision, job.consumed_mask, job.on_applied
        )
        if apply_now:
            self.apply()
            return
        rect = patch.rect or Rect(0, 0, self.document.width, self.document.height)
        self.canvas.show_preview(result[rect.slices], rect)
        self.bar.set_state("done", f"{name} finished: Apply to keep it, Discard to drop it")

    def _on_failed(self, job_id: int, text: str) -> None:
        job = self._forget(job_id)
        if job is None:
            return
        name = job.name
        self.canvas.clear_preview()
        self.bar.set_state("message", f"{name} failed: {text}")
        self.message.emit(f"{name} failed: {text}")

    def _on_cancelled(self, job_id: int) -> None:
        job = self._forget(job_id)
        if job is None:
            return
        self.canvas.clear_preview()
        self.bar.set_state("message", f"{job.name} cancelled; the image is unchanged")

    def _forget(self, job_id: int) -> _JobInfo | None:
        """Drop what this session kept about an ended job (None: not one of ours)."""
        if job_id == self.running:
            self.running = None
        self._apply_when_finished.discard(job_id)
        return self._jobs.pop(job_id, None)

    # --- results -------------------------------------------------------------------------------

    def apply(self) -> bool:
        """Commit the pending result as one undo command. Refused if the image changed since.

        While a finishable edit runs: ask it to stop at its next step; its result is then
        applied as soon as it arrives (returns False now, `applied` follows)."""
        if self.pending is None and not self._jobs and self._offer is not None:
            on_apply, self._offer = self._offer, None
            on_apply()  # the full edit of what the live preview shows
            return False
        if self.pending is None and self._jobs:  # running or queued: nothing to apply yet
            job = self._jobs.get(self.running) if self.running is not None else None
            if job is not None and job.finishable and self.running not in self._apply_when_finished:
                self._apply_when_finished.add(self.running)
                self.engine.finish(self.running)
                self.bar.apply_button.setVisible(False)
                self.bar.label.setText(f"{job.name}: finishing, keeping what the preview shows…")
            return False
        if self.pending is not None and self.pending.patch is None:
            # A new document: the window takes it (and drops it from here by switching
            # documents), or the user chose to stay and the result is still offered.
            self.newDocument.emit(self.pending.result, self.pending.name)
            return self.pending is None
        pending, self.pending = self.pending, None
        self.canvas.clear_preview()
        if pending is None or self.document is None:
            self.bar.set_state("idle")
            return False
        if pending.revision != self.document.image_revision:
            self.bar.set_state(
                "message", f"{pending.name}: the image changed while it ran; run it again"
            )
            return False
        extra = []
        if pending.consumed_mask is not None:
            mask = self.document.mask.copy()
            mask[pending.consumed_mask > 0] = 0
            extra.append(("mask", self.document.diff("mask", mask)))
        self._push_patch("image", pending.patch, pending.name, extra)
        self.bar.set_state("idle")
        if pending.on_applied is not None:
            pending.on_applied()
        self.applied.emit(pending.name)
        return True

    def discard(self) -> None:
        had = self.pending is not None or self._offer is not None
        self.pending = None
        self._offer = None
        self.canvas.clear_preview()
        if had or not self.engine.busy:
            self.bar.set_state("idle")
