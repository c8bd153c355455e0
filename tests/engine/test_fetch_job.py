"""The fetch-model job, driven the way the engine drives it, against a local HTTP server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from http_server import DATA, FILE_NAME, tiny_registry

from editor.engine.edits import fetch_model
from editor.engine.edits.fetch_model import FetchRequest
from editor.engine.jobs import JobCancelled, RunContext, Update, drive
from editor.engine.models.manager import Models
from editor.engine.store import ChecksumMismatch, ModelStore


@pytest.fixture
def store(server, tmp_path: Path) -> ModelStore:
    return ModelStore(user_dir=tmp_path / "user", registry=tiny_registry(server.url))


def fetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fetch-")]


def test_updates_carry_increasing_progress_and_the_result_is_verified(store, server):
    server.mode = "gate"  # half, then the rest once the first progress was seen: two steps at least
    updates: list[Update] = []

    def on_update(update: Update) -> None:
        updates.append(update)
        if update.progress:
            server.gate.set()

    where = drive(
        fetch_model.run(FetchRequest("tiny"), RunContext(models=Models(store))), on_update
    )

    assert where == store.user_dir
    assert (where / FILE_NAME).read_bytes() == DATA
    assert store.file_path("tiny") == where / FILE_NAME
    fractions = [u.progress for u in updates if u.progress is not None]
    assert len(set(fractions)) >= 2 and fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert any("Downloading" in u.message and "tiny.bin" in u.message for u in updates)
    assert any(" / 300.0 KB" in u.message for u in updates)
    assert not fetch_threads()


def test_a_present_model_is_not_downloaded_again(store, server):
    drive(fetch_model.run(FetchRequest("tiny"), RunContext(models=Models(store))))
    assert len(server.requests) == 1
    assert (
        drive(fetch_model.run(FetchRequest("tiny"), RunContext(models=Models(store))))
        == store.user_dir
    )
    time.sleep(0.05)
    assert len(server.requests) == 1


def test_cancel_mid_way_raises_and_keeps_the_part(store, server):
    server.mode = "gate"  # half the file arrives, the rest waits: the download is caught mid-way
    ctx = RunContext(models=Models(store))

    def on_update(update: Update) -> None:
        if update.progress:
            ctx.cancel_event.set()
            server.gate.set()

    with pytest.raises(JobCancelled):
        drive(fetch_model.run(FetchRequest("tiny"), ctx), on_update)

    part = store.user_dir / (FILE_NAME + ".part")
    assert 0 < part.stat().st_size < len(DATA)
    assert not (store.user_dir / FILE_NAME).exists()
    assert not fetch_threads()  # the helper thread ended with the run


def test_closing_the_run_early_stops_the_download(store, server):
    server.mode = "gate"
    run = fetch_model.run(FetchRequest("tiny"), RunContext(models=Models(store)))
    update = next(run)
    while not update.progress:
        update = next(run)
    server.gate.set()
    run.close()  # what the engine does when it stops pulling
    assert not fetch_threads()
    assert not (store.user_dir / FILE_NAME).exists()


def test_wrong_bytes_raise_checksum_mismatch(store, server):
    server.mode = "wrong"
    with pytest.raises(ChecksumMismatch):
        drive(fetch_model.run(FetchRequest("tiny"), RunContext(models=Models(store))))
    assert not (store.user_dir / FILE_NAME).exists()
    assert not fetch_threads()


def test_cancelled_before_start_downloads_nothing(store, server):
    ctx = RunContext(models=Models(store))
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        drive(fetch_model.run(FetchRequest("tiny"), ctx))
    assert server.requests == []


def test_sizes_in_words():
    assert fetch_model._words("a.pth (1/2)", 1_200_000, 3_900_000) == (
        "Downloading a.pth (1/2)… 1.2 / 3.9 MB"
    )
    assert fetch_model._words("a.pth", 2048, None) == "Downloading a.pth… 2.0 KB"
    assert fetch_model._words("verified", 548_000_000, 548_000_000) == "Verified, 548.0 MB"
