"""Fetch a model: `ModelStore.fetch` as an engine job, so a download never blocks the GUI.

The store reports download progress through a callback from deep inside `download_to_part`,
which reads the network in a loop; a callback cannot yield. So the download runs on a helper
thread and its progress comes back through a queue, and the run relays it as `Update`s:

    run (engine thread) ──starts──► helper thread: store.fetch(progress=…, cancel=ctx.cancel_event)
         ▲ yields Update(progress, "Downloading …  1.2 / 3.9 MB")          │
         └────────────── queue: ("progress", done, total, name) · ("done", path) · ("error", exc)

The helper thread never outlives the run: the download gets `ctx.cancel_event` itself and raises
`JobCancelled` before its next chunk once it is set (the run sets it too when the driver closes
it early), and the run joins the thread before it ends, so no two writers ever share a `.part`
file. The `.part` is kept, and the next fetch resumes from it.

(A generator all the way down would need a generator form of `download_to_part`; until then this
thread is the bridge.)
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from editor.engine.jobs import Run, RunContext, Update


@dataclass(frozen=True)
class FetchRequest:
    """Which registry model to make present (downloaded into the store's user folder)."""

    model_id: str


@dataclass(frozen=True)
class ImportRequest:
    """A weights file the user has, to copy into the store's user folder (hashed there)."""

    path: Path


def run_import(request: ImportRequest, ctx: RunContext) -> Run:
    """`ModelStore.import_file` as a job: the copy and hash happen on the engine thread."""
    ctx.check_cancelled()
    yield Update(progress=None, message=f"Importing {request.path.name}…")
    return ctx.models.store.import_file(request.path)


def run(request: FetchRequest, ctx: RunContext) -> Run:
    """Download the model's missing files into `ctx.models.store`, verified; return the folder
    that now holds it.

    Yields Update(progress=done/total or None, message="Downloading <file>… 1.2 / 3.9 MB").
    Raises what `ModelStore.fetch` raises (ModelMissing, ChecksumMismatch, ModelError) and
    JobCancelled when `ctx.cancel_event` is set; the partial download is kept for a resume.
    """
    ctx.check_cancelled()
    store = ctx.models.store
    events: queue.Queue[tuple] = queue.Queue()

    def on_progress(done: int, total: int | None, message: str) -> None:
        events.put(("progress", done, total, message))

    def download() -> None:
        try:
            where = store.fetch(request.model_id, progress=on_progress, cancel=ctx.cancel_event)
        except BaseException as error:  # noqa: BLE001 - every outcome goes back to the run
            events.put(("error", error))
        else:
            events.put(("done", where))

    helper = threading.Thread(target=download, name=f"fetch-{request.model_id}", daemon=True)
    yield Update(progress=None, message=f"Connecting for {request.model_id}…")
    helper.start()
    ended = False  # the helper reported its outcome (it may still be a moment from exiting)
    try:
        while True:
            batch = [events.get()]  # the helper always ends with "done" or "error"
            while not events.empty():  # only this run takes from the queue
                batch.append(events.get_nowait())
            # Relay only the latest progress of the batch: the network can outpace the UI.
            progress = [e for e in batch if e[0] == "progress"]
            if progress:
                _, done, total, message = progress[-1]
                yield Update(
                    progress=done / total if total else None, message=_words(message, done, total)
                )
            last = batch[-1]
            ended = last[0] in ("done", "error")
            if last[0] == "error":
                raise last[1]
            if last[0] == "done":
                ctx.check_cancelled()
                return Path(last[1])
    finally:
        if not ended:
            ctx.cancel_event.set()  # the driver closed the run early: nobody wants the rest
        helper.join()


def _words(message: str, done: int, total: int | None) -> str:
    """'Downloading wct16x/encoder3.pth (3/10)… 1.2 / 3.9 MB' from the store's progress."""
    if message == "verified":
        return f"Verified, {_size(done)}"
    sizes = f"{_size(done, total)} / {_size(total)}" if total else _size(done)
    return f"Downloading {message}… {sizes}"


def _size(n: int, unit_of: int | None = None) -> str:
    """Bytes in words; `unit_of` picks the unit (so '1.2 / 3.9 MB' shares one), bare number then."""
    ref = unit_of if unit_of is not None else n
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if ref >= scale:
            value = f"{n / scale:.1f}"
            return value if unit_of is not None else f"{value} {unit}"
    return str(n) if unit_of is not None else f"{n} bytes"


__all__ = ["FetchRequest", "run"]
