"""The fast-style transform network: shapes, odd sizes, save/load; the known-good TF nets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, safe_open, save_file

from editor.ops.transform_net import (
    JohnsonTF,
    TransformNet,
    _noise_at,
    load_johnson_tf,
    load_transform_net,
    metadata_for,
)


@pytest.mark.parametrize("size", [(1, 1), (5, 7), (33, 47), (64, 64)])
def test_any_size_in_gives_the_same_size_out_in_range(size):
    torch.manual_seed(0)
    net = TransformNet().eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert y.min() >= 0.0 and y.max() <= 1.0


def test_rejects_a_non_rgb_batch():
    with pytest.raises(ValueError, match="RGB batch"):
        TransformNet()(torch.rand(1, 4, 8, 8))


def test_slim_net_is_small():
    net = TransformNet()
    params = sum(p.numel() for p in net.parameters())
    assert params * 2 < 1_000_000  # float16 weights ship under 1 MB


def test_round_trip_through_safetensors_rebuilds_the_sizes(tmp_path):
    torch.manual_seed(1)
    net = TransformNet(channels=(8, 16, 24), blocks=2).eval()
    path = tmp_path / "mine.safetensors"
    save_file({k: v.half() for k, v in net.state_dict().items()}, str(path), metadata_for(net))
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    loaded = load_transform_net(load_file(str(path)), meta)
    assert loaded.channels == (8, 16, 24) and loaded.blocks == 2
    x = torch.rand(1, 3, 30, 22)
    with torch.no_grad():
        assert torch.allclose(loaded(x), net(x), atol=0.02)  # float16 storage


def test_other_architectures_are_refused():
    with pytest.raises(ValueError, match="not a fast-style network"):
        load_transform_net({}, {"architecture": "ResidualSR"})
    with pytest.raises(ValueError, match="do not fit"):
        load_transform_net(TransformNet(blocks=2).state_dict(), {})


def test_johnson_tf_layout_runs_at_odd_sizes():
    net = JohnsonTF().eval()
    with torch.no_grad():
        y = net(torch.rand(1, 3, 37, 50) * 255)
    assert y.shape == (1, 3, 37, 50) and 0 <= y.min() and y.max() <= 255


def _rgb255(path, size=None):
    img = Image.open(path).convert("RGB")
    if size:
        img = img.resize(size, Image.Resampling.BICUBIC)
    return torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1)[None]


def test_known_good_scream_net_moves_the_colours_to_the_painting(shared_models, shared_data):
    """MANIFEST section 1: stylising golden_gate with scream.pt moves its mean colour toward the
    painting's (the inference path — padding, ranges, float16 -> float32 — is right)."""
    state = torch.load(shared_models / "fast_style" / "scream.pt", weights_only=True)
    net = load_johnson_tf(state)
    photo = _rgb255(shared_data / "content" / "golden_gate.jpg", (384, 288))
    painting_mean = _rgb255(shared_data / "style_fast" / "scream.jpg").mean((0, 2, 3))
    with torch.no_grad():
        out = net(photo)
    assert out.shape == photo.shape
    before = (photo.mean((0, 2, 3)) - painting_mean).norm()
    after = (out.mean((0, 2, 3)) - painting_mean).norm()
    assert after < before / 4  # 104 -> 13 here
    # Texture, not a colour cast: the output keeps the bridge (correlated with the photo's
    # luminance) but is far from a copy of it.
    lum_in, lum_out = photo.mean(1).flatten(), out.mean(1).flatten()
    corr = torch.corrcoef(torch.stack([lum_in, lum_out]))[0, 1]
    assert 0.3 < corr < 0.98


SHIPPED = Path(__file__).resolve().parents[2] / "editor" / "resources" / "models" / "styles"


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.safetensors")), ids=lambda p: p.stem)
def test_shipped_styles_load_and_restyle(path):
    assert path.stat().st_size < 1_000_000
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["style"] == path.stem and int(meta["steps"]) > 0
    net = load_transform_net(load_file(str(path)), meta)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    photo = torch.stack([xx, yy, (xx + yy) / 2])[None]
    with torch.no_grad():
        out = net(photo)
    assert out.shape == photo.shape
    assert (out - photo).abs().mean() > 0.05  # it restyles, not copies


def test_input_noise_is_fresh_in_training_fixed_at_inference_and_saved():
    torch.manual_seed(0)
    net = TransformNet((8, 16, 16), 1, input_noise=0.1)
    x = torch.rand(1, 3, 32, 40)
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x), net(x))
        assert not torch.allclose(net(x), net(x, origin=(5, 0)))
        # Addressed by position: a crop at its origin sees the same noise as the whole.
        assert torch.equal(_noise_at(x, (0, 0))[..., 8:, 12:], _noise_at(x[..., 8:, 12:], (12, 8)))
        rebuilt = load_transform_net(net.state_dict(), metadata_for(net))
        assert rebuilt.input_noise == 0.1 and torch.equal(rebuilt(x), net(x))
        plain = TransformNet((8, 16, 16), 1)
        assert "input_noise" not in plain.config()  # old files and new ones without it agree


def test_context_is_the_receptive_radius():
    # Made linear (norms and ReLUs out: their image-wide statistics and dead units hide the
    # structure), the farthest input pixel that moves an output, over the four alignments to
    # the stride-4 grid and both directions, is within `context` and close to it.
    for blocks in (1, 3):
        torch.manual_seed(0)
        net = TransformNet((4, 4, 4), blocks).eval()
        for module in net.modules():
            for name, child in module.named_children():
                if isinstance(child, torch.nn.InstanceNorm2d | torch.nn.ReLU):
                    setattr(module, name, torch.nn.Identity())
        x = torch.rand(1, 3, 240, 240)
        farthest = 0
        with torch.no_grad():
            for c in range(100, 104):
                y0 = net(x)[0, :, c, c]
                for d in range(net.context - 12, net.context + 12):
                    for side in (1, -1):
                        moved = x.clone()
                        moved[0, :, c, c + side * d] += 0.5
                        if (net(moved)[0, :, c, c] - y0).abs().max() > 0:
                            farthest = max(farthest, d)
        assert net.context - 4 <= farthest <= net.context
