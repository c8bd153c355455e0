"""Upscale edit: seamless tiles, colour layouts, live viewport priority, cancel, previews,
memory spilling, and which model serves a scale."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from editor.core.geometry import Rect
from editor.engine.edits import upscale
from editor.engine.edits.upscale import UpscaleRequest
from editor.engine.jobs import JobCancelled, RunContext, Update, drive
from editor.engine.models.upscalers import (
    SHIPPED_ID,
    SRModelChoice,
    choose_upscaler,
    load_upscaler,
    shipped_path,
)
from editor.engine.store import ModelError, ModelStore
from editor.ops.sr_net import build
from editor.ops.tiling import Tile


def fake_choice(scale: int = 2) -> SRModelChoice:
    return SRModelChoice("fake", "Fake", "residual", scale, Path("fake.safetensors"), "MIT")


def random_residual(scale: int = 2) -> torch.nn.Module:
    """A tiny ResidualSR with a random (non-zero) tail, so it differs from bicubic."""
    torch.manual_seed(0)
    net = build(scale, channels=8, depth=2)
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    return net.eval()


class Recording:
    """A fake upscaler: bicubic via torch, recording the tiles it saw; `hook(call_no)` runs
    after each call (used to move the viewport or cancel mid-run)."""

    def __init__(self, scale: int = 2, hook=None) -> None:
        self.scale, self.hook, self.calls = scale, hook, 0
        self.overlap = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.hook is not None:
            self.hook(self.calls)
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)


def texture(h: int = 70, w: int = 90, c: int = 3, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([np.sin(xx / 5.0 + k) * np.cos(yy / 7.0 - k) for k in range(c)], axis=-1)
    noisy = 0.5 + 0.35 * base + rng.normal(0, 0.05, base.shape)
    top = np.iinfo(dtype).max
    return np.clip(noisy * top, 0, top).round().astype(dtype)


def run_all(request: UpscaleRequest, upscaler, ctx: RunContext | None = None):
    updates: list[Update] = []
    ctx = ctx or RunContext()
    if upscaler is not None:
        ctx.models.provided["upscaler"] = upscaler
    result = drive(upscale.run(request, ctx), updates.append)
    return result, updates


# ------------------------------------------------------------------------------------- seams


@pytest.mark.parametrize("scale", [2, 3])
def test_tiled_equals_untiled(scale):
    net = random_residual(scale)
    image = texture()
    whole, _ = run_all(UpscaleRequest(image, scale, fake_choice(scale), tile=1000), net)
    tiled, _ = run_all(
        UpscaleRequest(image, scale, fake_choice(scale), tile=24, overlap=8),
        net,
        RunContext(viewport=Rect(40, 30, 20, 20)),
    )
    assert tiled.shape == (70 * scale, 90 * scale, 3) and tiled.dtype == np.uint8
    assert np.abs(whole.astype(int) - tiled).max() <= 1
    # and the network did something beyond bicubic
    bicubic, _ = run_all(
        UpscaleRequest(image, scale, fake_choice(scale), tile=1000), Recording(scale)
    )
    assert np.abs(whole.astype(int) - bicubic).max() > 5


# ----------------------------------------------------------------------------------- layouts


@pytest.mark.parametrize(
    ("channels", "dtype"), [(1, np.uint8), (4, np.uint8), (3, np.uint16), (4, np.uint16)]
)
def test_layouts_kept(channels, dtype):
    image = texture(40, 50, channels, dtype)
    result, _ = run_all(UpscaleRequest(image, 2, fake_choice(), tile=16, overlap=4), Recording())
    assert result.shape == (80, 100, channels) and result.dtype == dtype
    top = float(np.iinfo(dtype).max)
    # bicubic stand-in: the result is close to a direct bicubic upscale of each channel
    ref = (
        F.interpolate(
            torch.from_numpy(image.astype(np.float32) / top).permute(2, 0, 1)[None],
            scale_factor=2,
            mode="bicubic",
            align_corners=False,
        )[0]
        .clamp(0, 1)
        .permute(1, 2, 0)
        .numpy()
    )
    assert np.abs(result / top - ref).max() < 0.02


def test_gray_is_the_mean_of_the_rgb_output():
    net = random_residual()
    gray = texture(30, 40, 1)
    out, _ = run_all(UpscaleRequest(gray, 2, fake_choice(), tile=1000), net)
    rgb, _ = run_all(UpscaleRequest(np.repeat(gray, 3, axis=2), 2, fake_choice(), tile=1000), net)
    assert np.abs(out[..., 0].astype(float) - rgb.mean(axis=2)).max() <= 1.0


def test_uint16_keeps_precision():
    image = texture(20, 24, 3, np.uint16)
    out, _ = run_all(UpscaleRequest(image, 2, fake_choice(), tile=1000), Recording())
    assert len(np.unique(out)) > 256  # not squeezed through 8 bits


def test_bad_requests():
    with pytest.raises(ValueError, match="scale"):
        run_all(UpscaleRequest(texture(), 5, fake_choice(5)), Recording())
    with pytest.raises(ValueError, match="chosen for"):
        run_all(UpscaleRequest(texture(), 3, fake_choice(2)), Recording())
    with pytest.raises(ValueError, match="C in 1/3/4"):
        drive(upscale.run(UpscaleRequest(texture()[..., :2], 2, fake_choice()), RunContext()))


# -------------------------------------------------------------------------- viewport priority


def test_viewport_moved_mid_run_is_served_next(monkeypatch):
    image = texture(96, 128)
    ctx = RunContext(viewport=Rect(0, 0, 32, 32))
    new_viewport = Rect(100, 70, 20, 20)  # bottom-right corner

    def hook(call: int) -> None:
        if call == 1:
            ctx.viewport = new_viewport

    fake = Recording(hook=hook)
    order: list[Tile] = []
    original = upscale.next_tile

    def spy(pending, viewport):
        tile = original(pending, viewport)
        order.append(tile)
        return tile

    monkeypatch.setattr(upscale, "next_tile", spy)
    run_all(UpscaleRequest(image, 2, fake_choice(), tile=32, overlap=4), fake, ctx)
    assert order[0].core == Rect(0, 0, 32, 32)
    assert not order[1].core.intersect(new_viewport).empty
    assert order[1].core == Rect(96, 64, 32, 32)
    assert len(order) == 12


class FakeClock:
    """A clock that only moves when told: preview pacing without real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_every_pan_is_previewed_and_served_by_the_next_tile(monkeypatch):
    """A pan during a tile: the update after that tile previews the new viewport (the clock
    stands still, so no throttle lets it through by chance), and the next tiles are the ones
    under it, before any other."""
    image = texture(96, 128)  # 4 x 3 tiles of 32
    ctx = RunContext(viewport=Rect(0, 0, 40, 40))
    pans = {1: Rect(90, 60, 38, 36), 3: Rect(0, 70, 20, 20)}  # during tiles 1 and 3

    def hook(call: int) -> None:
        ctx.viewport = pans.get(call, ctx.viewport)

    order: list[Tile] = []
    original = upscale.next_tile

    def spy(pending, viewport):
        order.append(original(pending, viewport))
        return order[-1]

    monkeypatch.setattr(upscale, "next_tile", spy)
    request = UpscaleRequest(image, 2, fake_choice(), tile=32, overlap=4)
    updates: list[Update] = []
    ctx.clock = FakeClock()
    ctx.models.provided["upscaler"] = Recording(hook=hook)
    drive(upscale.run(request, ctx), updates.append)
    after_tile = updates[2:14]  # loading, then the bicubic preview before any tile
    assert after_tile[0].preview_rect == pans[1] and after_tile[0].preview is not None
    assert after_tile[0].preview.shape == (72, 76, 3)
    assert after_tile[2].preview_rect == pans[3] and after_tile[2].preview is not None
    first_pan = [not t.core.intersect(pans[1]).empty for t in order]
    assert first_pan[1:3] == [True, True]  # tiles 2 and 3 lie under the first pan's viewport
    assert not order[3].core.intersect(pans[3]).empty  # tile 4 under the second one
    assert order[3].core == Rect(0, 64, 32, 32)


