"""RRDBNet and the ncnn reader: a small network written in ncnn format and read back exactly,
clear errors on a file that does not fit, and Real-ESRGAN x4plus on a stored reference crop.

The reference ``tests/data/realesrgan_x4plus_baboon32.png`` was made once (with this reader, fp32,
one torch thread): Set14 ``baboon.png`` rows 200:232, columns 200:232 (the red nose's edge and the
blue cheek) through the shared ``realesrgan/realesrgan-x4plus.{param,bin}``, output clipped to
0..1, times 255, rounded. It guards against regressions of the reader and the network; that this
reader matches ncnn itself (within 0.05/255 on average) is the shared MANIFEST section 8's check.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from editor.ops.rrdbnet import (
    RRDBNet,
    conv_count,
    parse_ncnn_param,
    rrdbnet_from_ncnn,
    rrdbnet_to_ncnn,
)
from editor.ops.sr_models import SRUpscaler, area_downscale, build_rrdbnet_from_ncnn

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = DATA / "realesrgan_x4plus_baboon32.png"


def _random_net(blocks: int, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    net = RRDBNet(blocks)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.05)
    return net.eval()


def test_conv_count_matches_the_real_esrgan_files():
    assert conv_count(23) == 351 and conv_count(6) == 96
    assert sum(isinstance(m, torch.nn.Conv2d) for m in RRDBNet(2).modules()) == conv_count(2)


@pytest.mark.parametrize("blocks", [1, 2])
def test_a_small_net_round_trips_through_the_ncnn_format(blocks):
    net = _random_net(blocks)
    text, data = rrdbnet_to_ncnn(net)
    back = rrdbnet_from_ncnn(text, data)
    assert back.blocks == blocks
    for (name, a), (_, b) in zip(net.state_dict().items(), back.state_dict().items(), strict=True):
        if name.endswith("weight"):  # stored as float16: exactly the fp16 values come back
            assert torch.equal(b, a.half().float()), name
        else:  # biases are float32 in the file
            assert torch.equal(b, a), name
    x = torch.rand(1, 3, 9, 7)
    with torch.inference_mode():
        assert back(x).shape == (1, 3, 36, 28)


def test_fp32_storage_is_read_too():
    net = _random_net(1, seed=3)
    back = rrdbnet_from_ncnn(*rrdbnet_to_ncnn(net, fp16=False))
    for a, b in zip(net.parameters(), back.parameters(), strict=True):
        assert torch.equal(a, b)


def test_mismatches_fail_with_a_message_naming_the_layer():
    text, data = rrdbnet_to_ncnn(_random_net(1))
    with pytest.raises(ValueError, match="not an ncnn .param"):
        rrdbnet_from_ncnn("7767518\n" + text.split("\n", 1)[1], data)
    with pytest.raises(ValueError, match="bytes left"):
        rrdbnet_from_ncnn(text, data + b"\0\0\0\0")
    with pytest.raises(ValueError, match="ends inside the weights of Conv_20"):
        rrdbnet_from_ncnn(text, data[:-8])
    # one convolution too few: not 1 + 15 * blocks + 5
    lines = text.splitlines()
    short = "\n".join([lines[0], f"{len(lines) - 3} 1", *lines[2:-1]])
    with pytest.raises(ValueError, match="20 convolutions is not an RRDBNet"):
        rrdbnet_from_ncnn(short, data)
    # a convolution with the wrong output channels
    wrong = text.replace("Conv_1 1 1 c0 c1 0=32", "Conv_1 1 1 c0 c1 0=16")
    wrong = wrong.replace("0=16 1=3 4=1 5=1 6=18432", "0=16 1=3 4=1 5=1 6=9216")
    with pytest.raises(ValueError, match=r"Conv_1 is \(out, in, kernel\) \(16, 64, 3\).*body"):
        rrdbnet_from_ncnn(wrong, data)
    # header count off
    with pytest.raises(ValueError, match="header says"):
        rrdbnet_from_ncnn(text.replace(f"\n{len(lines) - 2} ", f"\n{len(lines) - 1} ", 1), data)


def test_parse_reads_the_real_param_file(shared_models):
    text = (shared_models / "realesrgan" / "realesrgan-x4plus.param").read_text()
    convs = parse_ncnn_param(text)
    assert len(convs) == 351
    assert (convs[0].in_channels, convs[0].out_channels) == (3, 64)
    assert (convs[-1].in_channels, convs[-1].out_channels, convs[-1].activation) == (64, 3, 0)


def test_area_downscale_is_opencv_inter_area():
    rng = np.random.default_rng(0)
    hr = rng.random((24, 20, 3), dtype=np.float32)
    x = torch.from_numpy(hr.transpose(2, 0, 1).copy())[None]
    for h, w in ((12, 10), (18, 15)):  # x4 -> x2 and x4 -> x3
        ours = area_downscale(x, h, w)[0].permute(1, 2, 0).numpy()
        ref = cv2.resize(hr, (w, h), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_x2_and_x3_are_x4_then_area_downscale():
    net = _random_net(1, seed=1)
    x = torch.rand(1, 3, 8, 6)
    with torch.inference_mode():
        hr4 = net(x)
        for s in (2, 3):
            out = SRUpscaler("rrdbnet", net, s)(x)
            assert out.shape == (1, 3, 8 * s, 6 * s)
            torch.testing.assert_close(out, area_downscale(hr4.clamp(0, 1), 8 * s, 6 * s))


@pytest.fixture
def real_esrgan(shared_models) -> SRUpscaler:
    folder = shared_models / "realesrgan"
    return build_rrdbnet_from_ncnn(
        (folder / "realesrgan-x4plus.param").read_text(),
        (folder / "realesrgan-x4plus.bin").read_bytes(),
        4,
    )


def test_real_esrgan_matches_the_stored_reference_crop(real_esrgan, shared_data):
    assert real_esrgan.net.blocks == 23
    rgb = np.asarray(Image.open(shared_data / "Set14" / "baboon.png").convert("RGB"))
    crop = rgb[200:232, 200:232]
    x = torch.from_numpy(crop.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        y = real_esrgan(x)
    out = (y[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round()
    ref = np.asarray(Image.open(REFERENCE)).astype(np.float64)
    diff = np.abs(out - ref)
    assert diff.mean() < 0.1 and diff.max() <= 2  # float summation order may differ by BLAS

    # Low frequencies follow the input: 8x8-averaged output is close to bicubic's.
    bicubic = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    low = (F.avg_pool2d(y, 8) - F.avg_pool2d(bicubic, 8)).abs().mean().item()
    assert low < 0.05
    # ...while it is sharper than bicubic (more high-frequency energy).
    lap = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).expand(3, 1, 3, 3)
    energy = [F.conv2d(t, lap, groups=3).abs().mean().item() for t in (y, bicubic)]
    assert energy[0] > 1.5 * energy[1]
