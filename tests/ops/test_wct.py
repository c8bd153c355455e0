"""Universal style transfer (WCT, Li et al. 2017) on the 16x-compressed VGG19 autoencoders, and
the aux-head deep features (relu4_1 / relu5_1 stand-ins) for perceptual losses."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import pytest
import torch

from editor.ops.style_losses import gram_matrix
from editor.ops.wct import (
    CompressedDecoder,
    CompressedEncoder,
    DeepFeatures,
    prepare_style,
    preview_style_scale,
    style_stats,
    stylise_wct,
    stylise_wct_preview,
    whiten_colour,
    whiten_colour_regions,
)

CHANNELS = {1: 24, 2: 32, 3: 64, 4: 128, 5: 128}


def _state(models: Path, name: str) -> dict[str, torch.Tensor]:
    """The MANIFEST's loading recipe: {"epoch", "model"} with weights_only=True."""
    obj = torch.load(models / "wct16x" / f"{name}.pth", map_location="cpu", weights_only=True)
    assert set(obj) == {"epoch", "model"}
    return obj["model"]


@functools.cache
def _nets(models: Path):
    enc = {k: CompressedEncoder(_state(models, f"encoder{k}")) for k in range(1, 6)}
    dec = {k: CompressedDecoder(_state(models, f"decoder{k}")) for k in range(1, 6)}
    return enc, dec


@pytest.fixture
def nets(shared_models):
    return _nets(shared_models)


