"""One clear line per bad file: no libtiff chatter, no limit that reads as equal to the size."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from editor.core.imageio import ImageLoadError, load_image


def _damaged_tiff(path) -> None:
    """An LZW TIFF whose middle strips are overwritten: libtiff complains in C as it decodes."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(
        buffer, "TIFF", compression="tiff_lzw"
    )
    data = bytearray(buffer.getvalue())
    n = len(data)
    data[n // 4 : n // 2] = bytes((i * 7) % 256 for i in range(n // 2 - n // 4))
    path.write_bytes(bytes(data))


def test_a_damaged_tiff_gives_one_message_and_nothing_on_stderr(tmp_path, capfd):
    path = tmp_path / "scan.tif"
    _damaged_tiff(path)
    with pytest.raises(ImageLoadError, match="scan.tif is truncated or corrupt"):
        load_image(path)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_stderr_still_works_after_a_tiff_load(tmp_path, capfd):
    path = tmp_path / "ok.tif"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(path)
    assert load_image(path).pixels.shape == (8, 8, 3)
    import os

    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


def test_a_file_just_over_the_limit_says_by_how_much(tmp_path, monkeypatch):
    path = tmp_path / "wide.png"
    Image.new("L", (20_001, 10_000)).save(path)  # 200.01 MP
    monkeypatch.setenv("SEMEDIT_MAX_MEGAPIXELS", "200")
    with pytest.raises(ImageLoadError) as raised:
        load_image(path)
    message = str(raised.value)
    assert "(200.01 MP), over the 200 MP limit" in message
