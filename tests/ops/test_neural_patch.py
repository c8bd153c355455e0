"""Neural-patch refinement (Yang et al. 2017) and its CNNMRF patch loss (Li & Wand 2016)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from editor.ops.fill_metrics import sharpness_ratio
from editor.ops.neural_patch import nearest_patch_indices, nearest_patch_loss, refine_hole


@pytest.fixture
def vgg(shared_models):
    """The real FeatureExtractor from ../shared/models (skips when the models are absent)."""
    from editor.engine.models.vgg import FeatureExtractor
    from editor.engine.store import ModelStore

    return FeatureExtractor.from_store(ModelStore(models_dir=shared_models), "cpu")


def _shifted_pair(seed: int = 0):
    """src (1, 8, 12, 12) random; gen = src shifted by (2, 3), 8x8, every patch in the source."""
    src = torch.randn(1, 8, 12, 12, generator=torch.Generator().manual_seed(seed))
    gen = src[..., 2:10, 3:11].clone()
    return gen, src


def test_loss_is_zero_for_shifted_copy_and_positive_otherwise():
    gen, src = _shifted_pair()
    ones_gen, ones_src = torch.ones(1, 1, 8, 8), torch.ones(1, 1, 12, 12)
    assert float(nearest_patch_loss(gen, src, ones_gen, ones_src)) < 1e-10
    other = torch.randn(1, 8, 8, 8, generator=torch.Generator().manual_seed(1))
    assert float(nearest_patch_loss(other, src, ones_gen, ones_src)) > 0.1


def test_matching_picks_the_shifted_patch_and_respects_the_valid_region():
    gen, src = _shifted_pair()
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1  # hole centres: patch corners (1..4, 1..4) of a 6x6 corner grid
    gen_pos, src_pos = nearest_patch_indices(gen, src, mask, torch.ones(1, 1, 12, 12))
    gy, gx = gen_pos // 6, gen_pos % 6
    assert sorted(zip(gy.tolist(), gx.tolist(), strict=True)) == [
        (y, x) for y in range(1, 5) for x in range(1, 5)
    ]
    assert torch.equal(src_pos, (gy + 2) * 10 + (gx + 3))  # 10x10 corner grid of the source

    valid = torch.ones(1, 1, 12, 12)
    valid[..., :, :7] = 0  # only source patches with all columns >= 7 may be used
    _, src_pos = nearest_patch_indices(gen, src, mask, valid)
    assert bool((src_pos % 10 >= 7).all())
    loss = nearest_patch_loss(gen, src, mask, valid)
    assert float(loss) > 0.1  # the true matches are excluded now


def test_loss_gradient_pulls_towards_the_match():
    gen, src = _shifted_pair()
    noisy = (gen + 0.3 * torch.randn_like(gen)).requires_grad_(True)
    ones = torch.ones(1, 1, 8, 8)
    loss = nearest_patch_loss(noisy, src, ones, torch.ones(1, 1, 12, 12))
    loss.backward()
    assert noisy.grad is not None and float(noisy.grad.abs().sum()) > 0


def _texture_case(size: int = 96, hole_size: int = 32):
    """A fine random texture with a centred square hole filled by Telea (the blurry stage 1)."""
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, (size, size, 3)).astype(np.float32)
    texture = np.clip(cv2.GaussianBlur(noise, (0, 0), 1.0) * 2.5 - 190, 0, 255).astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    a = (size - hole_size) // 2
    mask[a : a + hole_size, a : a + hole_size] = 255
    filled = cv2.inpaint(texture, mask, 5, cv2.INPAINT_TELEA)
    image = torch.from_numpy(filled).permute(2, 0, 1)[None].float() / 255
    hole = torch.from_numpy(mask > 0)[None, None].float()
    return image, hole, mask


def _texture_loss(vgg, image, hole, layer: str = "relu2_1") -> float:
    """The CNNMRF loss of the hole against the known region, at one layer."""
    import torch.nn.functional as F

    with torch.no_grad():
        feat = vgg(image, [layer])[layer]
    cover = F.interpolate(hole, size=feat.shape[-2:], mode="area")
    known = (F.max_pool2d((cover > 0).float(), 3, stride=1, padding=1) == 0).float()
    return float(nearest_patch_loss(feat, feat, (cover > 0).float(), known))


def test_refine_keeps_known_pixels_and_sharpens_the_hole(vgg):
    torch.manual_seed(0)
    image, hole, mask = _texture_case()
    previews = list(refine_hole(image, hole, vgg, iterations_per_scale=40))
    progress = [p for p, _ in previews]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(previews) > 3
    result = previews[-1][1]
    assert result.shape == image.shape and result.min() >= 0 and result.max() <= 1
    known = hole.expand_as(image) == 0
    assert torch.equal(result[known], image[known])  # bit-identical, not approximately
    for _, preview in previews:
        assert torch.equal(preview[known], image[known])

    before, after = sharpness_ratio(image, mask), sharpness_ratio(result, mask)
    print(f"sharpness {before:.3f} -> {after:.3f}")
    assert before < 0.35 and after > 0.5, (before, after)
    losses = [_texture_loss(vgg, img, hole) for _, img in previews]
    print(
        f"texture loss {_texture_loss(vgg, image, hole):.3f} -> {losses[0]:.3f} .. {losses[-1]:.3f}"
    )
    assert losses[-1] < 0.75 * _texture_loss(vgg, image, hole)
    assert losses[-1] < losses[0]


def test_content_target_steers_the_hole_but_not_the_known_pixels(vgg):
    image, hole, _ = _texture_case(64, 20)
    grey = torch.full_like(image, 0.5)
    kwargs = {"iterations_per_scale": 15, "content_weight": 50.0, "content_pool": 2}
    *_, (_, plain) = refine_hole(image, hole, vgg, **kwargs)
    *_, (_, steered) = refine_hole(image, hole, vgg, content01=grey, **kwargs)
    known = hole.expand_as(image) == 0
    assert torch.equal(steered[known], image[known])
    inside = hole.expand_as(image) > 0
    assert (steered[inside] - 0.5).abs().mean() < (plain[inside] - 0.5).abs().mean()
    with pytest.raises(ValueError, match="content01"):
        next(refine_hole(image, hole, vgg, content01=grey[..., :-1]))


def test_source_band_keeps_far_colours_out_of_the_hole(vgg):
    """Grey texture round the hole, a red block far away: with a band no red is copied in."""
    image, hole, _ = _texture_case(96, 24)
    image = image.clone()
    image[..., :, :16] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    kwargs = {"iterations_per_scale": 10, "scales": (1.0,)}
    *_, (_, banded) = refine_hole(image, hole, vgg, source_band=12, **kwargs)
    inside = hole[0, 0] > 0
    redness = (banded[0, 0] - banded[0, 1])[inside]
    assert float(redness.mean()) < 0.05
    known = hole.expand_as(image) == 0
    assert torch.equal(banded[known], image[known])


def test_finest_scale_options_reach_only_the_finest_scale(vgg):
    """Per-scale content pools, extra finest-scale layers and a finest-scale detail layer."""
    image, hole, mask = _texture_case(96, 24)
    asked: list[tuple[str, ...]] = []

    def recording(x, layers):
        asked.append(tuple(layers))
        return vgg(x, layers)

    detail = 0.2 * torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    *_, (_, result) = refine_hole(
        image,
        hole,
        recording,
        scales=(0.5, 1.0),
        iterations_per_scale=2,
        content_pool=(2, 8),
        finest_layers=("relu1_1",),
        finest_detail01=detail,
    )
    assert any("relu1_1" in layers for layers in asked)
    assert "relu1_1" not in asked[0]  # the coarse scale's sources: base layers only
    known = hole.expand_as(image) == 0
    assert torch.equal(result[known], image[known])
    *_, (_, plain) = refine_hole(image, hole, vgg, scales=(0.5, 1.0), iterations_per_scale=2)
    assert sharpness_ratio(result, mask) > sharpness_ratio(plain, mask)


def test_refine_returns_the_result_as_stop_iteration_value(vgg):
    image, hole, _ = _texture_case(64, 20)
    gen = refine_hole(image, hole, vgg, iterations_per_scale=3, preview_every=100)
    last = None
    with pytest.raises(StopIteration) as stop:
        while True:
            last = next(gen)
    assert last is not None and last[0] == 1.0
    assert torch.equal(stop.value.value, last[1])


def test_cancel_raises_out(vgg):
    image, hole, _ = _texture_case(64, 20)
    calls = []

    class Cancelled(Exception):
        pass

    def cancel() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise Cancelled

    with pytest.raises(Cancelled):
        for _ in refine_hole(image, hole, vgg, iterations_per_scale=50, cancel=cancel):
            pass
    assert len(calls) == 3


def test_no_hole_returns_the_input_unchanged():
    image = torch.rand(1, 3, 16, 16)

    def no_features(x, layers):
        raise AssertionError("features must not run without a hole")

    out = list(refine_hole(image, torch.zeros(1, 1, 16, 16), no_features))
    assert len(out) == 1 and out[0][0] == 1.0 and torch.equal(out[0][1], image)


def test_chroma_tv_removes_colour_speckle_but_keeps_luminance_detail(vgg):
    # A grey texture: any colour in the refined hole is speckle from the VGG gradients.
    image, hole, mask = _texture_case(64, 24)
    grey = image.mean(dim=1, keepdim=True).expand_as(image).contiguous()

    def refined(weight: float) -> torch.Tensor:
        torch.manual_seed(0)
        run = refine_hole(grey, hole, vgg, iterations_per_scale=30, chroma_tv_weight=weight)
        return list(run)[-1][1]

    def colour(x: torch.Tensor) -> float:
        inside = hole[0, 0] > 0
        return float((x - x.mean(dim=1, keepdim=True))[0][:, inside].abs().mean())

    plain, clean = refined(0.0), refined(10.0)
    assert colour(clean) < 0.5 * colour(plain), (colour(clean), colour(plain))
    assert sharpness_ratio(clean, mask) > 0.8 * sharpness_ratio(plain, mask)


def test_gathering_the_kept_patches_equals_the_full_unfold():
    # _sources gathers only the source patches it keeps instead of unfolding the whole map
    # (at a 1 MP crop's relu2_1 the full unfold is ~600 MB): the same values, the same layout.
    from editor.ops.neural_patch import _patches, _patches_at

    feat = torch.randn(1, 6, 19, 23, generator=torch.Generator().manual_seed(0))
    keep = torch.rand(17 * 21, generator=torch.Generator().manual_seed(1)) > 0.7
    assert torch.equal(_patches_at(feat, 3, keep), _patches(feat, 3)[keep])
    assert _patches_at(feat, 3, torch.zeros(17 * 21, dtype=torch.bool)).shape == (0, 6 * 9)
