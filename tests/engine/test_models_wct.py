"""Loading the WCT encoders/decoders (model `wct16x`) through the model store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from editor.engine.models import wct as wct_models
from editor.engine.models.wct import MODEL_ID, load_deep_features, load_wct_models
from editor.engine.store import ModelMissing, ModelStore


@pytest.fixture(autouse=True)
def _fresh_cache():
    wct_models.clear_cache()
    yield
    wct_models.clear_cache()


def test_the_registry_lists_the_ten_files():
    info = ModelStore(models_dir=None).info(MODEL_ID)
    names = sorted(f.name.rsplit("/", 1)[-1] for f in info.files)
    assert names == sorted(
        [f"encoder{k}.pth" for k in range(1, 6)] + [f"decoder{k}.pth" for k in range(1, 6)]
    )
    assert all(f.url and f.sha256 and f.size for f in info.files)


def test_loads_all_levels_from_the_shared_models_and_caches_them(shared_models, tmp_path):
    store = ModelStore(models_dir=shared_models, user_dir=tmp_path / "user")
    models = load_wct_models(store, "cpu")
    assert sorted(models.encoders) == sorted(models.decoders) == [1, 2, 3, 4, 5]
    assert [models.encoders[k].channels for k in range(1, 6)] == [24, 32, 64, 128, 128]
    assert models.folder == shared_models
    assert load_wct_models(store, "cpu") is models  # cached per folder and device
    deep = load_deep_features(store)
    assert deep is models.deep_features()
    out = deep(torch.rand(1, 3, 32, 32), ["relu4_1", "relu5_1"])
    assert out["relu4_1"].shape == (1, 512, 4, 4) and out["relu5_1"].shape == (1, 512, 2, 2)


def test_missing_files_say_what_to_fetch_and_where(tmp_path):
    store = ModelStore(models_dir=tmp_path / "empty", user_dir=tmp_path / "user")
    with pytest.raises(ModelMissing) as info:
        load_wct_models(store)
    message = str(info.value)
    assert "WCT" in message and "wct16x" in message
    assert "encoder1.pth" in message and "decoder5.pth" in message
    assert "semedit models fetch wct16x" in message
    assert "http" not in message  # ten addresses would drown the line: they are in the registry
    assert str(tmp_path / "user") in message


def test_an_incomplete_copy_is_not_used(shared_models, tmp_path):
    partial = tmp_path / "models" / "wct16x"
    partial.mkdir(parents=True)
    for f in (shared_models / "wct16x").glob("encoder*.pth"):
        shutil.copy(f, partial / f.name)
    store = ModelStore(models_dir=tmp_path / "models", user_dir=tmp_path / "user")
    with pytest.raises(ModelMissing, match="decoder1.pth"):
        load_wct_models(store)


def test_an_explicit_folder_is_used(shared_models, tmp_path):
    store = ModelStore(models_dir=tmp_path / "empty", user_dir=tmp_path / "user")
    models = load_wct_models(store, path=shared_models)
    assert models.folder == Path(shared_models)


def test_a_flat_folder_is_used(shared_models, tmp_path):
    store = ModelStore(models_dir=tmp_path / "empty", user_dir=tmp_path / "user")
    models = load_wct_models(store, path=shared_models / "wct16x")
    assert models.folder == shared_models / "wct16x"
