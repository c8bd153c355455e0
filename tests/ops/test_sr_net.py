"""ResidualSR and its trainer: shapes, bicubic at init, learning, exact resume, shipped weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from editor.ops import sr_train
from editor.ops.sr_net import ResidualSR, build, from_weights

MODELS = Path(__file__).resolve().parents[2] / "editor" / "resources" / "models"


def _synthetic_photos(n: int = 3, size: int = 96) -> list[np.ndarray]:
    """Smooth colour fields with sharp edges: something bicubic blurs and a net can learn."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    photos = []
    for _ in range(n):
        fx, fy, phase = rng.uniform(0.05, 0.3, 3)
        base = 0.5 + 0.4 * np.sin(fx * xx + fy * yy + phase)
        edges = ((xx // rng.integers(5, 12) + yy // rng.integers(5, 12)) % 2).astype(np.float32)
        rgb = np.stack([base, 0.3 + 0.5 * edges, 0.6 * base + 0.3 * edges], axis=-1)
        photos.append((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8))
    return photos


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape_on_odd_sizes(scale):
    net = build(scale)
    out = net(torch.rand(2, 3, 13, 7))
    assert out.shape == (2, 3, 13 * scale, 7 * scale)
    assert net.scale == scale


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_zero_last_layer_is_exact_bicubic(scale):
    torch.manual_seed(0)
    net = ResidualSR(scale, channels=8, depth=2)  # tail is zero-initialised
    lr = torch.rand(1, 3, 11, 9)
    expected = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.equal(net(lr), expected)


def _trainer(steps: int = 30) -> sr_train.SRTrainer:
    pairs = [sr_train.make_pair(p, 2) for p in _synthetic_photos()]
    config = sr_train.TrainConfig(
        lr_patch=12, batch_size=4, learning_rate=3e-3, warmup_steps=3, total_steps=steps
    )
    torch.manual_seed(0)
    return sr_train.SRTrainer(ResidualSR(2, channels=16, depth=2), pairs, config)


def test_training_lowers_the_loss():
    trainer = _trainer(30)
    with torch.no_grad():
        lr_img, hr_img = trainer.sampler.sample(32)
        before = float(sr_train.charbonnier(trainer.model(lr_img), hr_img))
    reports = list(sr_train.train(trainer, 30, report_every=10))
    assert [r[0] for r in reports] == [10, 20, 30]
    with torch.no_grad():
        after = float(sr_train.charbonnier(trainer.model(lr_img), hr_img))
    assert after < before * 0.97  # ~0.93 measured; the tail starts at zero


def test_checkpoint_resume_is_bit_exact(tmp_path):
    trainer = _trainer(20)
    list(sr_train.train(trainer, 10))
    path = tmp_path / "ckpt.safetensors"
    save_file(trainer.state_tensors(), str(path))
    list(sr_train.train(trainer, 20))
    straight = trainer.model.state_dict()

    resumed = _trainer(20)
    resumed.load_state_tensors(load_file(str(path)))
    assert resumed.step == 10
    list(sr_train.train(resumed, 20))
    assert resumed.step == 20
    for key, value in resumed.model.state_dict().items():
        assert torch.equal(value, straight[key]), key


def test_bicubic_baseline_matches_manifest(shared_data):
    """The protocol itself: PIL bicubic on Set5 x2 gives the MANIFEST's 33.67 dB."""
    images = [
        np.asarray(Image.open(p).convert("RGB")) for p in sorted((shared_data / "Set5").glob("*"))
    ]
    assert sr_train.evaluate_bicubic_psnr(images, 2) == pytest.approx(33.67, abs=0.01)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shipped_weights_beat_bicubic(shared_data, scale):
    path = MODELS / f"upscaler_x{scale}.safetensors"
    if not path.exists():
        pytest.skip(f"{path.name} not trained yet")
    assert path.stat().st_size < 1_000_000
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    net = from_weights(tensors, metadata)
    assert net.scale == scale
    names = ["bird.png", "butterfly.png"]  # two small Set5 images keep this fast
    images = [np.asarray(Image.open(shared_data / "Set5" / n).convert("RGB")) for n in names]
    gain = sr_train.evaluate_psnr(net, images, scale) - sr_train.evaluate_bicubic_psnr(
        images, scale
    )
    assert gain > 0.3
