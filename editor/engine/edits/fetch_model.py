"""Fetch a model: `ModelStore.fetch` as an engine job, so a download never blocks the GUI.

The store reports download progress through a callback from deep inside `download_to_part`,
which reads the network in a loop; a callback cannot yield. So the download runs on a helper
thread and its progress comes back through a queue, and the run relays it as `Update`s:

    run (engine thread) ──starts──► helper thread: store.fetch(progress=queue.put, cancel=stop)
         ▲ yields Update(progress, "Downloading …  1.2 / 3.9 MB")          │
         └────────────── queue: ("progress", done, total, name) · ("done", path) · ("error", exc)

The helper thread never outlives the run: on cancel (or when the driver closes the run early)
`stop` is set, the download raises `JobCancelled` before its next chunk, and the run joins the
thread before it returns, so no two writers ever share a `.part` file. The `.part` is kept, and
the next fetch resumes from it.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from editor.engine.jobs import Run, RunContext, Update
from editor.engine.store import ModelStore

POLL_S = 0.05
"""How often the run looks at the cancel flag while the download is quiet."""


@dataclass(frozen=True)
class FetchRequest:
    """Which registry model to make present (downloaded into the store's user folder)."""

    model_id: str


def run(request: FetchRequest, ctx: RunContext, store: ModelStore) -> Run:
    """Download the model's missing files, verified; return the folder that now holds it.

    Yields Update(progress=done/total or None, message="Downloading <file>… 1.2 / 3.9 MB").
    Raises what `ModelStore.fetch` raises (ModelMissing, ChecksumMismatch, ModelError) and
    JobCancelled when `ctx.cancel_event` is set; the partial download is kept for a resume.
    """
    ctx.check_cancelled()
    events: queue.Queue[tuple] = queue.Queue()
    stop = threading.Event()

    def on_progress(done: int, total: int | None, message: str) -> None:
        events.put(("progress", done, total, message))

    def download() -> None:
        try:
            where = store.fetch(request.model_id, progress=on_progress, cancel=stop)
        except BaseException as error:  # noqa: BLE001 - every outcome goes back to the run
            events.put(("error", error))
        else:
            events.put(("done", where))

    helper = threading.Thread(target=download, name=f"fetch-{request.model_id}", daemon=True)
    yield Update(progress=None, message=f"Connecting for {request.model_id}…")
    helper.start()
    try:
        while True:
            if ctx.cancelled:
                stop.set()
            try:
                event = events.get(timeout=POLL_S)
            except queue.Empty:
                continue
            # Relay only the latest progress: the network can outpace the UI.
            while event[0] == "progress":
                try:
                    newer = events.get_nowait()
                except queue.Empty:
                    break
                event = newer
            kind = event[0]
            if kind == "progress":
                _, done, total, message = event
                yield Update(
                    progress=done / total if total else None, message=_words(message, done, total)
                )
            elif kind == "error":
                raise event[1]
            else:
                ctx.check_cancelled()
                return Path(event[1])
    finally:
        stop.set()
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
