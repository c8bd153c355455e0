"""Files whose header promises more pixels than they hold: refused when most are missing, with
how much is there; a little missing still loads as before."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from editor.core.imageio import (
    ImageHeader,
    ImageLoadError,
    load_image,
    probe_header,
    probe_image,
    save_image,
)


def random_pixels(channels: int, dtype: type, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, np.iinfo(dtype).max, (h, w, channels), dtype=dtype)


def _short_png(width: int, height: int, rows: int) -> bytes:
    """A well-formed RGB PNG (IDAT, IEND, valid CRCs) whose zlib stream holds only `rows` rows."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + bytes([200, 100, 50] * width) for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_png_with_most_pixel_data_missing_is_refused_saying_how_much_is_there(tmp_path):
    (tmp_path / "short.png").write_bytes(_short_png(300, 200, 50))
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "short.png")
    assert str(info.value) == (
        "short.png is truncated or corrupt: only 25 % of its pixel data is present"
    )


def test_png_missing_a_little_still_loads_with_the_rest_black(tmp_path):
    (tmp_path / "nearly.png").write_bytes(_short_png(300, 200, 180))
    pixels = load_image(tmp_path / "nearly.png").pixels
    assert pixels.shape == (200, 300, 3)
    assert (pixels[:180] == [200, 100, 50]).all() and not pixels[180:].any()


def test_header_promising_far_more_than_the_file_holds_fails_the_probe(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_short_png(14142, 14142, 1))
    with pytest.raises(ImageLoadError, match="only less than 1 % of its pixel data is present"):
        probe_image(tmp_path / "bomb.png")


def test_cut_png_says_how_much_of_its_pixel_data_is_present(tmp_path):
    rng = np.random.default_rng(3)
    save_image(tmp_path / "full.png", rng.integers(0, 256, (100, 100, 3), dtype=np.uint8))
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 4])
    with pytest.raises(ImageLoadError, match=r"cut\.png is truncated or corrupt: only 2\d % of"):
        load_image(tmp_path / "cut.png")


def test_cut_baseline_jpeg_says_how_much_of_its_pixel_data_is_present(tmp_path):
    yy, xx = np.mgrid[0:256, 0:256]
    smooth = np.stack([xx, yy, (xx + yy) // 2], axis=-1).astype(np.uint8)
    save_image(tmp_path / "full.jpg", smooth)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageLoadError) as info:
        load_image(tmp_path / "cut.jpg")
    message = str(info.value)
    assert message.startswith("cut.jpg is truncated or corrupt: only ")
    assert message.endswith("% of its pixel data is present")
    percent = int(message.split("only ")[1].split(" %")[0])
    assert 10 <= percent <= 60


def test_probe_header_gives_the_loaded_layout(tmp_path):
    save_image(tmp_path / "a.png", random_pixels(4, np.uint16, 10, 12))
    save_image(tmp_path / "g.png", random_pixels(1, np.uint8, 10, 12))
    assert probe_header(tmp_path / "a.png") == ImageHeader(12, 10, 4, 16)
    assert probe_header(tmp_path / "g.png") == ImageHeader(12, 10, 1, 8)
