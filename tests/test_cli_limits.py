"""`semedit upscale` refuses what it cannot finish before any work (output size, memory, temp
disk, a file whose pixel data is mostly missing), and leaves no spill folder however it stops."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from editor.cli import main
from editor.core.imageio import save_image
from editor.engine import upscale_needs
from editor.engine.spill import LOCK_NAME, PREFIX

REPO = Path(__file__).resolve().parents[1]


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def bomb_png(path: Path, side: int = 14142) -> Path:
    """A few hundred bytes whose header says side × side RGB: one row of pixel data, then IEND."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\x00" + bytes(3 * side), 9)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", row) + _chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """The system temp folder, pointed at an empty folder of the test's own."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def spill_folders(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(PREFIX)]


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_tiny_file_claiming_14142_squared_is_refused_before_any_work(tmp_path, temp_dir, capsys):
    image = bomb_png(tmp_path / "bomb.png")
    assert image.stat().st_size < 600
    out = tmp_path / "out.png"
    code = main(["upscale", str(image), "--scale", "2", "-o", str(out)])
    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        "semedit: error: bomb.png is truncated or corrupt: only less than 1 % of its pixel "
        "data is present"
    )
    assert not out.exists()
    assert spill_folders(temp_dir) == []  # nothing ran


def test_an_output_over_the_megapixel_limit_is_refused_naming_the_sizes(
    tmp_path, temp_dir, capsys, monkeypatch
):
    save_image(tmp_path / "small.png", np.full((80, 100, 3), 90, np.uint8))
    monkeypatch.setenv("SEMEDIT_MAX_MEGAPIXELS", "0.02")  # the 0.008 MP input is fine
    out = tmp_path / "out.png"
    code = main(["upscale", str(tmp_path / "small.png"), "--scale", "2", "-o", str(out)])
    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line == (
        "semedit: error: upscaling 100×80 ×2 gives 200×160 (0.032 MP), over the 0.02 MP limit "
        "(SEMEDIT_MAX_MEGAPIXELS)"
    )
    assert not out.exists() and spill_folders(temp_dir) == []


def test_not_enough_temporary_space_is_refused_naming_the_folder(
    tmp_path, temp_dir, capsys, monkeypatch
):
    save_image(tmp_path / "photo.png", np.full((3000, 4000, 3), 90, np.uint8))
    monkeypatch.setattr(upscale_needs, "free_disk", lambda folder: 3 << 30)
    out = tmp_path / "out.png"
    code = main(["upscale", str(tmp_path / "photo.png"), "--scale", "4", "-o", str(out)])
    line = one_error_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith("semedit: error: upscaling 4000×3000 ×4 gives 16000×12000 (192 MP): ")
    assert f"GB of temporary space in {temp_dir}, 3.0 GB free" in line
    assert not out.exists() and spill_folders(temp_dir) == []


def test_a_killed_runs_spill_folder_is_removed_when_the_cli_starts(tmp_path, temp_dir):
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = temp_dir / f"{PREFIX}{int(child.stdout)}-x1y2z3"  # that pid has exited
    dead.mkdir()
    (dead / LOCK_NAME).touch()
    (dead / "blend0.bin").write_bytes(b"\0" * 1024)
    main(["upscale", str(tmp_path / "missing.png"), "--scale", "2", "-o", str(tmp_path / "o.png")])
    assert not dead.exists()


def _start_upscale(tmp_path: Path, temp_dir: Path) -> tuple[subprocess.Popen, Path]:
    """A CLI upscale in a child process with tiny tiles (long enough to be stopped), once its
    spill folder exists."""
    yy, xx = np.mgrid[0:512, 0:512]
    pixels = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    save_image(tmp_path / "in.png", pixels)
    env = {**os.environ, "TMPDIR": str(temp_dir), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "editor.cli", "upscale", str(tmp_path / "in.png")]
    command += ["--scale", "2", "--model", "semedit-sr", "--tile", "16", "--device", "cpu"]
    command += ["-o", str(tmp_path / "out.png")]
    child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not spill_folders(temp_dir):
        assert child.poll() is None, child.stderr.read()
        assert time.monotonic() < deadline, "the upscale never started"
        time.sleep(0.05)
    return child, tmp_path / "out.png"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_upscale_and_removes_its_spill_folder(tmp_path, temp_dir, signum, code):
    child, out = _start_upscale(tmp_path, temp_dir)
    try:
        child.send_signal(signum)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    err = child.stderr.read()
    child.stderr.close()
    assert child.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("semedit: error: ")
    assert spill_folders(temp_dir) == []
    assert not out.exists()
