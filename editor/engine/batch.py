"""Run one file edit over the files of a batch plan, in this process or in worker processes.

A run like every edit's (`Iterator[Update]`, returning a `BatchReport`), so the CLI drives it with
its progress bar and the editor's File ▸ Batch… on its engine thread, cancellable either way.

- One file's failure (it does not decode, has no mask, no face) is reported through `on_file`
  as it happens and the batch goes on; what the files share failing (`prepare`: an unknown model)
  is the batch's error and raised.
- `jobs > 1`: that many worker processes ('spawn': no forked copy of a process with torch's
  threads), each preparing the edit once and keeping its networks loaded for all its files; each
  gets an equal share of the cores for torch's threads. Cancelling stops the workers with
  SIGTERM, which unwinds the file each is on (its temporary files go with it); outputs are
  written atomically, so a stopped batch leaves no half-written file and a rerun with
  --skip-existing continues where it stopped.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from editor.core.batch_plan import BatchItem, BatchPlan
from editor.engine.file_edits import FileEdit, Prepared
from editor.engine.jobs import JobCancelled, Run, RunContext, Update

POLL_S = 0.2
"""How often the parent looks at the cancel flag while its workers run."""


@dataclass(frozen=True)
class FileResult:
    item: BatchItem
    error: str | None = None
    """One line: why this file failed; None when its output was written."""
    note: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BatchReport:
    plan: BatchPlan
    results: list[FileResult] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def written(self) -> list[FileResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if not r.ok]

    def summary(self, verb: str) -> str:
        """One line for the end of a batch, e.g. "18 of 20 files upscaled into out/ in 1 min
        04 s; 2 failed"."""
        plan = self.plan
        parts = [
            f"{len(self.written)} of {plan.total} files {verb} into {plan.output_dir}"
            f" in {_duration(self.seconds)}"
        ]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if plan.existing:
            parts.append(f"{len(plan.existing)} already there (skipped)")
        return "; ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def error_line(exc: BaseException) -> str:
    """An exception as one line; unexpected kinds keep their type name so a bug is visible."""
    from editor.core.imageio import ImageIOError
    from editor.engine.store import ModelError

    text = " ".join(str(exc).split())
    if isinstance(exc, (ImageIOError, ModelError, ValueError, OSError)):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_batch(
    edit: FileEdit,
    plan: BatchPlan,
    ctx: RunContext,
    *,
    jobs: int = 1,
    on_file: Callable[[FileResult], None] | None = None,
    on_notes: Callable[[tuple[str, ...]], None] | None = None,
) -> Run:
    """Edit every item of `plan`; yields progress over the files, returns the report.

    `on_notes` hears what `prepare` says once (before the first file), `on_file` each file's
    result as it ends."""
    start = time.monotonic()
    report = BatchReport(plan)
    items = plan.items
    if not items:  # all there already (--skip-existing): nothing to load
        return report
    workers = max(1, min(jobs, len(items)))
    if workers == 1:
        prepared = edit.prepare()  # the batch's own problems (an unknown model) surface here
        report.notes = prepared.notes
        if on_notes is not None and prepared.notes:
            on_notes(prepared.notes)
        results = _in_process(prepared, items, ctx)
    else:  # this process loads nothing: the workers prepare, and say what went wrong
        results = _in_workers(edit, items, ctx, workers)
    with closing(results):  # an error or a cancel stops the workers now, not when collected
        for step in results:
            if isinstance(step, Update):
                yield step
            elif isinstance(step, _Prepared):
                if step.error is not None:
                    raise step.error
                if step.notes and not report.notes:
                    report.notes = step.notes
                    if on_notes is not None:
                        on_notes(step.notes)
            else:
                report.results.append(step)
                if on_file is not None:
                    on_file(step)
                done = len(report.results)
                yield Update(progress=done / len(items), message=f"{done}/{len(items)} done")
    report.seconds = time.monotonic() - start
    return report


def _in_process(
    prepared: Prepared, items: tuple[BatchItem, ...], ctx: RunContext
) -> Iterator[Update | FileResult]:
    """Each file's own updates, scaled into the batch's progress, then its result."""
    total = len(items)
    outer = ctx.on_report
    ctx.device, ctx.models = prepared.device, prepared.models  # the caller's cancel, their models
    try:
        for index, item in enumerate(items):
            ctx.check_cancelled()
            label = f"{index + 1}/{total} {item.source.name}"

            def scaled(update: Update, index=index, label=label) -> Update:
                inner = update.progress if update.progress is not None else 0.0
                text = f"{label}: {update.message}" if update.message else label
                return Update(progress=(index + inner) / total, message=text)

            if outer is not None:
                ctx.on_report = lambda update, scaled=scaled: outer(scaled(update))
            yield scaled(Update(message="reading"))
            started = time.monotonic()
            run = prepared.run(item, ctx)
            try:
                while True:
                    try:
                        update = next(run)
                    except StopIteration as stop:
                        note = stop.value
                        break
                    yield scaled(update)
            except JobCancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - one file's failure, reported, batch goes on
                yield FileResult(item, error_line(exc), seconds=time.monotonic() - started)
                continue
            finally:
                run.close()
            yield FileResult(item, note=note, seconds=time.monotonic() - started)
    finally:
        ctx.on_report = outer


