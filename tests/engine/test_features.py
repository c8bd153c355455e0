"""The VGG19 feature extractor: real conv1_1..conv3_4 and full (quantised) weights via the store;
torchvision keys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from editor.engine.models.vgg import CONV3_ONLY, DEFAULT_PREFER, FULL_FIRST, FeatureExtractor
from editor.engine.store import ModelMissing, ModelStore, load_registry, sha256_file
from editor.ops.vgg import VGG19Features, torchvision_index

CONV3 = "vgg19/vgg19_conv1_1-conv3_4.safetensors"
FULL = "vgg19_full/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
TORCHVISION = "vgg19/vgg19-dcbb9e9d.pth"


@pytest.fixture
def conv3(shared_models: Path, tmp_path: Path) -> FeatureExtractor:
    store = ModelStore(models_dir=shared_models, user_dir=tmp_path / "user")
    return FeatureExtractor.from_store(store, prefer=CONV3_ONLY)


@pytest.fixture
def full(shared_models: Path, tmp_path: Path) -> FeatureExtractor:
    if not (shared_models / FULL).is_file():
        pytest.skip("../shared/models has no vgg19_full")
    store = ModelStore(models_dir=shared_models, user_dir=tmp_path / "user")
    return FeatureExtractor.from_store(store, prefer=FULL_FIRST)


def _without(shared_models: Path, tmp_path: Path, *folders: str) -> Path:
    """A models folder holding `folders` of the shared one (links, no copies)."""
    models = tmp_path / "models"
    models.mkdir()
    for folder in folders:
        (models / folder).symlink_to(shared_models / folder, target_is_directory=True)
    return models


def _photo(shared_data: Path, name: str, size: tuple[int, int]) -> torch.Tensor:
    from editor.core.imageio import load_image
    from editor.ops.pixels import to_rgb01
    from editor.ops.style_losses import resize

    return resize(to_rgb01(load_image(shared_data / "content" / name).pixels), size)


def test_registry_hash_and_size_match_the_shared_file(shared_models):
    entry = load_registry()["vgg19-conv3"].file()
    assert entry.name == CONV3
    assert sha256_file(shared_models / CONV3) == entry.sha256
    assert (shared_models / CONV3).stat().st_size == entry.size


def test_conv3_weights_load_with_their_layers(conv3):
    assert conv3.source == "vgg19-conv3"
    relus = [n for n in conv3.available_layers if n.startswith("relu")]
    assert relus == [
        "relu1_1",
        "relu1_2",
        "relu2_1",
        "relu2_2",
        "relu3_1",
        "relu3_2",
        "relu3_3",
        "relu3_4",
    ]
    assert not conv3.training
    assert not any(p.requires_grad for p in conv3.parameters())


def test_conv3_feature_shapes(conv3):
    x = torch.rand(2, 3, 32, 48)
    out = conv3(x, ["relu1_1", "relu2_1", "relu3_1"])
    assert out["relu1_1"].shape == (2, 64, 32, 48)
    assert out["relu2_1"].shape == (2, 128, 16, 24)
    assert out["relu3_1"].shape == (2, 256, 8, 12)
    assert set(out) == {"relu1_1", "relu2_1", "relu3_1"}


def test_asking_for_a_missing_layer_names_what_there_is(conv3):
    with pytest.raises(KeyError, match="relu3_4"):
        conv3(torch.rand(1, 3, 16, 16), ["relu2_1", "relu4_1"])


def test_caffe_convention_is_applied_once_at_the_edge(conv3):
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1.0  # RGB 0..1 red -> BGR 0..255 minus the Caffe mean
    x = conv3.normalise(red)
    assert torch.allclose(x[0, :, 0, 0], torch.tensor([-103.939, -116.779, 255 - 123.68]))


def test_gradient_reaches_the_input(conv3):
    x = torch.rand(1, 3, 24, 24, requires_grad=True)
    loss = sum(f.square().mean() for f in conv3(x, ["relu1_1", "relu3_1"]).values())
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in conv3.parameters())


def _torchvision_state() -> dict[str, torch.Tensor]:
    """Random weights in torchvision's vgg19 layout (features.N.*, plus a classifier key)."""
    gen = torch.Generator().manual_seed(0)
    reference = VGG19Features("relu5_4")
    state: dict[str, torch.Tensor] = {}
    for index, conv in torchvision_index().items():
        weight = getattr(reference, conv).weight
        state[f"features.{index}.weight"] = torch.randn(weight.shape, generator=gen) * 0.02
        state[f"features.{index}.bias"] = torch.randn(weight.shape[0], generator=gen) * 0.02
    state["classifier.6.bias"] = torch.zeros(10)
    return state


