"""`semedit upscale` on a real crop: size ×scale, better than a copy of bicubic, one-line errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from editor.cli import COMMANDS, main
from editor.core.imageio import load_image


@pytest.fixture
def crop(shared_data: Path, tmp_path: Path) -> Path:
    """A 64x48 crop of Set14 comic.png, saved to a temp PNG."""
    path = tmp_path / "comic_crop.png"
    Image.open(shared_data / "Set14" / "comic.png").convert("RGB").crop((60, 60, 124, 108)).save(
        path
    )
    return path


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_upscale_is_a_command():
    assert "upscale" in COMMANDS


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_round_trip(crop, shared_models, tmp_path, capsys, scale):
    out = tmp_path / f"out_x{scale}.png"
    code = main(
        [
            "upscale",
            str(crop),
            "--scale",
            str(scale),
            "-o",
            str(out),
            "--models",
            str(shared_models),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    expected = "CARN-M ×2 (MIT)" if scale == 2 else "RFDN ×4 (MIT)"
    assert f"upscaled with {expected}" in err
    lr = load_image(crop).pixels
    hr = load_image(out).pixels
    assert hr.shape == (48 * scale, 64 * scale, 3)
    bicubic = cv2.resize(lr, (64 * scale, 48 * scale), interpolation=cv2.INTER_CUBIC)
    similarity = psnr(hr, bicubic)
    assert 20.0 < similarity < 60.0  # the same picture, but not a copy of bicubic
    assert not np.array_equal(hr, bicubic)


def test_upscale_explicit_model(crop, shared_models, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(
        ["upscale", str(crop), "--scale", "4", "--model", "carn-m", "-o", str(out)]
        + ["--models", str(shared_models), "--tile", "32"]
    )
    assert code == 0
    assert "upscaled with CARN-M ×4 (MIT)" in capsys.readouterr().err
    assert load_image(out).pixels.shape == (192, 256, 3)


def test_missing_input(tmp_path, capsys):
    code = main(
        ["upscale", str(tmp_path / "nope.png"), "--scale", "2", "-o", str(tmp_path / "o.png")]
    )
    lines = error_lines(capsys.readouterr().err)
    assert code == 1 and len(lines) == 1 and lines[0].startswith("semedit: error:")


def test_bad_scale_is_a_usage_error(crop, tmp_path, capsys):
    assert main(["upscale", str(crop), "--scale", "5", "-o", str(tmp_path / "o.png")]) == 2
    assert "--scale" in capsys.readouterr().err


def test_unknown_model_id(crop, shared_models, tmp_path, capsys):
    code = main(
        ["upscale", str(crop), "--scale", "2", "--model", "nope", "-o", str(tmp_path / "o.png")]
        + ["--models", str(shared_models)]
    )
    lines = error_lines(capsys.readouterr().err)
    assert code == 1 and len(lines) == 1
    assert "'nope'" in lines[0] and "carn-m" in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_refuses_to_overwrite_the_input(crop, capsys):
    before = crop.read_bytes()
    assert main(["upscale", str(crop), "--scale", "2", "-o", str(crop)]) == 1
    assert "input image" in capsys.readouterr().err
    assert crop.read_bytes() == before
