"""The background engine: runs edit jobs one at a time on its own QThread.

The UI thread never computes pixels. It calls `Engine.submit` with a `RunFactory`; a worker
QObject living on the engine's QThread drives the run (a generator of `Update`s) and reports back
through queued signals, each carrying the job id:

    submit ──► queue (deque + lock) ──wake (queued signal)──► _Worker.process on the engine thread
                                                               │ drives run(ctx), throttles previews
    UI slots ◄── Engine signals (main thread) ◄── queued ──────┘ started/progress/preview/finished…

Every submitted job ends with exactly one of `finished`, `failed` or `cancelled`.

Cancellation is cooperative: `cancel` sets the job's `RunContext.cancel_event`. The run raises
`JobCancelled` at its next `check_cancelled()`; besides, the driver stops pulling updates (and
closes the generator) as soon as the run yields after the flag is set. A run that ignores the flag
and returns a result anyway still ends with `cancelled`, never `finished`: the user asked for the
result to be thrown away. A job cancelled while waiting is dropped from the queue and gets
`cancelled` at once.

Finishing early is cooperative too: `finish` sets the job's `RunContext.finish_event`; an
iterative run returns its current result at its next step and the job ends `finished`.

Previews are throttled to one per `preview_interval_s` (the latest wins); a pending preview is
delivered before `finished` (not before `cancelled`: nobody wants a cancelled job's pixels).
Progress is limited to ~20 signals a second, plus every change of message. A run inside one long
call that cannot yield (an L-BFGS step) reports sub-steps through `RunContext.report`; those go
to the same `progress` signal, by time alone (their message changes at every sub-step).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from editor.core.geometry import Rect
from editor.engine.device import pick_device, set_cpu_threads
from editor.engine.jobs import JobCancelled, RunContext, RunFactory, Update
from editor.engine.models.manager import Models

log = logging.getLogger(__name__)

_PROGRESS_INTERVAL_S = 0.05


@dataclass
class _Job:
    id: int
    name: str
    factory: RunFactory
    ctx: RunContext


class _ProgressGate:
    """Decides which updates' progress reaches the UI: every change of message, else ~20 a
    second. Sub-steps (`RunContext.report`) change their message each time and may come
    hundreds of times a second on a GPU, so they pass by time alone; one held back is soon
    superseded by the next."""

    def __init__(self) -> None:
        self.last_message: str | None = None
        self.last = float("-inf")

    def passes(self, update: Update, now: float, *, substep: bool = False) -> bool:
        news = update.message != self.last_message and not substep
        if not news and now - self.last < _PROGRESS_INTERVAL_S:
            return False
        self.last_message, self.last = update.message, now
        return True


class _JobQueue:
    """The state shared by the UI thread and the engine thread; every access holds `lock`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: deque[_Job] = deque()
        self.current: _Job | None = None

    def take_next(self) -> tuple[_Job | None, int]:
        """Pop the next job and make it current (atomically); also return how many still wait."""
        with self.lock:
            self.current = self.waiting.popleft() if self.waiting else None
            return self.current, len(self.waiting)


def _one_line(error: BaseException) -> str:
    """What the user reads: the message alone for errors about their input (bad mask, missing
    model, unreadable file), prefixed with the type for anything unexpected (a bug)."""
    from editor.core.imageio import ImageIOError
    from editor.engine.store import ModelError

    text = str(error).strip().splitlines()
    if not text:
        return type(error).__name__
    if isinstance(error, (ValueError, OSError, ImageIOError, ModelError)):
        return text[0]
    return f"{type(error).__name__}: {text[0]}"