def test_torchvision_layout_loads_as_the_full_network(tmp_path, shared_models):
    models = tmp_path / "models"
    state = _torchvision_state()
    (models / "vgg19").mkdir(parents=True)
    torch.save(state, models / TORCHVISION)
    registry = load_registry()
    tv = registry["vgg19-torchvision"]
    real = replace(
        tv.file(),
        sha256=sha256_file(models / TORCHVISION),
        size=(models / TORCHVISION).stat().st_size,
    )
    registry["vgg19-torchvision"] = replace(tv, files=(real,))
    # Both weights installed: the full network is preferred.
    store = ModelStore(models_dir=models, user_dir=shared_models, registry=registry)

    extractor = FeatureExtractor.from_store(store)

    assert extractor.source == "vgg19-torchvision"
    assert {"relu4_1", "relu5_1", "relu5_4"} <= set(extractor.available_layers)
    assert torch.equal(extractor.net.conv5_4.weight, state["features.34.weight"])
    assert torch.equal(extractor.net.conv1_1.bias, state["features.0.bias"])
    out = extractor(torch.rand(1, 3, 64, 32), ["relu4_1", "relu5_1"])
    assert out["relu4_1"].shape == (1, 512, 8, 4)
    assert out["relu5_1"].shape == (1, 512, 4, 2)
    grey = torch.full((1, 3, 1, 1), 0.5)
    expected = (0.5 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(extractor.normalise(grey).flatten(), expected)

    assert FeatureExtractor.from_store(store, prefer=("vgg19-conv3",)).source == "vgg19-conv3"


def test_no_weights_installed_is_model_missing(tmp_path):
    store = ModelStore(user_dir=tmp_path / "user")
    with pytest.raises(ModelMissing, match="vgg19-torchvision, vgg19-conv3, vgg19-full"):
        FeatureExtractor.from_store(store)


def test_vgg_stops_at_the_deepest_requested_layer():
    net = VGG19Features("relu5_4", pool="avg")
    ran: list[str] = []
    for name in ("conv2_1", "conv2_2", "conv3_1"):
        getattr(net, name).register_forward_hook(lambda m, i, o, n=name: ran.append(n))
    out = net(torch.rand(1, 3, 16, 16), ["conv2_1", "relu1_2"])
    assert ran == ["conv2_1"]
    assert out["conv2_1"].shape == (1, 128, 8, 8)
    assert (out["conv2_1"] < 0).any()  # the conv output, not its ReLU


def test_style_features_add_deep_layers_from_the_compressed_encoder(shared_models, tmp_path):
    import torch

    from editor.engine.models.vgg import WithDeepLayers, style_features

    # conv1_1..conv3_4 and the encoders, no full network: the older combination.
    features = style_features(_without(shared_models, tmp_path, "vgg19", "wct16x"), "cpu")
    assert isinstance(features, WithDeepLayers)
    assert {"relu3_1", "relu4_1", "relu5_1"} <= set(features.available_layers)
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    out = features(x, ["relu1_1", "relu4_1", "relu5_1"])
    assert out["relu1_1"].shape == (1, 64, 64, 64)
    assert out["relu4_1"].shape == (1, 512, 8, 8) and out["relu5_1"].shape == (1, 512, 4, 4)
    out["relu5_1"].sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_style_features_fall_back_to_vgg_without_the_encoders(shared_models, tmp_path):
    import shutil

    from editor.engine.models.vgg import FeatureExtractor, style_features

    only_vgg = tmp_path / "models"
    (only_vgg / "vgg19").mkdir(parents=True)
    for f in (shared_models / "vgg19").iterdir():
        shutil.copy(f, only_vgg / "vgg19" / f.name)
    features = style_features(only_vgg, "cpu")
    assert isinstance(features, FeatureExtractor)
    assert "relu4_1" not in features.available_layers


# ------------------------------------------------------------ the full network (vgg19-full)


def test_full_network_loads_with_the_deep_layers_and_only_fills_in_for_conv3(full):
    assert full.source == "vgg19-full"
    # By default it fills in only where conv1-3 (what everything was tuned on) is absent.
    assert DEFAULT_PREFER.index("vgg19-conv3") < DEFAULT_PREFER.index("vgg19-full")
    assert {"relu4_1", "relu4_2", "relu5_1", "relu5_4"} <= set(full.available_layers)
    assert full.bgr and full.value_range == 255.0  # the Caffe convention, as vgg19-conv3
    assert not any(p.requires_grad for p in full.parameters())
    assert full.net.conv5_4.weight.dtype == torch.float32  # dequantised once, at load


def test_dequantised_weights_are_within_a_percent_of_the_exact_ones(full, conv3):
    for name in conv3.net.conv_names:
        exact, quantised = getattr(conv3.net, name), getattr(full.net, name)
        relative = float((quantised.weight - exact.weight).norm() / exact.weight.norm())
        assert relative < 0.01, name
        assert torch.equal(quantised.bias, exact.bias), name
        # 256 levels per layer: the k-means table, not the exact values
        assert quantised.weight.unique().numel() <= 256


def test_full_network_agrees_with_conv3_on_a_photo(full, conv3, shared_data):
    photo = _photo(shared_data, "tubingen.jpg", (96, 128))
    with torch.no_grad():
        a = full(photo, ["relu2_1", "relu3_1"])
        b = conv3(photo, ["relu2_1", "relu3_1"])
    for name in a:
        assert float((a[name] - b[name]).norm() / b[name].norm()) < 0.03, name


def test_deep_layers_tell_photos_apart(full, shared_data):
    """relu4_1/relu5_1 Grams: a photo and its mirror image (same content, moved) are close;
    two different photos are far apart. Random or garbled weights give neither."""
    from editor.ops.style_losses import gram_matrix

    size = (128, 160)
    tubingen = _photo(shared_data, "tubingen.jpg", size)
    golden_gate = _photo(shared_data, "golden_gate.jpg", size)
    layers = ["relu4_1", "relu4_2", "relu5_1"]
    with torch.no_grad():
        feats = {k: full(x, layers) for k, x in
                 (("t", tubingen), ("m", tubingen.flip(-1)), ("g", golden_gate))}  # fmt: skip
    assert feats["t"]["relu4_1"].shape == (1, 512, 16, 20)
    assert feats["t"]["relu4_2"].shape == (1, 512, 16, 20)
    assert feats["t"]["relu5_1"].shape == (1, 512, 8, 10)
    for name in ("relu4_1", "relu5_1"):
        gram = {k: gram_matrix(f[name]) for k, f in feats.items()}

        def distance(a: str, b: str, gram=gram) -> float:
            return float((gram[a] - gram[b]).norm() / gram[b].norm())

        assert distance("g", "t") > 0.3, name
        assert distance("m", "t") < 0.5 * distance("g", "t"), name
        assert float(feats["t"][name].mean()) > 0  # ReLU outputs, not dead


def test_style_features_use_the_full_network_when_asked_first(shared_models, tmp_path):
    from editor.engine.models.vgg import (
        FULL_FIRST,
        FeatureExtractor,
        WithDeepLayers,
        style_features,
    )

    if not (shared_models / FULL).is_file():
        pytest.skip("../shared/models has no vgg19_full")
    # The encoders are there too: they are no longer needed for relu4_1/relu5_1.
    models = _without(shared_models, tmp_path, "vgg19", "vgg19_full", "wct16x")
    # By default conv1-3 (+ aux), which everything was tuned on, stays first.
    assert isinstance(style_features(models, "cpu"), WithDeepLayers)
    features = style_features(models, "cpu", prefer=FULL_FIRST)
    assert isinstance(features, FeatureExtractor)
    assert features.source == "vgg19-full"
    assert features.net.pool == "avg"
    assert {"relu4_2", "relu5_1"} <= set(features.available_layers)


def test_bf16_features_stay_close_to_float32_and_carry_gradients(full, shared_data):
    from editor.engine.models.vgg import Bf16Features

    fast = Bf16Features(full)
    assert fast.available_layers == full.available_layers
    photo = _photo(shared_data, "tubingen.jpg", (96, 128))
    layers = ["relu2_1", "relu4_2", "relu5_1"]
    with torch.no_grad():
        exact, rounded = full(photo, layers), fast(photo, layers)
    for name in layers:
        assert rounded[name].dtype == torch.float32, name  # Grams and losses stay float32
        assert float((rounded[name] - exact[name]).norm() / exact[name].norm()) < 0.05, name
    grads = []
    for net in (full, fast):
        x = photo.clone().requires_grad_(True)
        net(x, ["relu4_2"])["relu4_2"].square().mean().backward()
        grads.append(x.grad.flatten())
    assert float(grads[1].abs().max()) > 0
    assert float(torch.nn.functional.cosine_similarity(*grads, dim=0)) > 0.95


def test_bf16_only_for_the_full_network_on_a_cpu_that_has_it(shared_models, monkeypatch):
    from editor.engine.models import vgg as module

    if not (shared_models / FULL).is_file():
        pytest.skip("../shared/models has no vgg19_full")
    monkeypatch.setattr(module, "cpu_has_bf16", lambda: True)
    fast = module.style_features(shared_models, "cpu", prefer=FULL_FIRST, bf16=True)
    assert isinstance(fast, module.Bf16Features) and fast.source == "vgg19-full (bf16)"
    plain = module.style_features(shared_models, "cpu", prefer=FULL_FIRST)
    assert isinstance(plain, FeatureExtractor)  # only when asked
    old = module.style_features(shared_models, "cpu", prefer=CONV3_ONLY, bf16=True)
    assert not isinstance(old, module.Bf16Features)  # conv1-3 + aux stays as tuned
    monkeypatch.setattr(module, "cpu_has_bf16", lambda: False)
    assert isinstance(
        module.style_features(shared_models, "cpu", prefer=FULL_FIRST, bf16=True),
        FeatureExtractor,
    )


def test_bf16_can_be_turned_off(monkeypatch):
    from editor.engine.models.vgg import cpu_has_bf16

    monkeypatch.setenv("SEMEDIT_BF16", "0")
    assert cpu_has_bf16() is False
