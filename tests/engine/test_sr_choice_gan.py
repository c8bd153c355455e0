"""The "sharp" look: Real-ESRGAN is chosen only when asked (look or id), at x2/x3/x4, loads from
its two ncnn files; without it the built-in semedit-gan-x4 serves; a missing or broken copy says
what to do."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from editor.engine.models.upscalers import (
    SHIPPED_GAN_ID,
    SRModelChoice,
    available_upscalers,
    choose_upscaler,
    clear_cache,
    load_upscaler,
    supporting_ids,
)
from editor.engine.store import ModelError, ModelMissing, ModelStore
from editor.ops.rrdbnet import RRDBNet, rrdbnet_to_ncnn
from editor.ops.sr_compact import CompactSR


@pytest.fixture
def store(shared_models, tmp_path) -> ModelStore:
    if not (shared_models / "realesrgan" / "realesrgan-x4plus.bin").is_file():
        pytest.skip("../shared/models/realesrgan is not present")
    return ModelStore(models_dir=shared_models, user_dir=tmp_path / "user")


def test_faithful_never_picks_a_gan_model(store):
    for scale in (2, 3, 4):
        ids = [c.id for c in available_upscalers(store, scale)]
        assert ids and not any(i.startswith("realesrgan") for i in ids)
    assert choose_upscaler(store, 4).id == "rfdn-x4"


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sharp_picks_real_esrgan_at_every_scale(store, scale):
    choice = choose_upscaler(store, scale, look="sharp")
    assert (choice.id, choice.kind, choice.scale, choice.gan) == (
        "realesrgan-x4plus",
        "rrdbnet",
        scale,
        True,
    )
    assert choice.path.name == "realesrgan-x4plus.bin"
    assert choice.param_path is not None and choice.param_path.name == "realesrgan-x4plus.param"
    via = "" if scale == 4 else " via ×4"
    assert choice.label == f"Real-ESRGAN ×{scale}{via} (BSD-3-Clause)"


def test_the_anime_model_only_by_id(store):
    ids = [c.id for c in available_upscalers(store, 4, "sharp")]
    assert ids[0] == "realesrgan-x4plus" and "realesrgan-x4plus-anime" not in ids
    choice = choose_upscaler(store, 2, "realesrgan-x4plus-anime")
    assert choice.kind == "rrdbnet" and choice.title == "Real-ESRGAN anime"
    model = load_upscaler(choice, "cpu")
    assert model.net.blocks == 6
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 6, 5)).shape == (1, 3, 12, 10)


def test_sharp_without_any_gan_model_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: None)
    empty = ModelStore(models_dir=tmp_path / "none", user_dir=tmp_path / "user")
    with pytest.raises(ModelError, match="semedit models fetch realesrgan-x4plus"):
        choose_upscaler(empty, 4, look="sharp")
    with pytest.raises(ModelMissing, match="realesrgan-x4plus.param"):
        choose_upscaler(empty, 4, "realesrgan-x4plus")
    with pytest.raises(ValueError, match="unknown upscaling look"):
        choose_upscaler(empty, 4, look="crisp")


def test_a_broken_ncnn_pair_is_a_model_error(tmp_path):
    text, data = rrdbnet_to_ncnn(RRDBNet(1))
    (tmp_path / "m.param").write_text(text)
    (tmp_path / "m.bin").write_bytes(data[:-4])
    choice = SRModelChoice(
        "x", "X", "rrdbnet", 4, tmp_path / "m.bin", "BSD", param_path=tmp_path / "m.param"
    )
    with pytest.raises(ModelError, match=r"m.param / m.bin: ncnn .bin ends inside"):
        load_upscaler(choice, "cpu")
    (tmp_path / "m.bin").write_bytes(data)
    model = load_upscaler(choice, "cpu")
    assert model.scale == 4 and model.net.blocks == 1


@pytest.fixture
def nearest_gan(tmp_path, monkeypatch):
    """A CompactSR fresh from its initialisation (exactly the nearest x4 enlargement) saved
    as the shipped GAN file, without metadata (the sizes are read off the shapes)."""
    torch.manual_seed(0)
    net = CompactSR(channels=8, convs=2)
    path = tmp_path / "semedit-gan-x4.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: path)
    return path


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_sharp_without_real_esrgan_takes_the_built_in_gan(tmp_path, nearest_gan, scale):
    empty = ModelStore(models_dir=tmp_path / "none", user_dir=tmp_path / "user")
    choice = choose_upscaler(empty, scale, look="sharp")
    assert (choice.id, choice.kind, choice.gan, choice.path) == (
        SHIPPED_GAN_ID,
        "compact",
        True,
        nearest_gan,
    )
    via = "" if scale == 4 else " via ×4"
    assert choice.label == f"SemEdit GAN ×{scale}{via} (MIT)"
    assert SHIPPED_GAN_ID in supporting_ids(empty, scale)
    assert choose_upscaler(empty, scale, SHIPPED_GAN_ID) == choice
    assert SHIPPED_GAN_ID not in [c.id for c in available_upscalers(empty, scale)]  # faithful
    model = load_upscaler(choice, "cpu")
    assert model.overlap == 4  # the receptive radius: 2 convolutions + 2
    lr = torch.rand(1, 3, 6, 6)
    with torch.inference_mode():
        out = model(lr)
    # the x4 nearest enlargement, area-downscaled to x`scale`
    x4 = F.interpolate(lr, scale_factor=4, mode="nearest")
    expected = F.adaptive_avg_pool2d(x4, (6 * scale, 6 * scale))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_real_esrgan_stays_first_for_sharp(store, nearest_gan):
    ids = [c.id for c in available_upscalers(store, 4, "sharp")]
    assert ids == ["realesrgan-x4plus", SHIPPED_GAN_ID]


def test_the_built_in_gan_missing_is_a_model_error(tmp_path, monkeypatch):
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_gan_path", lambda: None)
    empty = ModelStore(models_dir=tmp_path / "none", user_dir=tmp_path / "user")
    with pytest.raises(ModelError, match="semedit-gan-x4.safetensors is missing"):
        choose_upscaler(empty, 4, SHIPPED_GAN_ID)


def test_real_esrgan_runs_in_bf16_where_the_cpu_has_it(store, shared_data, monkeypatch):
    """On a CPU with native bfloat16 the editor's Real-ESRGAN runs under autocast (~1.7x
    faster, benchmarks/bench_upscale_gan.py); its picture of a photo stays within a level of
    float32's on average. SEMEDIT_BF16=0 keeps float32."""
    rgb = np.asarray(Image.open(shared_data / "Set14" / "comic.png").convert("RGB"))
    lr = torch.from_numpy(rgb[70:90, 80:100].astype(np.float32) / 255).permute(2, 0, 1)[None]
    choice = choose_upscaler(store, 4, "realesrgan-x4plus")
    clear_cache()
    monkeypatch.setenv("SEMEDIT_BF16", "0")
    fp32 = load_upscaler(choice, "cpu")
    assert not fp32.bf16
    with torch.inference_mode():
        reference = fp32(lr).clamp(0, 1)
    clear_cache()
    monkeypatch.setattr("editor.engine.models.vgg.cpu_has_bf16", lambda: True)
    fast = load_upscaler(choice, "cpu")
    assert fast.bf16
    with torch.inference_mode():
        out = fast(lr)
    assert out.dtype == torch.float32
    diff = (out.clamp(0, 1) - reference).abs() * 255
    assert 0 < float(diff.mean()) < 1 and float(diff.max()) <= 16
    clear_cache()