def test_cancel_stops_within_one_tile():
    ctx = RunContext()

    def hook(call: int) -> None:
        if call == 3:
            ctx.cancel_event.set()

    fake = Recording(hook=hook)
    with pytest.raises(JobCancelled):
        run_all(UpscaleRequest(texture(96, 128), 2, fake_choice(), tile=32, overlap=4), fake, ctx)
    assert fake.calls == 3


# ---------------------------------------------------------------------------------- previews


def test_previews_cover_the_viewport():
    image = texture(96, 128)
    viewport = Rect(-10, 20, 60, 40)  # partly outside: clipped to the image
    net = random_residual()
    result, updates = run_all(
        UpscaleRequest(image, 2, fake_choice(), tile=32, overlap=8),
        net,
        RunContext(viewport=viewport),
    )
    previews = [u for u in updates if u.preview is not None]
    assert previews, "no preview"
    first = previews[0]
    assert first.progress == 0.0  # a bicubic preview before any tile
    visible = Rect(0, 20, 50, 40)
    for u in previews:
        assert u.preview_rect == visible
        assert u.preview.shape == (80, 100, 3) and u.preview.dtype == np.uint8
    # the last preview is the finished result under the viewport
    hr = Rect(0, 40, 100, 80)
    assert np.abs(previews[-1].preview.astype(int) - result[hr.slices]).max() <= 1
    assert updates[-1].progress == 1.0
    assert all(0.0 <= (u.progress or 0.0) <= 1.0 for u in updates)


def test_no_viewport_no_preview_pixels():
    _, updates = run_all(UpscaleRequest(texture(), 2, fake_choice(), tile=32), Recording())
    assert all(u.preview is None for u in updates)
    assert any("tile 3/" in u.message and "Fake ×2" in u.message for u in updates)