class _Worker(QObject):
    """Lives on the engine thread; drives runs and emits what happens (never touches the UI)."""

    started = Signal(int, str)
    progress = Signal(int, float, str)
    preview = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    cancelled = Signal(int)
    queue_changed = Signal(int)

    def __init__(self, jobs: _JobQueue, threads: int | None, preview_interval_s: float) -> None:
        super().__init__()
        self._jobs = jobs
        self._threads = threads
        self._preview_interval_s = preview_interval_s

    @Slot()
    def setup(self) -> None:
        """Runs first on the engine thread: thread settings apply where the work happens."""
        set_cpu_threads(self._threads)

    @Slot()
    def process(self) -> None:
        """Run waiting jobs until the queue is empty (extra wake-ups then find nothing to do)."""
        while True:
            job, waiting = self._jobs.take_next()
            if job is None:
                return
            self.queue_changed.emit(waiting)
            self._run(job)

    def _run(self, job: _Job) -> None:
        ctx = job.ctx
        if ctx.cancelled:
            self.cancelled.emit(job.id)
            return
        self.started.emit(job.id, job.name)
        run = None
        try:
            run = job.factory(ctx)
            result = self._drive(job, run)
        except JobCancelled:
            self.cancelled.emit(job.id)
        except Exception as error:  # the worker outlives any job
            log.exception("job %d (%s) failed", job.id, job.name)
            self.failed.emit(job.id, _one_line(error))
        else:
            if ctx.cancelled:  # the run ignored the flag: its result is not wanted
                self.cancelled.emit(job.id)
            else:
                self.finished.emit(job.id, result)
        finally:
            if run is not None and hasattr(run, "close"):
                try:
                    run.close()  # runs the generator's `finally` blocks if we stopped early
                except Exception:
                    log.exception("job %d (%s) failed while closing", job.id, job.name)

    def _drive(self, job: _Job, run) -> object:
        """Pull updates until the run returns; throttle what goes to the UI."""
        interval = self._preview_interval_s
        last_preview = float("-inf")
        gate = _ProgressGate()
        job.ctx.on_report = partial(self._progress, job, gate, substep=True)
        pending: Update | None = None
        while True:
            try:
                update = next(run)
            except StopIteration as stop:
                if pending is not None:
                    self.preview.emit(job.id, pending)
                return stop.value
            if job.ctx.cancelled:
                raise JobCancelled()
            self._progress(job, gate, update)
            now = time.monotonic()
            if update.preview is not None:
                pending = update
            if pending is not None and now - last_preview >= interval:
                self.preview.emit(job.id, pending)
                pending, last_preview = None, now

    def _progress(
        self, job: _Job, gate: _ProgressGate, update: Update, *, substep: bool = False
    ) -> None:
        """Emit an update's progress if the gate lets it through (on the engine thread)."""
        if job.ctx.cancelled or not gate.passes(update, time.monotonic(), substep=substep):
            return
        fraction = -1.0 if update.progress is None else float(update.progress)
        self.progress.emit(job.id, fraction, update.message)


