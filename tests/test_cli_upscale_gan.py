"""`semedit upscale --model realesrgan-x4plus` and `--look sharp`: the GAN network's own output
(x4), x2 as that x4 result area-downscaled, and a one-line error without the model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from editor.cli import main
from editor.core.imageio import load_image
from editor.engine.models.vgg import cpu_has_bf16
from editor.ops.sr_models import build_rrdbnet_from_ncnn


@pytest.fixture
def crop(shared_data: Path, tmp_path: Path) -> Path:
    """A 20x16 crop of Set14 comic.png (Real-ESRGAN on one CPU thread takes a second)."""
    path = tmp_path / "comic_crop.png"
    Image.open(shared_data / "Set14" / "comic.png").convert("RGB").crop((80, 70, 100, 86)).save(
        path
    )
    return path


@pytest.fixture
def gan_x4(shared_models: Path):
    folder = shared_models / "realesrgan"
    if not (folder / "realesrgan-x4plus.bin").is_file():
        pytest.skip("../shared/models/realesrgan is not present")
    net = build_rrdbnet_from_ncnn(
        (folder / "realesrgan-x4plus.param").read_text(),
        (folder / "realesrgan-x4plus.bin").read_bytes(),
        4,
    )
    if cpu_has_bf16():  # as the editor runs it on this CPU (tests/engine/test_sr_choice_gan.py)
        net.use_bf16()

    def upscale(rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            y = net(x)[0].clamp(0, 1).permute(1, 2, 0).numpy()
        return y

    return upscale


def test_model_realesrgan_x4_is_the_network_output(crop, shared_models, gan_x4, tmp_path, capsys):
    out = tmp_path / "x4.png"
    code = main(
        ["upscale", str(crop), "--scale", "4", "--model", "realesrgan-x4plus", "-o", str(out)]
        + ["--models", str(shared_models)]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "upscaled with Real-ESRGAN ×4 (BSD-3-Clause)" in err
    lr = load_image(crop).pixels
    hr = load_image(out).pixels
    assert hr.shape == (64, 80, 3)
    expected = np.rint(gan_x4(lr) * 255.0)
    assert np.abs(hr.astype(np.float64) - expected).max() <= 1


def test_look_sharp_x2_is_x4_then_area_downscale(crop, shared_models, gan_x4, tmp_path, capsys):
    out = tmp_path / "x2.png"
    code = main(
        ["upscale", str(crop), "--scale", "2", "--look", "sharp", "-o", str(out)]
        + ["--models", str(shared_models)]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "upscaled with Real-ESRGAN ×2 via ×4 (BSD-3-Clause)" in err
    lr = load_image(crop).pixels
    hr = load_image(out).pixels
    assert hr.shape == (32, 40, 3)
    area = cv2.resize(gan_x4(lr), (40, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(hr.astype(np.float64) - np.rint(area * 255.0)).max() <= 1


def test_look_sharp_without_any_gan_model_is_one_line(crop, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: None)
    out = tmp_path / "o.png"
    code = main(
        ["upscale", str(crop), "--scale", "4", "--look", "sharp", "-o", str(out)]
        + ["--models", str(tmp_path / "empty")]
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1
    assert "semedit models fetch realesrgan-x4plus" in lines[0]
    assert not out.exists()


def test_model_semedit_gan_x4_runs_without_any_models_folder(crop, tmp_path, capsys, monkeypatch):
    """The built-in GAN (here a CompactSR fresh from its initialisation: the nearest x4
    enlargement) through the CLI at x2: x4, then an area downscale = the nearest x2."""
    from safetensors.torch import save_file

    from editor.ops.sr_compact import CompactSR

    weights = tmp_path / "semedit-gan-x4.safetensors"
    net = CompactSR(channels=8, convs=2)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: weights)
    out = tmp_path / "x2.png"
    code = main(
        ["upscale", str(crop), "--scale", "2", "--look", "sharp", "-o", str(out)]
        + ["--models", str(tmp_path / "empty")]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "upscaled with SemEdit GAN ×2 via ×4 (MIT)" in err
    lr = load_image(crop).pixels
    assert np.array_equal(load_image(out).pixels, lr.repeat(2, axis=0).repeat(2, axis=1))
