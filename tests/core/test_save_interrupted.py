"""A save that is killed half-way never costs the user's file, and leaves no temp file for long:
Ctrl+C and SIGTERM remove it at once; after SIGKILL the next save into that folder removes it."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from killed_writer import STALLED_SAVE, Child

from editor.core.imageio import load_image, remove_stale_temp_files, save_image

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")


def _temps(folder, name="photo.png"):
    return sorted(folder.glob(f".{name}.semedit-*.tmp"))


@pytest.fixture
def photo(tmp_path, rgb_image):
    path = tmp_path / "photo.png"
    save_image(path, rgb_image)
    return path


def test_a_killed_save_leaves_its_temp_until_the_next_save_there(photo, rgb_image):
    before = photo.read_bytes()
    child = Child(STALLED_SAVE, [str(photo)])
    try:
        (temp,) = _temps(photo.parent)  # named as ours, beside the file
        assert temp.stat().st_size > 0
        # Its writer is alive: another save into the folder leaves it alone.
        save_image(photo.parent / "other.png", rgb_image)
        assert remove_stale_temp_files(photo.parent) == []
        assert temp.exists()
        assert child.kill(signal.SIGKILL) == -signal.SIGKILL
    finally:
        child.close()
    assert temp.exists()  # SIGKILL runs no cleanup...
    assert photo.read_bytes() == before  # ...and the user's file was never touched
    save_image(photo.parent / "other.png", rgb_image)  # ...but the next save there tidies up
    assert not temp.exists()
    assert sorted(p.name for p in photo.parent.iterdir()) == ["other.png", "photo.png"]
    assert np.array_equal(load_image(photo).pixels, rgb_image)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_during_a_save_removes_its_temp(photo, signum):
    before = photo.read_bytes()
    child = Child(STALLED_SAVE, [str(photo)])
    try:
        assert len(_temps(photo.parent)) == 1
        code = child.kill(signum)
    finally:
        child.close()
    assert code != 0
    if signum == signal.SIGTERM:
        assert code == -signal.SIGTERM  # still ends as killed, for whoever waits on it
    assert _temps(photo.parent) == []
    assert photo.read_bytes() == before
