"""Style losses, colour control and the pyramid: exact small cases."""

from __future__ import annotations

import pytest
import torch

from editor.ops.style_losses import (
    content_loss,
    gram_matrix,
    keep_luminance_only,
    mask_at,
    match_colour,
    pyramid_sizes,
    rgb_to_yiq,
    style_loss,
    tv_loss,
)
from editor.ops.style_transfer import layer_plan, split_iterations


def test_gram_is_channel_correlation_per_position():
    feat = torch.randn(2, 4, 5, 6)
    flat = feat.reshape(2, 4, 30)
    expected = torch.einsum("bcn,bdn->bcd", flat, flat) / 30
    assert torch.allclose(gram_matrix(feat), expected, atol=1e-5)


def test_masked_gram_only_sees_the_region():
    feat = torch.randn(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :3] = 1
    # Changing what lies outside the mask does not change the masked Gram matrix...
    other = feat.clone()
    other[..., :, 3:] = torch.randn(1, 3, 8, 5) * 10
    assert torch.allclose(gram_matrix(feat, mask), gram_matrix(other, mask), atol=1e-5)
    # ...and it equals the plain Gram matrix of the region's pixels alone.
    assert torch.allclose(gram_matrix(feat, mask), gram_matrix(feat[..., :3]), atol=1e-5)


def test_mask_at_keeps_the_covered_share():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :] = 1
    small = mask_at(mask, (2, 2))
    assert torch.allclose(small, torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]]))
    assert torch.allclose(mask_at(mask, (4, 4)).mean(), mask.mean())


def test_style_loss_is_zero_for_the_style_and_relative_otherwise():
    feats = {"a": torch.rand(1, 8, 16, 16), "b": torch.rand(1, 16, 8, 8)}
    targets = {k: gram_matrix(v) for k, v in feats.items()}
    assert float(style_loss(feats, targets)) < 1e-10
    zeros = {k: torch.zeros_like(v) for k, v in feats.items()}
    assert float(style_loss(zeros, targets)) == pytest.approx(1.0)  # nothing of it matched


def test_content_loss_masked_ignores_outside():
    target = torch.rand(1, 4, 8, 8) + 0.5
    feat = target.clone()
    feat[..., 4:, :] += 5.0
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :] = 1
    assert float(content_loss(feat, target, mask)) < 1e-10
    assert float(content_loss(feat, target)) > 1.0


def test_tv_is_zero_for_flat_and_grows_with_noise():
    assert float(tv_loss(torch.full((1, 3, 8, 8), 0.3))) == 0.0
    assert float(tv_loss(torch.rand(1, 3, 8, 8))) > 0.05


def test_match_colour_gives_the_reference_mean_and_covariance():
    gen = torch.Generator().manual_seed(0)
    source = torch.rand(1, 3, 32, 32, generator=gen) * torch.tensor([0.3, 0.5, 0.2]).view(
        1, 3, 1, 1
    )
    mix = torch.tensor([[0.5, 0.2, 0.1], [0.1, 0.3, 0.0], [0.0, 0.1, 0.2]])
    reference = 0.3 + torch.einsum("ij,bjhw->bihw", mix, torch.rand(1, 3, 40, 24, generator=gen))
    out = match_colour(source, reference)
    o, r = out.reshape(3, -1), reference.reshape(3, -1)
    assert torch.allclose(o.mean(1), r.mean(1), atol=1e-3)
    assert torch.allclose(torch.cov(o), torch.cov(r), atol=2e-3)


def test_keep_luminance_only_takes_luminance_from_result_and_colour_from_content():
    result = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    content = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    out = keep_luminance_only(result, content)
    yiq_out, yiq_res, yiq_con = rgb_to_yiq(out), rgb_to_yiq(result), rgb_to_yiq(content)
    shift = yiq_con[:, 0].mean() - yiq_res[:, 0].mean()  # brightness follows the content
    assert torch.allclose(yiq_out[:, 0], yiq_res[:, 0] + shift, atol=0.02)
    assert torch.allclose(yiq_out[:, 1:], yiq_con[:, 1:], atol=0.02)


def test_pyramid_halves_down_to_the_coarsest_level():
    assert pyramid_sizes(384, 512, coarsest=128) == [(96, 128), (192, 256), (384, 512)]
    assert pyramid_sizes(90, 120, coarsest=128) == [(90, 120)]


def test_split_iterations_puts_most_work_on_cheap_levels():
    counts = split_iterations(150, 3)
    assert sum(counts) == 150
    assert counts[0] > counts[1] > counts[2] >= 1
    assert split_iterations(2, 3) == [1, 1, 1]  # never a level without a step


def test_layer_plan_follows_the_weights_available():
    shallow = [f"relu{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 4)) for i in range(1, n + 1)]
    plan = layer_plan(shallow)
    assert plan.style == ("relu1_1", "relu2_1", "relu3_1") and plan.content == "relu3_2"
    full = shallow + ["relu4_1", "relu4_2", "relu5_1"]
    plan = layer_plan(full)
    assert plan.style[-1] == "relu5_1" and plan.content == "relu4_2"
    assert plan.patch == ("relu3_1", "relu4_1")
    with pytest.raises(ValueError):
        layer_plan(["relu1_1"])
