"""`semedit style` with fast styles (--model, --list) and universal style transfer (--method wct):
files written, regions respected, one-line errors for combinations that make no sense."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from editor.cli import main
from editor.core.imageio import load_image
from editor.engine.models import fast_styles
from editor.ops.transform_net import TransformNet, metadata_for


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    yy, xx = np.mgrid[0:72, 0:96]
    img = np.stack([xx * 2, yy * 3, (xx + yy)], axis=-1).clip(0, 255).astype(np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(img).save(path)
    return path


@pytest.fixture
def left_mask(tmp_path: Path) -> Path:
    mask = np.zeros((72, 96), np.uint8)
    mask[:, :30] = 255
    path = tmp_path / "left.png"
    Image.fromarray(mask).save(path)
    return path


def _user_style(name: str) -> Path:
    folder = fast_styles.user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    net = TransformNet((8, 8, 8), 1)
    path = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path),
              metadata=metadata_for(net))  # fmt: skip
    return path


def _err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_list_prints_shipped_and_trained_styles_one_per_line(capsys):
    _user_style("my_sunset")
    assert main(["style", "--list"]) == 0
    names = capsys.readouterr().out.split()
    assert "starry_night" in names and names[-1] == "my_sunset"
    assert all(" " not in n for n in names)


def test_model_by_name_stylises_only_the_masked_region(photo, left_mask, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = main(["style", str(photo), "--model", "starry_night", "--mask", str(left_mask),
                 "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    before, after = load_image(photo).pixels, load_image(out).pixels
    assert after.shape == before.shape
    changed = np.abs(after.astype(int) - before).mean(axis=2)
    assert changed[:, :30].mean() > 10
    assert (changed[:, 30 + 8 :] == 0).all()  # beyond the feather: untouched


def test_model_by_file(photo, tmp_path, capsys):
    path = _user_style("mine")
    out = tmp_path / "out.png"
    assert main(["style", str(photo), "--model", str(path), "-o", str(out)]) == 0, (
        capsys.readouterr().err
    )
    assert load_image(out).pixels.shape == (72, 96, 3)


def test_wct_method_with_strength(photo, shared_models, shared_data, tmp_path, capsys):
    out = tmp_path / "out.png"
    style = shared_data / "style" / "the_scream.jpg"
    code = main(["style", str(photo), "--style", str(style), "--method", "wct",
                 "--strength", "0.8", "--models", str(shared_models), "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    before, after = load_image(photo).pixels, load_image(out).pixels
    assert after.shape == before.shape and np.abs(after.astype(int) - before).mean() > 10


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["style", "--list", "x.png"], "--list takes no other arguments"),
        (["style", "--model", "starry_night", "-o", "o.png"], "IMAGE is missing"),
        (["style", "{photo}", "--model", "starry_night"], "-o OUT is missing"),
        (["style", "{photo}", "-o", "o.png"], "no style: give --style"),
        (["style", "{photo}", "--model", "starry_night", "--style", "s.jpg", "-o", "o.png"],
         "--style and --model do not mix"),
        (["style", "{photo}", "--model", "starry_night", "--method", "gatys", "-o", "o.png"],
         "--method gatys needs a style picture"),
        (["style", "{photo}", "--style", "s.jpg", "--method", "fast", "-o", "o.png"],
         "--method fast needs --model"),
        (["style", "{photo}", "--model", "starry_night", "--iterations", "9", "-o", "o.png"],
         "--iterations is for gatys and mrf"),
        (["style", "{photo}", "--model", "nope", "-o", "o.png"],
         "no fast style named 'nope'; available: "),
        (["style", "{photo}", "--model", "w.pth", "-o", "o.png"], "fast styles are .safetensors"),
        (["style", "{photo}", "--model", "starry_night", "--model", "starry_night",
          "--mask", "{mask}", "-o", "o.png"], "2 --model but 1 --mask"),
    ],
)  # fmt: skip
def test_combinations_that_make_no_sense_fail_in_one_line(
    argv, expected, photo, left_mask, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(photo=photo, mask=left_mask) for a in argv]
    assert main(argv) == 1
    lines = _err_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("semedit: error: ") and expected in lines[0]
    assert not (tmp_path / "o.png").exists()


def test_a_file_that_is_not_a_style_network(photo, tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    save_file({"w": torch.zeros(2)}, str(junk))
    assert main(["style", str(photo), "--model", str(junk), "-o", str(tmp_path / "o.png")]) == 1
    lines = _err_lines(capsys)
    assert len(lines) == 1 and "not a fast style network" in lines[0]
