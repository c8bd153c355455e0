"""Edge cases a careful tester tries from the command line (issue: work never lost): tiny
images, a mask over everything, 1-bit transparency, an output folder that takes no files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.cli import main
from editor.core.imageio import load_image


def _tiny(tmp_path: Path, side: int) -> tuple[Path, Path]:
    rng = np.random.default_rng(side)
    image, mask = tmp_path / f"tiny{side}.png", tmp_path / f"mask{side}.png"
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(image)
    hole = np.zeros((side, side), np.uint8)
    hole[side // 4 : side // 2 + 1, side // 4 : side // 2 + 1] = 255
    Image.fromarray(hole).save(mask)
    return image, mask


@pytest.mark.parametrize("side", [4, 8, 16, 32])
def test_refined_remove_on_a_tiny_image_falls_back_instead_of_a_traceback(
    tmp_path, capsys, shared_models, side
):
    image, mask = _tiny(tmp_path, side)
    out = tmp_path / "out.png"
    code = main(
        ["remove", str(image), "--mask", str(mask), "-o", str(out)]
        + ["--models", str(shared_models)]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err and "error" not in err
    before, after = load_image(image).pixels, load_image(out).pixels
    hole = load_image(mask).pixels[..., 0] > 0
    assert after.shape == before.shape
    assert not np.array_equal(after[hole], before[hole])  # the hole was filled


def test_a_mask_over_the_whole_image_is_an_error_not_a_success(tmp_path, capsys):
    image, _ = _tiny(tmp_path, 64)
    full = tmp_path / "full.png"
    Image.new("L", (64, 64), 255).save(full)
    for method in ("quick", "telea"):
        out = tmp_path / f"{method}.png"
        code = main(["remove", str(image), "--mask", str(full), "-o", str(out), "--method", method])
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 1 and len(lines) == 1 and "whole image" in lines[0], lines
        assert not out.exists()


@pytest.mark.parametrize("command", ["upscale", "remove"])
def test_a_1_bit_png_with_transparency_keeps_its_alpha(tmp_path, capsys, shared_models, command):
    rng = np.random.default_rng(1)
    bits = Image.fromarray(rng.random((48, 48)) > 0.5).convert("1")
    source = tmp_path / "bits.png"
    bits.save(source, transparency=0)  # tRNS: black is transparent
    mask = tmp_path / "m.png"
    hole = np.zeros((48, 48), np.uint8)
    hole[10:20, 10:20] = 255
    Image.fromarray(hole).save(mask)
    out = tmp_path / "out.png"
    args = (
        ["upscale", str(source), "--scale", "2", "--models", str(shared_models)]
        if command == "upscale"
        else ["remove", str(source), "--mask", str(mask), "--method", "quick"]
    )
    assert main([*args, "-o", str(out)]) == 0, capsys.readouterr().err
    result = load_image(out).pixels
    assert result.shape[2] == 4
    black = np.asarray(bits) == 0
    alpha = result[..., 3]
    if command == "upscale":
        alpha = alpha.reshape(48, 2, 48, 2).mean(axis=(1, 3))
    far = np.ones((48, 48), bool)
    far[6:24, 6:24] = False  # the removal may change alpha around its hole
    assert alpha[black & far].mean() < 40 and alpha[~black & far].mean() > 215


def test_an_output_folder_that_takes_no_files_is_named_before_any_work(tmp_path, capsys):
    if not Path("/proc").is_dir():
        pytest.skip("no /proc here")
    image, mask = _tiny(tmp_path, 32)
    code = main(["remove", str(image), "--mask", str(mask), "-o", "/proc/o.png", "--method", "ns"])
    err = capsys.readouterr().err
    assert code == 1 and "files cannot be created in /proc" in err and "does not exist" not in err
