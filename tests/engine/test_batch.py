"""Batches in worker processes end, whatever the workers do: one dies (the files left are
reported failed, nothing hangs), a cancel unwinds a busy worker's file (its `finally` runs) and
kills a worker that does not answer SIGTERM."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from editor.core.batch_plan import plan_batch
from editor.engine import batch
from editor.engine.file_edits import Prepared
from editor.engine.jobs import JobCancelled, RunContext, Update
from editor.engine.models.manager import Models


def inputs(folder: Path, names: list[str]) -> Path:
    folder.mkdir()
    for name in names:
        (folder / f"{name}.png").write_bytes(b"")  # the test edits never decode them
    return folder


@dataclass(frozen=True)
class ScriptedEdit:
    """Per file, by its name: "ok" writes the output, "die" ends the worker process, "hang"
    holds until stopped (leaving a marker file its `finally` removes). `deaf`: the worker
    ignores SIGTERM."""

    log: Path
    deaf: bool = False
    verb = "done"

    def check(self, item) -> None: ...

    def prepare(self) -> Prepared:
        if self.deaf:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

        def run(item, ctx):
            kind = item.source.stem.split("-")[0]
            if kind == "die":
                os._exit(9)
            if kind == "hang":
                marker = self.log / f"busy-{os.getpid()}"
                marker.write_text(item.source.name)
                try:
                    while True:
                        time.sleep(0.05)
                        yield Update(message="holding")
                finally:
                    marker.unlink()
            item.output.write_bytes(b"written")
            return None

        return Prepared(run, Models())


def drive(run, ctx: RunContext, timeout: float = 60.0, cancel_when=None):
    """Run to the end on a thread (as the engine does); the report, or the exception."""
    box: dict = {}

    def go() -> None:
        try:
            while True:
                next(run)
        except StopIteration as stop:
            box["report"] = stop.value
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    if cancel_when is not None:
        deadline = time.monotonic() + timeout
        while not cancel_when() and time.monotonic() < deadline:
            time.sleep(0.05)
        ctx.cancel_event.set()
    thread.join(timeout)
    assert not thread.is_alive(), "the batch did not end"
    return box


def test_a_worker_that_dies_fails_the_files_left_and_nothing_hangs(tmp_path):
    folder = inputs(tmp_path / "in", ["die", "ok-1", "ok-2", "ok-3"])
    plan = plan_batch([folder], tmp_path / "out")
    (tmp_path / "out").mkdir()
    ctx = RunContext()
    box = drive(batch.run_batch(ScriptedEdit(tmp_path), plan, ctx, jobs=2), ctx)
    report = box["report"]
    assert len(report.results) == 4
    assert report.failed and all(r.error == batch.DIED for r in report.failed)
    written = {p.stem for p in (tmp_path / "out").iterdir()}
    assert written == {r.item.source.stem for r in report.written}
    assert "die" not in written
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("deaf", [False, True])
def test_cancel_stops_every_worker(tmp_path, monkeypatch, deaf):
    monkeypatch.setattr(batch, "STOP_GRACE_S", 1.0)
    folder = inputs(tmp_path / "in", ["hang-1", "hang-2", "ok-1", "ok-2"])
    plan = plan_batch([folder], tmp_path / "out")
    (tmp_path / "out").mkdir()
    ctx = RunContext()
    edit = ScriptedEdit(tmp_path, deaf=deaf)
    run = batch.run_batch(edit, plan, ctx, jobs=2)
    started = time.monotonic()
    box = drive(run, ctx, cancel_when=lambda: len(list(tmp_path.glob("busy-*"))) == 2)
    assert isinstance(box.get("error"), JobCancelled)
    assert time.monotonic() - started < 30
    assert multiprocessing.active_children() == []
    busy = list(tmp_path.glob("busy-*"))
    if deaf:  # killed: its `finally` never ran (SIGKILL), but it is gone
        assert len(busy) == 2
    else:  # SIGTERM unwound each worker's file
        assert busy == []
    assert list((tmp_path / "out").iterdir()) == []  # both workers were held before any ok
