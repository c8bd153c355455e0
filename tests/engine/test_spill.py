"""Spill folders: removed however a run ends, and a killed run's folder at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from editor.engine.spill import LOCK_NAME, PREFIX, SpillFolder, remove_stale

REPO = Path(__file__).resolve().parents[2]


def test_folder_is_named_with_the_pid_locked_and_removed_on_exit(tmp_path):
    with SpillFolder(tmp_path) as folder:
        assert folder.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert (folder / LOCK_NAME).exists()
        (folder / "blend0.bin").write_bytes(b"x" * 100)
    assert list(tmp_path.iterdir()) == []


def test_folder_is_removed_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError), SpillFolder(tmp_path):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_a_live_runs_folder_is_never_removed(tmp_path):
    with SpillFolder(tmp_path) as folder:
        assert remove_stale(tmp_path) == []
        assert folder.exists()


def test_folder_of_a_killed_process_is_removed_at_the_next_start(tmp_path):
    script = (
        "import sys, time; from pathlib import Path; from editor.engine.spill import SpillFolder\n"
        "with SpillFolder(Path(sys.argv[1])) as f:\n"
        "    (f / 'blend0.bin').write_bytes(b'x' * 4096); print(f, flush=True); time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        folder = Path(child.stdout.readline().strip())
        assert folder.is_dir()
        assert remove_stale(tmp_path) == []  # alive: kept
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert folder.is_dir()  # SIGKILL: no cleanup ran
    assert remove_stale(tmp_path) == [folder]
    assert not folder.exists()


def test_old_unlocked_folders_go_recent_ones_stay(tmp_path):
    old = tmp_path / f"{PREFIX}abc123"  # an older SemEdit's name: no pid, no lock
    old.mkdir()
    fresh = tmp_path / f"{PREFIX}def456"
    fresh.mkdir()
    hours_ago = time.time() - 3 * 3600
    os.utime(old, (hours_ago, hours_ago))
    assert remove_stale(tmp_path) == [old]
    assert fresh.exists()
