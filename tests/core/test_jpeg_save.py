"""JPEG saving: a noisy picture at high quality saves (Pillow's optimize=True cannot), and an
ordinary one still gets optimised Huffman tables."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from editor.core.imageio import load_image, save_image


def test_a_noisy_picture_saves_as_jpeg_at_high_quality(tmp_path, capfd):
    noise = np.random.default_rng(0).integers(0, 256, (384, 384, 3), dtype=np.uint8)
    path = tmp_path / "noise.jpg"
    save_image(path, noise)  # default quality >= 90: 4:4:4, bigger than w*h bytes
    back = load_image(path).pixels
    assert back.shape == noise.shape
    assert np.abs(back.astype(int) - noise).mean() < 20
    assert capfd.readouterr().err == ""


def test_an_ordinary_picture_is_still_optimised(tmp_path, rgb_image):
    path = tmp_path / "photo.jpg"
    save_image(path, rgb_image)
    plain = io.BytesIO()
    Image.fromarray(rgb_image).save(plain, "JPEG", quality=92, subsampling=0)
    assert path.stat().st_size < plain.tell()