def test_the_shipped_gan_draws_the_photos_texture(shared_models, shared_data):
    """semedit-gan-x4 as shipped: x4 on a Set14 baboon crop (never trained on), its texture
    statistics (Gram distance over VGG relu1_1..relu3_1) far closer to the original's than
    bicubic's, and its low frequencies still the input's."""
    from editor.engine.models.upscalers import shipped_gan_path
    from editor.engine.models.vgg import shared_features
    from editor.ops.style_losses import gram_matrix

    assert shipped_gan_path() is not None, "editor/resources/models/semedit-gan-x4.safetensors"
    empty = ModelStore(models_dir=None)
    model = load_upscaler(choose_upscaler(empty, 4, SHIPPED_GAN_ID), "cpu")
    rgb = np.asarray(Image.open(shared_data / "Set14" / "baboon.png").convert("RGB"))
    hr = torch.from_numpy(rgb[350:478, 300:428].astype(np.float32) / 255).permute(2, 0, 1)[None]
    lr = F.avg_pool2d(hr, 4)
    with torch.inference_mode():
        out = model(lr).clamp(0, 1)
    bicubic = F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)
    vgg = shared_features(shared_models, "cpu")
    layers = ("relu1_1", "relu2_1", "relu3_1")

    def gram_distance(x: torch.Tensor) -> float:
        with torch.inference_mode():
            fx, fh = vgg(x, layers), vgg(hr, layers)
        return sum(
            float((gram_matrix(fx[n]) - gram_matrix(fh[n])).norm() / gram_matrix(fh[n]).norm())
            for n in layers
        ) / len(layers)

    # 0.49 against 0.80 here (128 px is a small sample; on 384 px crops 0.22 against 0.57)
    assert gram_distance(out) < 0.8 * gram_distance(bicubic)
    low = (F.avg_pool2d(out, 8) - F.avg_pool2d(hr, 8)).abs().mean()
    assert float(low) < 0.03