def _image(path: Path, long_side: int) -> torch.Tensor:
    """(1, 3, h, w) RGB 0..1, area-resized to `long_side`, cropped to multiples of 16."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    h, w = bgr.shape[:2]
    s = long_side / max(h, w)
    bgr = cv2.resize(bgr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    h, w = (bgr.shape[0] // 16) * 16, (bgr.shape[1] // 16) * 16
    rgb = torch.from_numpy(bgr[:h, :w, ::-1].copy()).permute(2, 0, 1)[None]
    return rgb.float() / 255.0


@pytest.fixture
def tubingen(shared_data):
    return _image(shared_data / "content" / "tubingen.jpg", 256)


@pytest.fixture
def starry(shared_data):
    return _image(shared_data / "style" / "starry_night.jpg", 256)


def _cov(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    f = feat.double()
    mean = f.mean(1, keepdim=True)
    c = f - mean
    return mean, c @ c.t() / (f.shape[1] - 1)


# ------------------------------------------------------------------------------------- networks


def test_all_ten_files_load_strictly_with_the_manifest_layout(nets, shared_models):
    enc, dec = nets
    for k in range(1, 6):
        assert enc[k].level == k and dec[k].level == k
        assert enc[k].channels == CHANNELS[k] == dec[k].channels
        assert enc[k].aux_levels == tuple(range(1, k + 1))
        assert not any(p.requires_grad for p in enc[k].parameters())
    # encoder5's conv0 turns RGB 0..1 into BGR 0..255 minus the Caffe mean
    w0 = enc[5].conv0.weight.view(3, 3)
    assert torch.allclose(w0.abs().argmax(1), torch.tensor([2, 1, 0]))
    assert 250 < float(w0.abs().max()) < 260
    # strict: an extra or a missing key is refused
    state = _state(shared_models, "encoder2")
    with pytest.raises(ValueError, match="encoder2"):
        CompressedEncoder({**state, "conv99.weight": torch.zeros(1)})
    with pytest.raises(ValueError):
        CompressedEncoder({k: v for k, v in state.items() if not k.startswith("conv12")})
    with pytest.raises(ValueError, match="decoder"):
        CompressedDecoder(dict(reversed(list(_state(shared_models, "decoder2").items()))))


def test_shapes_and_reconstruction(nets, tubingen):
    enc, dec = nets
    x = tubingen[..., :64, :96]
    with torch.no_grad():
        for k in range(1, 6):
            f = enc[k](x)
            assert f.shape == (1, CHANNELS[k], 64 // 2 ** (k - 1), 96 // 2 ** (k - 1))
            assert float(f.min()) >= 0
            y = dec[k](f)
            assert y.shape == x.shape
        err1 = float((dec[1](enc[1](x)).clamp(0, 1) - x).abs().mean())
        err5 = float((dec[5](enc[5](x)).clamp(0, 1) - x).abs().mean())
    assert err1 < 0.02 and err5 < 0.12


# ------------------------------------------------------------------------------------ transform


def test_whiten_colour_gives_the_style_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    mix_c, mix_s = torch.randn(8, 8, generator=g), torch.randn(8, 8, generator=g)
    content = mix_c @ torch.rand(8, 600, generator=g) * 3
    style = mix_s @ torch.randn(8, 900, generator=g) + torch.arange(8.0)[:, None]
    out = whiten_colour(content, style, alpha=1.0)
    mean_o, cov_o = _cov(out)
    mean_s, cov_s = _cov(style)
    assert torch.allclose(mean_o, mean_s, atol=1e-4)
    assert torch.allclose(cov_o, cov_s, atol=1e-3 * float(cov_s.abs().max()))
    assert torch.equal(whiten_colour(content, style, alpha=0.0), content)
    half = whiten_colour(content, style_stats(style), alpha=0.5)
    assert torch.allclose(half, 0.5 * out + 0.5 * content, atol=1e-4)


def test_whiten_colour_on_real_features_matches_the_style_covariance(nets, tubingen, starry):
    enc, _ = nets
    with torch.no_grad():
        fc = enc[4](tubingen)[0].flatten(1)
        fs = enc[4](starry)[0].flatten(1)
    out = whiten_colour(fc, fs, alpha=1.0)
    mean_o, cov_o = _cov(out)
    mean_s, cov_s = _cov(fs)
    assert float((mean_o - mean_s).abs().max()) < 1e-3 * float(mean_s.abs().max())
    assert float((cov_o - cov_s).norm() / cov_s.norm()) < 1e-3


def test_regions_keep_each_regions_statistics():
    g = torch.Generator().manual_seed(1)
    content = torch.randn(6, 6, generator=g) @ torch.rand(6, 1000, generator=g)
    style_a = torch.randn(6, 6, generator=g) @ torch.randn(6, 800, generator=g) + 5
    style_b = torch.randn(6, 6, generator=g) @ torch.randn(6, 800, generator=g) - 3
    idx = torch.arange(1000)
    mask_a, mask_b = idx < 400, (idx >= 400) & (idx < 800)
    out = whiten_colour_regions(content, [style_a, style_b], [mask_a, mask_b], alpha=1.0)
    for mask, style in ((mask_a, style_a), (mask_b, style_b)):
        mean_o, cov_o = _cov(out[:, mask])
        mean_s, cov_s = _cov(style)
        assert torch.allclose(mean_o, mean_s, atol=1e-3)
        assert float((cov_o - cov_s).norm() / cov_s.norm()) < 1e-3
    assert torch.equal(out[:, 800:], content[:, 800:])  # in no region: untouched
    # later regions paint over earlier ones; None is everywhere
    over = whiten_colour_regions(content, [style_b, style_a], [None, mask_a])
    assert torch.allclose(over[:, mask_a], out[:, mask_a], atol=1e-4)
    assert torch.allclose(_cov(over[:, ~mask_a])[0], _cov(style_b)[0], atol=1e-3)


# ------------------------------------------------------------------------------------- pipeline


def test_alpha_zero_reproduces_the_decoders_reconstruction(nets, tubingen):
    enc, dec = nets
    style = torch.rand(1, 3, 64, 64)
    out = stylise_wct(tubingen, [(style, None)], enc, dec, alpha=0.0, levels=(5,))
    with torch.no_grad():
        ref = dec[5](enc[5](tubingen)).clamp(0, 1)
        assert torch.allclose(out, ref, atol=1e-5)
        chain = tubingen
        for k in (5, 4, 3, 2, 1):
            chain = dec[k](enc[k](chain))
    full = stylise_wct(tubingen, [(style, None)], enc, dec, alpha=0.0)
    assert torch.allclose(full, chain.clamp(0, 1), atol=1e-5)


def _colour_stats(img: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and std of an RGB image: (6,)."""
    f = img[0].flatten(1)
    return torch.cat([f.mean(1), f.std(1)])


