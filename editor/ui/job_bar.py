"""The one job bar every edit shares: what runs, progress, Cancel, then Apply or Discard.

`EditSession` is the glue between a document, the engine and the canvas: it submits a run, draws
its previews, keeps the finished result as a pending patch and turns Apply into one undo command.
The patch is computed on the engine thread, so a 24 MP result costs the UI thread nothing.

`JobClock` keeps a running job visibly alive: elapsed time and an estimate of the time left,
ticking twice a second even while the engine is deep in one long step and sends nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from editor.core.document import Document
from editor.core.geometry import Rect
from editor.core.mask_ops import changed_patch
from editor.core.patch import ArrayPatch
from editor.engine.jobs import RunContext, RunFactory, Update
from editor.engine.worker import Engine
from editor.ui.canvas import CanvasView


@dataclass
class PendingResult:
    """A finished edit waiting for Apply: the result, the undo patch for in-place edits (None for
    edits whose result becomes a new document), and the image revision it was made from."""

    name: str
    patch: ArrayPatch | None
    result: np.ndarray
    revision: int
    consumed_mask: np.ndarray | None = None  # cleared from the mask when the result is applied


@dataclass(frozen=True)
class _JobInfo:
    name: str
    revision: int  # the document's image revision when the job was submitted
    scale: int  # result resolution / document resolution
    finishable: bool = False  # an iterative edit: Apply while it runs keeps what it has now
    consumed_mask: np.ndarray | None = None  # the mask this edit used up (removal)


def _with_patch(factory: RunFactory, before: np.ndarray) -> RunFactory:
    """Wrap a run so it also returns the patch from `before` to its result (on the worker)."""

    def run(ctx: RunContext):
        result = yield from factory(ctx)
        ctx.check_cancelled()
        yield Update(progress=1.0, message="Preparing the result…")
        return result, changed_patch(before, result)

    return run


MIN_PROGRESS_FOR_ESTIMATE = 0.05
MIN_SECONDS_FOR_ESTIMATE = 2.0
"""The time left is only guessed once the job has done 5 % of its work in 2 s or more: a first
model load or a first tile says little about the pace."""


def time_left(start: tuple[float, float], latest: tuple[float, float], now: float) -> float | None:
    """Seconds left at `now`, from the pace between two (time, fraction done) samples; None
    while there is too little to go on, or once that pace is overdue (the job slowed down)."""
    (t0, f0), (t1, f1) = start, latest
    if f1 - f0 < MIN_PROGRESS_FOR_ESTIMATE or t1 - t0 < MIN_SECONDS_FOR_ESTIMATE:
        return None
    left = (t1 - t0) * (1.0 - f1) / (f1 - f0) - (now - t1)
    return left if left >= 1.0 else None


def duration_text(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour (training runs for hours)."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class JobClock(QObject):
    """Shows a running job's elapsed time and, once the pace is known, the time left, on
    `label`; a QTimer refreshes it every `TICK_MS`, whether or not the engine sent anything.

    now: the clock in seconds (monotonic); tests give a fake one and fire `timer` themselves.
    """

    TICK_MS = 500  # the shown seconds change every second despite timer jitter

    def __init__(self, label: QLabel, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(label)
        self.label = label
        self.now = now
        self.timer = QTimer(self)
        self.timer.setInterval(self.TICK_MS)
        self.timer.timeout.connect(self.tick)
        self._began = 0.0
        self._start: tuple[float, float] = (0.0, 0.0)  # when the work began to move
        self._latest: tuple[float, float] | None = None
        label.setToolTip("Time since the edit started, and an estimate of the time left")
        label.hide()

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def start(self) -> None:
        """A job started now: count from zero, with no estimate yet."""
        self._began = self.now()
        self._start, self._latest = (self._began, 0.0), None
        self.timer.start()
        self.label.show()
        self.tick()

    def sample(self, fraction: float | None) -> None:
        """The job reports `fraction` done (None or < 0: unknown). The pace is measured from
        the last report of no progress (the work had not begun to move before it)."""
        if not self.running or fraction is None or fraction < 0:
            return
        moment = (self.now(), float(fraction))
        if fraction <= 0.0:
            self._start = moment
        self._latest = moment
        self.tick()

    def stop(self) -> None:
        self.timer.stop()
        self.label.hide()
        self.label.clear()

    def text(self) -> str:
        now = self.now()
        shown = f"{duration_text(now - self._began)} elapsed"
        left = None if self._latest is None else time_left(self._start, self._latest, now)
        if left is not None:
            shown += f", about {duration_text(math.ceil(left))} left"
        return shown

    def tick(self) -> None:
        self.label.setText(self.text())


class ElidedLabel(QLabel):
    """A one-line label that never widens its window: a long message is cut with "…" to the
    space there is (the whole text is its tooltip). A plain QLabel's minimum width is its text's,
    and a long "finished" message pushed the window wider and the canvas with it."""

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's naming
        self._full = text
        self.setToolTip(text if text else "")
        super().setText(text)
        self._elide()

    def text(self) -> str:
        return getattr(self, "_full", super().text())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's naming
        return QSize(0, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's naming
        return QSize(0, super().sizeHint().height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's naming
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        full = getattr(self, "_full", "")
        shown = self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, self.width())
        if shown != super().text():
            super().setText(shown)


class JobBar(QWidget):
    """Label, elapsed / remaining time, progress bar and the Cancel / Apply / Discard buttons.

    now: the clock `JobClock` reads (tests pass a fake one)."""

    stateChanged = Signal(str)  # idle · running · done · message

    def __init__(self, parent=None, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        self.label = ElidedLabel("")
        self.time_label = QLabel("")
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        widest = duration_text(59 * 60 + 59)  # the text ticks without moving what is beside it
        self.time_label.setMinimumWidth(
            self.time_label.fontMetrics().horizontalAdvance(
                f"{widest} elapsed, about {widest} left"
            )
        )
        self.clock = JobClock(self.time_label, now)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running edit (Esc)")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Keep the result (Enter); undo brings the old pixels back")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Throw the result away")
        layout.addWidget(self.label, 1)
        layout.addWidget(self.time_label)
        layout.addWidget(self.progress)
        for button in (self.cancel_button, self.apply_button, self.discard_button):
            layout.addWidget(button)
        self.state = ""
        # The bar keeps its place while idle and one height in every state: a bar that came and
        # went resized the canvas, and the image jumped under the user's cursor.
        policy = self.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.setSizePolicy(policy)
        self.setFixedHeight(self._tallest_height())
        self.set_state("idle")

    def _tallest_height(self) -> int:
        margins = self.layout().contentsMargins()
        tallest = max(
            w.sizeHint().height()
            for w in (self.label, self.progress, self.cancel_button, self.apply_button)
        )
        return tallest + margins.top() + margins.bottom()

    def set_state(self, state: str, text: str = "", *, finishable: bool = False) -> None:
        """idle (hidden) · running · done (Apply/Discard) · message (text only).

        finishable: while running, Apply shows too (an iterative edit can stop and keep what it
        has now)."""
        self.setVisible(state != "idle")
        self.label.setText(text)
        self.progress.setVisible(state == "running")
        self.cancel_button.setVisible(state == "running")
        self.apply_button.setVisible(state == "done" or (state == "running" and finishable))
        self.apply_button.setToolTip(
            "Stop now and keep what the preview shows (Ctrl+Return)"
            if state == "running"
            else "Keep the result (Ctrl+Return); undo brings the old pixels back"
        )
        self.discard_button.setVisible(state == "done")
        if state != "running":
            self.clock.stop()
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    def set_progress(self, fraction: float | None) -> None:
        self.clock.sample(fraction)
        if fraction is None or fraction < 0:
            self.progress.setRange(0, 0)  # busy indicator
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(round(fraction * 1000)))


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
            name, self.document.image_revision, scale, finishable, consumes_mask
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
        self.pending = PendingResult(name, patch, result, revision, job.consumed_mask)
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
        self.applied.emit(pending.name)
        return True

    def discard(self) -> None:
        had = self.pending is not None or self._offer is not None
        self.pending = None
        self._offer = None
        self.canvas.clear_preview()
        if had or not self.engine.busy:
            self.bar.set_state("idle")