@dataclass(frozen=True)
class _Prepared:
    """A worker's word on its `prepare`, ahead of its first file's result: the notes to say,
    or the exception that fails the whole batch (the same in every worker)."""

    notes: tuple[str, ...] = ()
    error: BaseException | None = None


def _in_workers(
    edit: FileEdit, items: tuple[BatchItem, ...], ctx: RunContext, workers: int
) -> Iterator[Update | FileResult | _Prepared]:
    """Results as the workers finish them. A worker that dies (killed, out of memory) breaks
    the pool: the files not done are reported failed, nothing waits forever."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
        initargs=(edit, threads),
    )
    finished = False
    try:
        pending = {pool.submit(_worker_file, item): item for item in items}
        while pending:
            ctx.check_cancelled()
            done, _ = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                try:
                    yield from future.result()
                except BrokenProcessPool:
                    yield FileResult(item, DIED)
        finished = True
    finally:
        _stop_workers(pool, graceful=finished)


DIED = "a worker process stopped unexpectedly (killed, or out of memory?) before this file was done"
STOP_GRACE_S = 3.0
"""How long a cancelled batch's workers get to unwind the file each is on before SIGKILL."""


def _stop_workers(pool, graceful: bool) -> None:
    """End the pool's processes. After the last file they exit by themselves; a cancelled
    batch's get SIGTERM (a busy one unwinds its file: see `_stop`) and, past the grace time,
    SIGKILL: an idle worker blocked on its queue may not see SIGTERM at all, when the signal
    lands on one of torch's threads instead of the one waiting.

    Waiting is on the processes' sentinels, and reaping is left to the pool's own manager
    thread, then done here only once that thread has ended: two threads reaping one process
    race in `Popen.poll` (one gets the status, the other ECHILD), and a cancelled test run
    found a worker whose exit status was lost that way, listed alive for ever."""
    from multiprocessing.connection import wait

    table = getattr(pool, "_processes", None) or {}  # no public handle on them
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=graceful, cancel_futures=True)
    if graceful:
        return
    processes = _workers(table)
    for process in processes:
        process.terminate()  # a no-op for one already gone
    pending = {process.sentinel: process for process in processes}
    deadline = time.monotonic() + STOP_GRACE_S
    while pending and (left := deadline - time.monotonic()) > 0:
        for sentinel in wait(list(pending), timeout=left):
            pending.pop(sentinel)
    for process in pending.values():
        process.kill()
    if manager is not None:
        manager.join(STOP_GRACE_S)  # it joins the workers it knows once they are gone
    for process in _workers(table):  # any left (the manager still busy, or started late)
        process.kill()
        process.join()


def _workers(table: dict) -> list:
    """The processes in a pool's table, read while its manager thread may still change it."""
    while True:
        try:
            return list(table.values())
        except RuntimeError:  # changed size during the read
            continue


_worker_prepared: Prepared | BaseException | None = None
"""In a worker process: the prepared edit, or why preparing it failed."""
_worker_said = False
"""In a worker process: its `_Prepared` went out with its first file's result."""
_worker_busy = False
"""In a worker process: a file is being edited (SIGTERM unwinds it; idle, the worker just exits)."""


class _Stopped(BaseException):
    """SIGTERM in a worker: unwinds the file it is on through its `finally` blocks."""


def _stop(signum: int, frame: object) -> None:
    if not _worker_busy:
        os._exit(128 + signal.SIGTERM)
    raise _Stopped()


def _worker_start(edit: FileEdit, threads: int) -> None:
    """A worker's set-up: Ctrl+C is the parent's to handle (it stops the workers), SIGTERM
    unwinds, torch gets this worker's share of the cores, the edit is prepared once."""
    global _worker_prepared
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
        _worker_prepared = edit.prepare()
    except Exception as exc:  # noqa: BLE001 - the parent raises it
        _worker_prepared = _sendable(exc)


def _sendable(exc: Exception) -> Exception:
    """`exc` if it survives pickling back to the parent, else a ModelError with its line."""
    import pickle

    from editor.engine.store import ModelError

    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception type can refuse
        return ModelError(error_line(exc))
    return exc


def _worker_file(item: BatchItem) -> list[_Prepared | FileResult]:
    """This file's result, after the worker's word on its `prepare` the first time."""
    global _worker_said
    prepared = _worker_prepared
    if not isinstance(prepared, Prepared):
        return [_Prepared(error=prepared or RuntimeError("the worker did not start"))]
    said = [] if _worker_said else [_Prepared(notes=prepared.notes)]
    _worker_said = True
    return [*said, _edit_file(prepared, item)]


def _edit_file(prepared: Prepared, item: BatchItem) -> FileResult:
    global _worker_busy
    started = time.monotonic()
    run = prepared.run(item, prepared.context())
    _worker_busy = True
    try:
        while True:
            next(run)
    except StopIteration as stop:
        return FileResult(item, note=stop.value, seconds=time.monotonic() - started)
    except _Stopped:
        os._exit(128 + signal.SIGTERM)  # the file's `finally` blocks ran on the way here
    except Exception as exc:  # noqa: BLE001 - one file's failure
        return FileResult(item, error_line(exc), seconds=time.monotonic() - started)
    finally:
        _worker_busy = False
        run.close()


def output_dir_ready(path: Path) -> None:
    """Create the batch's output folder (and its parents) before any work."""
    path.mkdir(parents=True, exist_ok=True)