def test_tubingen_takes_on_the_starry_nights_colours(nets, tubingen, starry):
    enc, dec = nets
    out = stylise_wct(tubingen, [(starry, None)], enc, dec, alpha=0.8)
    assert out.shape == tubingen.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    before = float((_colour_stats(tubingen) - _colour_stats(starry)).norm())
    after = float((_colour_stats(out) - _colour_stats(starry)).norm())
    assert after < 0.5 * before
    # the scene is still there: the large-scale light and dark follow the content's
    assert _low_frequency_correlation(out, tubingen) > 0.3


def _low_frequency_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Correlation of the 8x8-block mean luminances of two (1, 3, H, W) images."""

    def lo(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(t.mean(1, keepdim=True), 8).flatten()

    return float(torch.corrcoef(torch.stack([lo(a), lo(b)]))[0, 1])


def test_prepared_style_gives_the_same_result_and_preview_is_cheap(nets, tubingen, starry):
    enc, dec = nets
    prepared = prepare_style(starry, enc)
    a = stylise_wct(tubingen, [(starry, None)], enc, dec, alpha=0.7)
    b = stylise_wct(tubingen, [(prepared, None)], enc, dec, alpha=0.7)
    assert torch.allclose(a, b, atol=1e-5)
    small = prepare_style(starry, enc, scale=preview_style_scale(tubingen.shape[-2:], 128))
    preview = stylise_wct_preview(tubingen, [(small, None)], enc, dec, 0.7, max_size=128)
    assert preview.shape == tubingen.shape
    # the same colours (less detail): per-channel means and spreads within a few percent
    assert float((_colour_stats(preview) - _colour_stats(a)).abs().max()) < 0.05
    assert _low_frequency_correlation(preview, a) > 0.3
    with pytest.raises(ValueError, match="luminance"):
        stylise_wct(tubingen, [(prepared, None)], enc, dec, keep_colors=True)


@pytest.mark.parametrize("mode", [True, "match"])
def test_keep_colors_keeps_the_content_mean_colour(nets, tubingen, starry, mode):
    enc, dec = nets
    plain = stylise_wct(tubingen, [(starry, None)], enc, dec, alpha=1.0, levels=(4, 3, 1))
    kept = stylise_wct(
        tubingen, [(starry, None)], enc, dec, alpha=1.0, levels=(4, 3, 1), keep_colors=mode
    )
    mean = lambda t: t.mean(dim=(0, 2, 3))  # noqa: E731
    assert float((mean(kept) - mean(tubingen)).abs().max()) < 0.02
    assert float((mean(plain) - mean(tubingen)).abs().max()) > 0.05
    assert float((kept - tubingen).abs().mean()) > 0.03  # and it is stylised


def test_a_masked_style_stays_in_its_region(nets, tubingen, starry):
    enc, dec = nets
    _, _, h, w = tubingen.shape
    mask = torch.zeros(h, w)
    mask[:, : w // 2] = 1
    out = stylise_wct(tubingen, [(starry, mask)], enc, dec, alpha=1.0, levels=(4, 2))
    recon = stylise_wct(tubingen, [(starry, None)], enc, dec, alpha=0.0, levels=(4, 2))
    left = (out - recon)[..., : w // 2 - 24].abs().mean()
    right = (out - recon)[..., w // 2 + 24 :].abs().mean()
    assert float(left) > 0.1 and float(right) < 0.01


# ---------------------------------------------------------------------------------- deep layers


def test_deep_features_shapes_non_negative_and_differentiable(nets):
    enc, _ = nets
    deep = DeepFeatures(enc)
    assert deep.available_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    x = torch.rand(2, 3, 64, 80, requires_grad=True)
    out = deep(x, ["relu4_1", "relu5_1"])
    assert out["relu4_1"].shape == (2, 512, 8, 10)
    assert out["relu5_1"].shape == (2, 512, 4, 5)
    assert all(float(v.detach().min()) >= 0 for v in out.values())
    (out["relu4_1"].mean() + out["relu5_1"].mean()).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    enc4 = DeepFeatures(enc, {"relu4_1": 4})(x.detach(), ["relu4_1"])["relu4_1"]
    assert enc4.shape == (2, 512, 8, 10)
    with pytest.raises(KeyError, match="relu4_2"):
        deep(x, ["relu4_2"])


def test_aux_relu3_1_tracks_the_real_vgg_relu3_1(nets, shared_models, tubingen):
    """The aux heads approximate the *normalised* VGG19, so compare per channel up to a scale."""
    from editor.engine.models.vgg import FeatureExtractor
    from editor.engine.store import ModelStore

    vgg = FeatureExtractor.from_store(ModelStore(models_dir=shared_models))
    enc, _ = nets
    x = tubingen[..., :128, :128]
    with torch.no_grad():
        ref = vgg(x, ["relu3_1"])["relu3_1"][0, :, 2:-2, 2:-2].flatten(1)
        aux = DeepFeatures(enc)(x, ["relu3_1"])["relu3_1"][0, :, 2:-2, 2:-2].flatten(1)
    ref, aux = ref - ref.mean(1, keepdim=True), aux - aux.mean(1, keepdim=True)
    live = ref.norm(dim=1) > 1e-3
    corr = (ref * aux).sum(1) / (ref.norm(dim=1) * aux.norm(dim=1) + 1e-8)
    assert float(corr[live].median()) > 0.7


@pytest.mark.parametrize(("layer", "misses"), [("relu4_1", 0), ("relu5_1", 1)])
def test_deep_grams_of_one_painting_are_closer_than_of_two(nets, shared_data, layer, misses):
    """Left and right halves (no overlap) of five paintings: a left half's Gram matrix is nearer
    its own right half than any other painting's (relu5_1, 8x8 features per half, is coarser
    and more semantic: one near-tie allowed; measured 0.301 vs 0.299 for starry_night)."""
    enc, _ = nets
    deep = DeepFeatures(enc)
    names = ("starry_night", "woman-with-hat-matisse", "picasso_selfport1907", "the_scream")
    names += ("shipwreck",)
    grams = {}
    with torch.no_grad():
        for name in names:
            img = _image(shared_data / "style" / f"{name}.jpg", 256)
            w = img.shape[-1]
            for i, half in enumerate((img[..., : w // 2], img[..., w // 2 :])):
                grams[name, i] = gram_matrix(deep(half, [layer])[layer])[0]

    def dist(a, b):
        return float((grams[a] - grams[b]).norm() / (grams[a].norm() + grams[b].norm()))

    same = [dist((a, 0), (a, 1)) for a in names]
    other = [dist((a, 0), (b, 1)) for a in names for b in names if b != a]
    wrong = [
        a
        for a in names
        if any(dist((a, 0), (a, 1)) >= dist((a, 0), (b, 1)) for b in names if b != a)
    ]
    assert len(wrong) <= misses, wrong
    assert sum(same) / len(same) < 0.75 * sum(other) / len(other)


def test_the_one_thread_eigh_guard_restores_the_thread_count():
    g = torch.Generator().manual_seed(2)
    content, style = torch.rand(16, 200, generator=g), torch.rand(16, 300, generator=g)
    torch.set_num_threads(2)  # the conftest fixture puts 1 back afterwards
    out = whiten_colour(content, style)
    assert torch.get_num_threads() == 2
    assert torch.allclose(_cov(out)[1], _cov(style)[1], atol=1e-4)
