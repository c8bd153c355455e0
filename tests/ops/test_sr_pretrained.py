"""CARN-M and RFDN ports: strict loading of the original files, shapes, and real SR gains.

The quality checks use 96x96 HR crops of two Set5 images (MANIFEST protocol on a crop: LR by PIL
bicubic, output clipped and rounded, PSNR on studio-range Y with `scale` border pixels cut), so
the file runs in a few seconds on one CPU thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from editor.engine.store import load_registry, load_state_dict, sha256_file
from editor.ops import sr_train
from editor.ops.sr_models import SRUpscaler, build_from_state_dict, sr_forward
from editor.ops.sr_net import build
from editor.ops.sr_pretrained import CARNM, RFDN

CARN_FILE = "sr/CARN-M_x234.pth"
RFDN_FILE = "sr/RFDN_AIM_x4.pth"


@pytest.fixture
def carn_sd(shared_models: Path) -> dict[str, torch.Tensor]:
    return load_state_dict(shared_models / CARN_FILE)


@pytest.fixture
def rfdn_sd(shared_models: Path) -> dict[str, torch.Tensor]:
    return load_state_dict(shared_models / RFDN_FILE)


def _patches(shared_data: Path) -> list[np.ndarray]:
    """96x96 HR crops with detail: butterfly wings and the bird's head."""
    crops = []
    for name, (y, x) in (("butterfly", (80, 80)), ("bird", (60, 100))):
        rgb = np.asarray(Image.open(shared_data / "Set5" / f"{name}.png").convert("RGB"))
        crops.append(np.ascontiguousarray(rgb[y : y + 96, x : x + 96]))
    return crops


def test_registry_entries_match_the_shared_files(shared_models):
    registry = load_registry()
    for model_id, name in (("carn-m", CARN_FILE), ("rfdn-x4", RFDN_FILE)):
        info = registry[model_id]
        f = info.file()
        assert info.kind == "sr" and f.name == name and "MIT" in info.licence
        assert f.url.startswith("https://raw.githubusercontent.com/")
        path = shared_models / name
        assert path.stat().st_size == f.size and sha256_file(path) == f.sha256
    assert registry["carn-m"].input["scales"] == [2, 3, 4]
    assert registry["rfdn-x4"].input["scales"] == [4]


def test_strict_loading_and_parameter_counts(carn_sd, rfdn_sd):
    carn, rfdn = CARNM(), RFDN()
    carn.load_state_dict(carn_sd, strict=True)
    rfdn.load_state_dict(rfdn_sd, strict=True)
    # MANIFEST: 414,787 (without the mean shift) and 433,448 parameters.
    assert sum(p.numel() for n, p in carn.named_parameters() if "mean" not in n) == 414_787
    assert sum(p.numel() for p in rfdn.parameters()) == 433_448


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_carn_output_shape(carn_sd, scale):
    model = build_from_state_dict("carn-m", carn_sd, scale)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 9, 13))
    assert out.shape == (1, 3, 9 * scale, 13 * scale)


@pytest.mark.parametrize("size", [(1, 1), (5, 20), (14, 14), (16, 15)])
def test_rfdn_output_shape_including_inputs_smaller_than_15(rfdn_sd, size):
    model = build_from_state_dict("rfdn", rfdn_sd, 4)
    assert model.min_size == 15
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, size[0] * 4, size[1] * 4)
    assert torch.isfinite(out).all()


def test_build_rejects_wrong_scales_and_weights(carn_sd, rfdn_sd):
    with pytest.raises(ValueError):
        build_from_state_dict("rfdn", rfdn_sd, 2)
    with pytest.raises(ValueError):
        build_from_state_dict("carn-m", rfdn_sd, 2)
    with pytest.raises(ValueError):
        build_from_state_dict("residual", build(2).state_dict(), 3)


def test_residual_kind_reads_its_sizes_from_the_shapes():
    net = build(3, channels=8, depth=2)
    model = build_from_state_dict("residual", net.state_dict(), 3)
    assert isinstance(model, SRUpscaler) and model.net.channels == 8 and model.net.depth == 2
    lr = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        assert torch.equal(model(lr), net(lr))
        assert torch.equal(sr_forward(net, lr, 3), net(lr))


@pytest.mark.parametrize(("kind", "scale"), [("carn-m", 2), ("rfdn", 4)])
def test_beats_bicubic_on_set5_crops(shared_data, carn_sd, rfdn_sd, kind, scale):
    model = build_from_state_dict(kind, carn_sd if kind == "carn-m" else rfdn_sd, scale)
    crops = _patches(shared_data)
    bicubic = sr_train.evaluate_bicubic_psnr(crops, scale)
    ours = sr_train.evaluate_psnr(model, crops, scale)
    assert ours > bicubic + 1.5, (kind, scale, bicubic, ours)
