"""The "sharp" look: Real-ESRGAN is chosen only when asked (look or id), at x2/x3/x4, loads from
its two ncnn files, and a missing or broken copy says what to do."""

from __future__ import annotations

import pytest
import torch

from editor.engine.sr_choice import (
    SRModelChoice,
    available_upscalers,
    choose_upscaler,
    load_upscaler,
)
from editor.engine.store import ModelError, ModelMissing, ModelStore
from editor.ops.rrdbnet import RRDBNet, rrdbnet_to_ncnn


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
    assert [c.id for c in available_upscalers(store, 4, "sharp")] == ["realesrgan-x4plus"]
    choice = choose_upscaler(store, 2, "realesrgan-x4plus-anime")
    assert choice.kind == "rrdbnet" and choice.title == "Real-ESRGAN anime"
    model = load_upscaler(choice, "cpu")
    assert model.net.blocks == 6
    with torch.inference_mode():
        assert model(torch.rand(1, 3, 6, 5)).shape == (1, 3, 12, 10)


def test_sharp_without_the_model_names_the_fetch_command(tmp_path):
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