def test_huge_viewport_preview_is_reduced(monkeypatch):
    monkeypatch.setattr(upscale, "PREVIEW_MAX_PIXELS", 5000)
    image = texture(60, 80)
    _, updates = run_all(
        UpscaleRequest(image, 2, fake_choice(), tile=32, overlap=4),
        Recording(),
        RunContext(viewport=Rect(0, 0, 80, 60)),
    )
    previews = [u for u in updates if u.preview is not None]
    assert previews and all(u.preview_rect == Rect(0, 0, 80, 60) for u in previews)
    assert all(u.preview.shape[0] * u.preview.shape[1] <= 5000 * 1.05 for u in previews)


# ------------------------------------------------------------------------------------ memory


def test_memmap_path_when_memory_is_tiny(tmp_path):
    net = random_residual()
    image = texture(50, 60, 4)
    in_ram, _ = run_all(UpscaleRequest(image, 2, fake_choice(), tile=20, overlap=8), net)
    spilled, _ = run_all(
        UpscaleRequest(
            image, 2, fake_choice(), tile=20, overlap=8, max_memory_mb=0, spill_dir=tmp_path
        ),
        net,
    )
    assert isinstance(spilled.base, mmap.mmap)  # file-backed
    assert not isinstance(in_ram.base, mmap.mmap)
    assert np.array_equal(in_ram, spilled)
    assert list(tmp_path.iterdir()) == []  # the spill folder is cleaned up


def test_cancel_mid_run_leaves_no_spill_folder(tmp_path):
    ctx = RunContext()
    seen: list[list[Path]] = []

    def hook(call: int) -> None:
        seen.append([p for folder in tmp_path.iterdir() for p in [folder, *folder.iterdir()]])
        if call == 3:
            ctx.cancel_event.set()

    fake = Recording(hook=hook)
    request = UpscaleRequest(
        texture(96, 128), 2, fake_choice(), tile=32, max_memory_mb=0, spill_dir=tmp_path
    )
    with pytest.raises(JobCancelled):
        run_all(request, fake, ctx)
    folder, *inside = seen[-1]
    assert folder.name.startswith(f"semedit-upscale-{os.getpid()}-")  # it was there, spilling
    assert {"blend0.bin", "blend1.bin"} <= {p.name for p in inside}
    assert list(tmp_path.iterdir()) == []


def test_output_over_the_megapixel_limit_is_refused_before_any_tile(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMEDIT_MAX_MEGAPIXELS", "0.01")
    fake = Recording()
    request = UpscaleRequest(texture(60, 80), 2, fake_choice(), spill_dir=tmp_path)
    with pytest.raises(upscale.UpscaleTooLarge, match=r"gives 160×120 \(0\.0192 MP\), over"):
        run_all(request, fake)
    assert fake.calls == 0 and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- model choice


def test_choose_carn_m_for_x2_from_shared_models(shared_models, tmp_path):
    store = ModelStore(models_dir=shared_models, user_dir=tmp_path / "user")
    choice = choose_upscaler(store, 2)
    assert (choice.id, choice.kind, choice.scale) == ("carn-m", "carn-m", 2)
    assert choice.label == "CARN-M ×2 (MIT)"
    assert choose_upscaler(store, 4).id == "rfdn-x4"  # best measured x4
    model = load_upscaler(choice, "cpu")
    assert load_upscaler(choice, "cpu") is model  # cached
    lr = torch.rand(1, 3, 12, 10)
    assert model(lr).shape == (1, 3, 24, 20)


def test_shipped_model_without_models_dir(tmp_path):
    if shipped_path(2) is None:
        pytest.skip("editor/resources/models/upscaler_x2.safetensors is not there yet")
    store = ModelStore(models_dir=None, user_dir=tmp_path / "user")
    choice = choose_upscaler(store, 2)
    assert choice.id == SHIPPED_ID and choice.kind == "residual"
    out, _ = run_all(UpscaleRequest(texture(20, 24), 2, choice, tile=1000), None)
    assert out.shape == (40, 48, 3)


def test_wrong_model_id_names_valid_ones(tmp_path):
    store = ModelStore(models_dir=None, user_dir=tmp_path / "user")
    with pytest.raises(ValueError, match=r"cannot upscale ×3.*carn-m") as info:
        choose_upscaler(store, 3, "rfdn-x4")
    assert "rfdn-x4," not in str(info.value).split(":")[-1]
    with pytest.raises(ValueError, match="not an upscaling model.*carn-m"):
        choose_upscaler(store, 2, "vgg19-conv3")


def test_no_model_for_scale_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr("editor.engine.models.upscalers.shipped_path", lambda scale: None)
    store = ModelStore(models_dir=None, user_dir=tmp_path / "user")
    with pytest.raises(ModelError, match="no upscaling model is available for ×3"):
        choose_upscaler(store, 3)
