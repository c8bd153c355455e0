"""`semedit style` and `semedit texture`: files written at the right size, regions respected,
one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.cli import main
from editor.core.imageio import load_image


@pytest.fixture
def small_photo(shared_data: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tubingen_small.png"
    Image.open(shared_data / "content" / "tubingen.jpg").convert("RGB").resize((96, 72)).save(path)
    return path


@pytest.fixture
def styles(shared_data: Path) -> tuple[Path, Path]:
    return shared_data / "style" / "starry_night.jpg", shared_data / "style" / "the_scream.jpg"


def _halves(tmp_path: Path, size: tuple[int, int]) -> tuple[Path, Path]:
    width, height = size
    left = np.zeros((height, width), np.uint8)
    left[:, : width // 2] = 255
    paths = tmp_path / "left.png", tmp_path / "right.png"
    Image.fromarray(left).save(paths[0])
    Image.fromarray(255 - left).save(paths[1])
    return paths


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_style_two_regions_in_one_run(small_photo, styles, shared_models, tmp_path, capsys):
    left, right = _halves(tmp_path, (96, 72))
    out = tmp_path / "out.png"
    code = main(
        ["style", str(small_photo), "--style", str(styles[0]), "--mask", str(left),
         "--style", str(styles[1]), "--mask", str(right), "--iterations", "16",
         "--models", str(shared_models), "-o", str(out)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    result = load_image(out).pixels
    original = load_image(small_photo).pixels
    assert result.shape == original.shape
    changed = np.abs(result.astype(int) - original).mean(axis=2)
    assert changed[:, :40].mean() > 5 and changed[:, 56:].mean() > 5


def test_style_size_and_keep_colors(small_photo, styles, shared_models, tmp_path, capsys):
    out = tmp_path / "out.jpg"
    code = main(
        ["style", str(small_photo), "--style", str(styles[1]), "--size", "64", "--keep-colors",
         "--method", "mrf", "--iterations", "4", "--models", str(shared_models), "-o", str(out)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert load_image(out).pixels.shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mask", "MASK"], "1 --style but 2 --mask"),
        (["--size", "5"], "--size"),
        (["--strength", "3"], "strength"),
    ],
)
def test_style_errors_are_one_line(
    small_photo, styles, shared_models, tmp_path, capsys, extra, message
):
    left, _ = _halves(tmp_path, (96, 72))
    args = ["style", str(small_photo), "--style", str(styles[0]), "--mask", str(left)]
    args += [str(left) if a == "MASK" else a for a in extra]
    args += ["--models", str(shared_models), "-o", str(tmp_path / "out.png")]
    assert main(args) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out.png").exists()


def test_style_refuses_to_overwrite_an_input_and_names_missing_weights(
    small_photo, styles, tmp_path, capsys
):
    before = small_photo.read_bytes()
    assert main(["style", str(small_photo), "--style", str(styles[0]), "-o", str(small_photo)]) == 1
    assert "input image" in capsys.readouterr().err
    assert small_photo.read_bytes() == before
    empty = tmp_path / "no-models"
    empty.mkdir()
    out = tmp_path / "out.png"
    code = main(
        ["style", str(small_photo), "--style", str(styles[0]), "--models", str(empty),
         "-o", str(out)]
    )  # fmt: skip
    assert code == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "vgg19" in lines[0].lower()


def test_texture_writes_the_asked_size(styles, shared_models, tmp_path, capsys):
    out = tmp_path / "texture.png"
    code = main(
        ["texture", str(styles[0]), "--size", "48x32", "--iterations", "4",
         "--models", str(shared_models), "-o", str(out)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    pixels = load_image(out).pixels
    assert pixels.shape == (32, 48, 3) and pixels.std() > 5
    assert main(["texture", str(styles[0]), "--size", "big", "-o", str(out)]) == 1
    assert "512x384" in capsys.readouterr().err