class Engine(QObject):
    """Runs jobs one at a time on a worker QObject moved to its own QThread.

    Talks to the UI only through queued signals, all emitted on the thread the Engine lives in
    (the UI thread). Call its methods from that thread too; only the job queue is shared with the
    engine thread, behind a lock. Call `shutdown` before dropping the last reference (it is
    connected to the application's aboutToQuit): Qt aborts if a running QThread is destroyed.
    """

    started = Signal(int, str)
    """job id, job name"""
    progress = Signal(int, float, str)
    """job id, fraction done (-1 if unknown), message"""
    preview = Signal(int, object)
    """job id, the `Update` carrying `preview` (+ `preview_rect`); throttled, the latest wins"""
    finished = Signal(int, object)
    """job id, result"""
    failed = Signal(int, str)
    """job id, one line: exception type and message (the traceback goes to logging)"""
    cancelled = Signal(int)
    """job id"""
    queue_changed = Signal(int)
    """number of waiting jobs (not counting the running one)"""

    _wake = Signal()

    def __init__(
        self,
        device: str = "auto",
        threads: int | None = None,
        preview_interval_s: float = 0.1,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._device = pick_device(device)
        self._models: Callable[[], Models] = Models  # the default store until `set_models`
        self._jobs = _JobQueue()
        self._next_id = 1
        self._live: set[int] = set()  # submitted and not yet reported ended (UI-thread view)
        self._shut_down = False

        self._thread = QThread()
        self._thread.setObjectName("semedit-engine")
        self._worker = _Worker(self._jobs, threads, preview_interval_s)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.setup)
        self._wake.connect(self._worker.process, Qt.ConnectionType.QueuedConnection)

        queued = Qt.ConnectionType.QueuedConnection
        w = self._worker
        w.started.connect(self.started, queued)
        w.progress.connect(self.progress, queued)
        w.preview.connect(self.preview, queued)
        w.queue_changed.connect(self.queue_changed, queued)
        w.finished.connect(self._on_finished, queued)
        w.failed.connect(self._on_failed, queued)
        w.cancelled.connect(self._on_cancelled, queued)

        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self._thread.start()

    # -- state ---------------------------------------------------------------------------------

    @property
    def device(self) -> str:
        """The torch device runs get in their `RunContext` ("cpu", "cuda", …)."""
        return self._device

    def models(self) -> Models:
        """What the next job will find at `ctx.models`, asked now (the window's provider
        makes a store from its current Preferences: a changed models folder counts from the
        next job on)."""
        return self._models().on(self._device)

    def set_models(self, models: Callable[[], Models]) -> None:
        """Where later jobs get their models: the window passes the store of its Preferences,
        also to an engine it was handed."""
        self._models = models

    @property
    def busy(self) -> bool:
        """True while any submitted job has not yet reported finished/failed/cancelled."""
        return bool(self._live)

    # -- jobs ----------------------------------------------------------------------------------

    def submit(
        self,
        name: str,
        factory: RunFactory,
        *,
        replace: bool = False,
        viewport: Rect | None = None,
        models: Models | None = None,
    ) -> int:
        """Queue a job and return its id; `replace` first cancels the running and waiting ones.
        `models`: the store the run sees instead of the engine's (the Models dialog works on
        the store it shows)."""
        if self._shut_down:
            raise RuntimeError("the engine is shut down")
        if replace:
            self.cancel_all()
        chosen = models.on(self._device) if models is not None else self.models()
        ctx = RunContext(device=self._device, viewport=viewport, models=chosen)
        job = _Job(self._next_id, name, factory, ctx)
        self._next_id += 1
        self._live.add(job.id)
        with self._jobs.lock:
            self._jobs.waiting.append(job)
            waiting = len(self._jobs.waiting)
        self.queue_changed.emit(waiting)
        self._wake.emit()
        return job.id

    def set_viewport(self, job_id: int, viewport: Rect | None) -> None:
        """Tell a running or waiting job which image area is on screen (it reorders its tiles)."""
        with self._jobs.lock:
            jobs = [self._jobs.current, *self._jobs.waiting]
        for job in jobs:
            if job is not None and job.id == job_id:
                job.ctx.viewport = viewport

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel the running job (None or its id), or drop a waiting one. Unknown ids: no-op."""
        dropped: _Job | None = None
        with self._jobs.lock:
            current = self._jobs.current
            if job_id is None or (current is not None and current.id == job_id):
                if current is not None:
                    current.ctx.cancel_event.set()
                return
            for job in self._jobs.waiting:
                if job.id == job_id:
                    dropped = job
                    self._jobs.waiting.remove(job)
                    break
            waiting = len(self._jobs.waiting)
        if dropped is not None:
            dropped.ctx.cancel_event.set()
            self._on_cancelled(dropped.id)
            self.queue_changed.emit(waiting)

    def finish(self, job_id: int) -> bool:
        """Ask a job for what it has now (Apply while an iterative edit runs): sets its
        `RunContext.finish_event`. Iterative runs return their current result at their next
        step and the job ends `finished` as usual; other runs ignore it. A waiting job is only
        marked (it returns at its first step once it starts). False for unknown or ended ids."""
        with self._jobs.lock:
            jobs = [self._jobs.current, *self._jobs.waiting]
        for job in jobs:
            if job is not None and job.id == job_id:
                job.ctx.finish_event.set()
                return True
        return False

    def cancel_all(self) -> None:
        """Cancel the running job and drop every waiting one."""
        with self._jobs.lock:
            dropped = list(self._jobs.waiting)
            self._jobs.waiting.clear()
            if self._jobs.current is not None:
                self._jobs.current.ctx.cancel_event.set()
        for job in dropped:
            job.ctx.cancel_event.set()
            self._on_cancelled(job.id)
        if dropped:
            self.queue_changed.emit(0)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Cancel everything, stop the thread and wait for it. Safe to call twice.

        A run that ignores cancellation for longer than `timeout_ms` is left to finish on its
        own (a warning is logged); terminating a thread mid-computation is never safe.
        """
        if self._shut_down:
            return
        self._shut_down = True
        self.cancel_all()
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            log.warning("engine thread still busy %d ms after shutdown was asked", timeout_ms)
        self._live.clear()

    # -- relays on the UI thread: keep `busy` in step with what the UI has been told -------------

    @Slot(int, object)
    def _on_finished(self, job_id: int, result: object) -> None:
        self._live.discard(job_id)
        self.finished.emit(job_id, result)

    @Slot(int, str)
    def _on_failed(self, job_id: int, message: str) -> None:
        self._live.discard(job_id)
        self.failed.emit(job_id, message)

    @Slot(int)
    def _on_cancelled(self, job_id: int) -> None:
        self._live.discard(job_id)
        self.cancelled.emit(job_id)
