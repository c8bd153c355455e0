"""The optimiser with the real (shared) VGG19: losses fall, regions get their own style,
texture grows from noise, a layer's content is reconstructed, and the caller stays in control."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from editor.core.imageio import load_image
from editor.engine.models.vgg import shared_features
from editor.ops import style_transfer
from editor.ops.neural_patch import PatchBank
from editor.ops.pixels import to_rgb01
from editor.ops.style_losses import content_loss, resize
from editor.ops.style_transfer import (
    LayerPlan,
    Settings,
    StyleTarget,
    layer_plan,
    style_distance,
    synthesise,
)


@pytest.fixture(scope="module")
def vgg():
    models = Path(__file__).resolve().parents[3] / "shared" / "models"
    if not models.is_dir():
        pytest.skip("../shared/models is not present")
    return shared_features(models, "cpu", pool="avg")


def _picture(shared_data, name: str, long_side: int) -> torch.Tensor:
    image = to_rgb01(load_image(shared_data / name).pixels)
    h, w = image.shape[-2:]
    return resize(image, (round(h * long_side / max(h, w)), round(w * long_side / max(h, w))))


def _run(gen):
    steps = []
    while True:
        try:
            steps.append(next(gen))
        except StopIteration as stop:
            return stop.value, steps


def test_gatys_style_loss_falls_tenfold_and_content_stays(vgg, shared_data):
    content = _picture(shared_data, "content/tubingen.jpg", 128)
    style = _picture(shared_data, "style/starry_night.jpg", 128)
    plan = layer_plan(vgg.available_layers)
    before = style_distance(vgg, content, style, plan.style)
    settings = Settings(iterations=40, coarsest=128)
    result, steps = _run(
        synthesise(vgg, vgg.available_layers, [StyleTarget(style)], settings, content=content)
    )
    assert result.shape == content.shape and 0 <= float(result.min()) <= float(result.max()) <= 1
    after = style_distance(vgg, result, style, plan.style)
    assert after < before / 10, (before, after)
    # The scene is still there: much closer to the photo's content features than the style is.
    with torch.no_grad():
        c = vgg(content, [plan.content])[plan.content]
        kept = float(content_loss(vgg(result, [plan.content])[plan.content], c))
        lost = float(
            content_loss(vgg(resize(style, content.shape[-2:]), [plan.content])[plan.content], c)
        )
    assert kept < lost / 2
    assert [s.iteration for s in steps][-1] == 40 and steps[-1].progress == pytest.approx(1.0)
    assert steps[-1].loss < steps[0].loss


def test_mrf_pulls_patches_to_their_nearest_style_patch(vgg, shared_data):
    content = _picture(shared_data, "content/golden_gate.jpg", 96)
    style = _picture(shared_data, "style/the_scream.jpg", 96)
    settings = Settings(method="mrf", style_weight=2.0, iterations=20, coarsest=128)
    result, _ = _run(
        synthesise(vgg, vgg.available_layers, [StyleTarget(style)], settings, content=content)
    )
    with torch.no_grad():
        bank = PatchBank([vgg(style, ["relu3_1"])["relu3_1"]])
        before = float(bank.loss(vgg(content, ["relu3_1"])["relu3_1"]))
        after = float(bank.loss(vgg(result, ["relu3_1"])["relu3_1"]))
    assert after < 0.7 * before, (before, after)


def test_texture_from_noise_takes_the_sample_statistics(vgg, shared_data):
    sample = _picture(shared_data, "style/starry_night.jpg", 96)
    plan = layer_plan(vgg.available_layers)
    settings = Settings(content_weight=0.0, style_weight=1.0, tv_weight=0.05, iterations=40)
    result, _ = _run(
        synthesise(vgg, vgg.available_layers, [StyleTarget(sample)], settings, size=(64, 80))
    )
    assert result.shape == (1, 3, 64, 80)
    noise = 0.5 + 0.1 * torch.randn(1, 3, 64, 80, generator=torch.Generator().manual_seed(0))
    assert (
        style_distance(vgg, result, sample, plan.style)
        < style_distance(vgg, noise, sample, plan.style) / 10
    )
    # Not a copy of the sample: a texture with its colours.
    assert torch.allclose(result.mean(dim=(2, 3)), sample.mean(dim=(2, 3)), atol=0.08)


def test_feature_inversion_reconstructs_the_content_from_noise(vgg, shared_data):
    content = _picture(shared_data, "content/hoovertowernight.jpg", 64)
    settings = Settings(iterations=30, tv_weight=0.5)
    noise = 0.5 + 0.1 * torch.randn(content.shape, generator=torch.Generator().manual_seed(0))
    result, steps = _run(
        synthesise(vgg, vgg.available_layers, [], settings, content=content, init=noise)
    )
    assert steps[-1].content < steps[0].content / 3

    def corr(a, b):
        return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])

    assert corr(result, content) > corr(noise, content) + 0.3


def test_each_region_takes_its_own_style(vgg):
    # Two flat colour "styles": red on the left half, blue on the right half, in one run.
    h, w = 64, 96
    content = torch.full((1, 3, h, w), 0.5)
    red = torch.zeros(1, 3, 48, 48)
    red[:, 0] = 0.9
    blue = torch.zeros(1, 3, 48, 48)
    blue[:, 2] = 0.9
    left = torch.zeros(1, 1, h, w)
    left[..., : w // 2] = 1
    # The masking is what is tested, so the shallow layers: at 64x96 px a relu4_1/relu5_1 cell
    # sees the whole picture, and each region's deep Gram pulls on the other half's pixels too.
    plan = layer_plan(vgg.available_layers)
    shallow = LayerPlan(
        style=("relu1_1", "relu2_1", "relu3_1"), content="relu3_2", patch=plan.patch
    )
    settings = Settings(iterations=30, style_weight=200.0, layers=shallow)
    targets = [StyleTarget(red, left), StyleTarget(blue, 1 - left)]
    result, _ = _run(synthesise(vgg, vgg.available_layers, targets, settings, content=content))
    lhs = result[..., 8:-8, 8 : w // 2 - 8].mean(dim=(2, 3))[0]
    rhs = result[..., 8:-8, w // 2 + 8 : -8].mean(dim=(2, 3))[0]
    assert lhs[0] > lhs[2] + 0.1 and rhs[2] > rhs[0] + 0.1, (lhs, rhs)


def test_finish_returns_the_current_state_at_full_size_and_cancel_stops(vgg, shared_data):
    content = _picture(shared_data, "content/tubingen.jpg", 256)
    style = _picture(shared_data, "style/starry_night.jpg", 128)
    calls = {"n": 0}

    def finish() -> bool:
        calls["n"] += 1
        return calls["n"] > 1  # after the first chunk of the coarsest level

    gen = synthesise(
        vgg,
        vgg.available_layers,
        [StyleTarget(style)],
        Settings(iterations=100),
        content=content,
        finish=finish,
    )
    result, steps = _run(gen)
    assert len(steps) == 1 and steps[0].level == 0
    assert result.shape == content.shape

    class Stop(Exception):
        pass

    def cancel() -> None:
        raise Stop

    with pytest.raises(Stop):
        _run(
            synthesise(
                vgg,
                vgg.available_layers,
                [StyleTarget(style)],
                Settings(),
                content=content,
                cancel=cancel,
            )
        )


def test_bad_requests_fail_clearly(vgg):
    with pytest.raises(ValueError, match="method"):
        next(
            synthesise(
                vgg,
                vgg.available_layers,
                [],
                Settings(method="nope"),
                content=torch.rand(1, 3, 32, 32),
            )
        )
    with pytest.raises(ValueError, match="size"):
        next(
            synthesise(
                vgg, vgg.available_layers, [StyleTarget(torch.rand(1, 3, 32, 32))], Settings()
            )
        )


def test_with_detail_keeps_the_coarse_change_and_the_photos_own_detail():
    from editor.ops.style_transfer import with_detail

    g = torch.Generator().manual_seed(0)
    content = 0.2 + 0.6 * torch.rand(1, 3, 64, 64, generator=g)  # no clamping below
    coarse = resize(content, (32, 32))
    # An untouched coarse level gives the photo back, detail and all; a plain enlargement
    # loses it.
    assert torch.allclose(with_detail(coarse, content, (64, 64)), content, atol=1e-5)
    assert float((resize(coarse, (64, 64)) - content).abs().mean()) > 0.05
    # What the coarse level changed arrives at full size, on top of the photo's detail.
    changed = coarse.clone()
    changed[..., :, :16] += 0.1
    out = with_detail(changed, content, (64, 64))
    assert torch.allclose(out - content, resize(changed - coarse, (64, 64)), atol=1e-5)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_a_stalled_line_search_restarts_lbfgs_and_a_second_stall_ends_the_level(
    vgg, shared_data, monkeypatch
):
    """When L-BFGS's line search finds no lower point (bf16 rounding made its direction wrong:
    a 2-thread run on a training photo stayed at its fine level's start), the level goes on
    with a fresh L-BFGS; a level that stalls twice in a row ends there instead of spending its
    iterations on nothing."""
    content = _picture(shared_data, "content/tubingen.jpg", 96)
    style = _picture(shared_data, "style/starry_night.jpg", 96)
    real_step = torch.optim.LBFGS.step

    def run(stalls_wanted: int):
        calls = {"n": 0}

        def step(self, closure):
            calls["n"] += 1
            if calls["n"] <= stalls_wanted:  # the first chunks: nothing moves
                return closure()
            return real_step(self, closure)

        monkeypatch.setattr(torch.optim.LBFGS, "step", step)
        settings = Settings(iterations=12, coarsest=96, preview_every=1, preview_seconds=0.0)
        return _run(synthesise(vgg, vgg.available_layers, [StyleTarget(style)], settings,
                               content=content))  # fmt: skip

    plan = layer_plan(vgg.available_layers)
    before = style_distance(vgg, content, style, plan.style)
    result, steps = run(1)
    assert style_distance(vgg, result, style, plan.style) < before / 2  # it went on
    assert len(steps) > 5 and steps[-1].iteration == 12
    result, steps = run(2)
    assert len(steps) == 2 and torch.equal(result, content.clamp(0, 1))  # the level ended


def test_each_finer_level_starts_with_the_coarser_levels_step_size(vgg, shared_data, monkeypatch):
    """A fresh L-BFGS's first step is lr / |g|_1 times the gradient: far too short on a large
    image, and its line search spent 5-7 forward and backward passes growing it on every
    level. Carrying the coarser level's curvature (scaled by the pixel count) makes the first
    iteration of a finer level cost what any other does, with a loss as low."""
    content = _picture(shared_data, "content/tubingen.jpg", 128)
    style = _picture(shared_data, "style/starry_night.jpg", 128)
    settings = Settings(iterations=24, coarsest=64, level_ratio=1.0)

    def run():
        evaluations = []
        result, steps = _run(
            synthesise(
                vgg,
                vgg.available_layers,
                [StyleTarget(style)],
                settings,
                content=content,
                on_evaluation=evaluations.append,
            )  # fmt: skip
        )
        first = [e for e in evaluations if e.level == 1 and e.iteration == 1 and e.evaluation]
        return len(first), steps[-1].loss

    carried, carried_loss = run()
    monkeypatch.setattr(style_transfer._Curvature, "of", staticmethod(lambda *_: None))
    fresh, fresh_loss = run()
    assert carried <= 2 < fresh, (carried, fresh)
    assert carried_loss < fresh_loss * 1.05, (carried_loss, fresh_loss)
