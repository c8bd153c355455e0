"""The remove edit: only the masked region changes, the object goes, bad requests fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from editor.core.geometry import Rect
from editor.engine.edits.remove import METHODS, PATCH_METHODS, RemoveRequest, run
from editor.engine.jobs import JobCancelled, RunContext, Update, drive
from editor.engine.models.manager import Models
from editor.ops.inpaint.classic import inpaint_opencv
from editor.ops.inpaint.hole import work_rect as patch_rect

OBJECT = Rect(30, 20, 40, 20)  # the red block in the rgb_image fixture


def _object_mask(shape: tuple[int, ...], pad: int = 3) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    mask[OBJECT.expand(pad).slices] = 255
    return mask


@pytest.mark.parametrize("method", METHODS)
def test_remove_replaces_the_object_and_nothing_far_away(rgb_image, method, request):
    mask = _object_mask(rgb_image.shape)
    updates: list[Update] = []
    models = request.getfixturevalue("shared_models") if method == "refined" else None
    req = RemoveRequest(rgb_image, mask, method=method)
    out = drive(run(req, RunContext.for_folder(models)), updates.append)

    assert out.shape == rgb_image.shape and out.dtype == rgb_image.dtype
    far = np.ones(mask.shape, bool)
    far[OBJECT.expand(3 + 5).clip(128, 96).slices] = False
    assert np.array_equal(out[far], rgb_image[far])

    inside = out[OBJECT.slices].reshape(-1, 3).mean(axis=0)
    ring = np.zeros(mask.shape, bool)
    ring[OBJECT.expand(10).slices] = True
    ring[OBJECT.expand(4).slices] = False
    around = rgb_image[ring].mean(axis=0)
    before = rgb_image[OBJECT.slices].reshape(-1, 3).mean(axis=0)
    assert np.linalg.norm(inside - around) < 0.3 * np.linalg.norm(before - around)
    assert np.abs(out[OBJECT.slices].astype(int) - (200, 40, 40)).sum(axis=-1).min() > 40

    progress = [u.progress for u in updates]
    assert progress == sorted(progress) and progress[-1] == 1.0
    shown = [u for u in updates if u.preview is not None]
    assert shown and shown[-1].preview_rect is not None
    assert np.array_equal(shown[-1].preview, out[shown[-1].preview_rect.slices])


def test_remove_on_uint16_rgba_keeps_dtype_and_far_pixels():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 65536, (60, 80, 4), dtype=np.uint16)
    mask = np.zeros((60, 80), np.uint8)
    mask[20:30, 30:45] = 255
    out = drive(run(RemoveRequest(image, mask, method="quick", margin=8), RunContext()))
    assert out.dtype == np.uint16 and out.shape == image.shape
    keep = np.ones((60, 80), bool)
    keep[15:35, 25:50] = False
    assert np.array_equal(out[keep], image[keep])
    assert not np.array_equal(out[20:30, 30:45], image[20:30, 30:45])


def work_rect(mask, method, margin):
    return patch_rect(mask, method in PATCH_METHODS, margin)


def test_work_rect_is_what_the_edit_reads_half_the_hole_of_context_for_patch_methods():
    mask = np.zeros((200, 300), np.uint8)
    mask[80:120, 100:180] = 255  # 80 x 40
    assert work_rect(mask, "telea", 8) == Rect(92, 72, 96, 56)
    assert work_rect(mask, "quick", 8) == Rect(60, 40, 160, 120)  # margin 80 // 2
    assert work_rect(mask, "refined", 8) == work_rect(mask, "quick", 8)
    assert work_rect(mask, "telea", 0) == Rect(94, 74, 92, 52)  # feather + halo at least
    assert work_rect(np.zeros_like(mask), "quick", 8) is None

    image = np.random.default_rng(5).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    out = drive(run(RemoveRequest(image, mask, method="quick", margin=8), RunContext()))
    changed = np.argwhere((out != image).any(axis=2))
    rect = work_rect(mask, "quick", 8)
    assert changed.size and (changed.min(0) >= (rect.y, rect.x)).all()
    assert (changed.max(0) < (rect.bottom, rect.right)).all()


def test_wrong_size_mask_names_both_sizes(rgb_image):
    with pytest.raises(ValueError, match="64x48.*128x96"):
        drive(run(RemoveRequest(rgb_image, np.zeros((48, 64), np.uint8)), RunContext()))


def test_empty_mask_and_unknown_method_are_refused(rgb_image):
    empty = np.zeros(rgb_image.shape[:2], np.uint8)
    with pytest.raises(ValueError, match="the mask is empty: paint over what to remove"):
        drive(run(RemoveRequest(rgb_image, empty), RunContext()))
    with pytest.raises(ValueError, match="telea, ns"):
        drive(
            run(
                RemoveRequest(rgb_image, _object_mask(rgb_image.shape), method="magic"),
                RunContext(),
            )
        )


def test_cancelled_before_start_raises(rgb_image):
    ctx = RunContext()
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        drive(run(RemoveRequest(rgb_image, _object_mask(rgb_image.shape)), ctx))


def test_inpaint_opencv_channels_and_errors(rgb_image):
    mask = _object_mask(rgb_image.shape)
    gray = rgb_image[..., 0]
    assert inpaint_opencv(gray, mask).shape == gray.shape
    assert inpaint_opencv(gray[..., None], mask, "ns").shape == (96, 128, 1)
    rgba = np.dstack([rgb_image, np.full(gray.shape, 255, np.uint8)])
    rgba[OBJECT.slices + (3,)] = 0  # a hole in the alpha under the object is filled as well
    out = inpaint_opencv(rgba, mask)
    assert out.shape == rgba.shape and (out[OBJECT.slices + (3,)] == 255).all()
    assert np.array_equal(out[mask == 0], rgba[mask == 0])
    # uint16 fills like the 8-bit image scaled up (per channel, at full precision: the 8-bit
    # fill drifts by a level or so because each filled pixel is rounded before feeding the next)
    wide = rgb_image.astype(np.uint16) * 257
    filled16 = inpaint_opencv(wide, mask)
    assert filled16.dtype == np.uint16 and np.array_equal(filled16[mask == 0], wide[mask == 0])
    diff = np.abs(filled16.astype(float) / 257 - inpaint_opencv(rgb_image, mask))
    assert diff.mean() < 0.5 and diff.max() < 8
    with pytest.raises(ValueError, match="valid: telea, ns"):
        inpaint_opencv(rgb_image, mask, "fast")
    with pytest.raises(ValueError, match="uint8 or uint16"):
        inpaint_opencv(rgb_image.astype(np.float32), mask)


def test_refined_streams_previews_and_sharpens_the_quick_fill(shared_models):
    from editor.ops.fill_metrics import sharpness_ratio

    rng = np.random.default_rng(1)
    texture = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    image = np.tile(texture, (2, 3, 1))  # 80x120, a repeating texture
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[25:50, 40:70] = 255
    updates: list[Update] = []
    req = RemoveRequest(image, mask, method="refined")
    out = drive(run(req, RunContext.for_folder(shared_models)), updates.append)
    previews = [u for u in updates if u.preview is not None]
    assert len(previews) >= 3  # the quick fill, refinement steps, the result
    keep = np.ones(mask.shape, bool)
    keep[20:55, 35:75] = False
    assert np.array_equal(out[keep], image[keep])
    hole = mask > 0
    assert sharpness_ratio(out, hole) > 0.7


def test_refined_without_feature_weights_says_which_model_is_missing(rgb_image, tmp_path):
    from editor.engine.store import ModelMissing

    req = RemoveRequest(rgb_image, _object_mask(rgb_image.shape), method="refined")
    with pytest.raises(ModelMissing, match="vgg19"):
        drive(run(req, RunContext.for_folder(tmp_path)))


def test_quick_fill_on_a_grey_image_stays_grey(rgb_image):
    grey = rgb_image[..., :1].copy()
    out = drive(run(RemoveRequest(grey, _object_mask(grey.shape), method="quick"), RunContext()))
    assert out.shape == grey.shape and out.dtype == grey.dtype


def test_refined_without_the_detail_layer_still_fills(shared_models, monkeypatch):
    """DETAIL_GAIN = 0 turns the quick fill's detail transfer off; the edit still works."""
    from editor.ops.inpaint import texture

    monkeypatch.setattr(texture, "DETAIL_GAIN", 0.0)
    rng = np.random.default_rng(2)
    image = np.tile((rng.random((32, 32, 3)) * 255).astype(np.uint8), (2, 2, 1))
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[20:40, 24:44] = 255
    req = RemoveRequest(image, mask, method="refined")
    out = drive(run(req, RunContext.for_folder(shared_models)))
    assert out.shape == image.shape and out.dtype == image.dtype
    assert not np.array_equal(out[mask > 0], image[mask > 0])
    assert np.array_equal(out[:10], image[:10])


def test_refined_content_follows_the_patch_fill_where_telea_disagrees():
    # Where Telea's smooth fill agrees with the patch fill the content target hedges between
    # them; where it smears something else in (60+ levels apart), the patch fill alone.
    from editor.ops.inpaint.content import CONTENT_PATCH_SHARE, _patch_share

    quick = np.full((64, 96, 3), 100, np.uint8)
    smooth = quick.copy()
    smooth[:, 48:] = 200  # the right half: a smear 100 levels off
    share = _patch_share(quick, smooth)
    assert share.shape == (64, 96)
    assert np.allclose(share[:, :30], CONTENT_PATCH_SHARE)
    assert np.allclose(share[:, 66:], 1.0)
    assert np.all(np.diff(share[32]) >= -1e-6)  # rising across the edge, no step back


def test_refined_content_target_is_the_mean_of_the_completions(rgb_image, monkeypatch):
    # The content stage stands in for a content network's expected fill: the quick fill and
    # each CONTENT_FILLS completion, averaged (Telea's share set to 0 to see the mean alone).
    from editor.ops.inpaint import content as stage
    from editor.ops.inpaint import texture

    runs = [{}, *stage.CONTENT_FILLS]  # the quick fill first, then the completions
    levels = [40 + 160 * (index % 2) for index in range(len(runs))]
    calls: list[dict] = []

    def completion(rgb8, hole, cancel, **settings):
        calls.append(settings)
        out = rgb8.copy()
        out[hole] = levels[runs.index(settings)]
        return out

    seen = {}

    def refine(image01, hole, features, *, content01, **kwargs):
        seen.update(image01=image01, hole=hole, content01=content01)
        yield 1.0, image01
        return image01

    monkeypatch.setattr(stage, "completion", completion)
    monkeypatch.setattr(stage, "CONTENT_PATCH_SHARE", 1.0)
    monkeypatch.setattr(texture, "refine_hole", refine)
    mask = _object_mask(rgb_image.shape)
    updates: list[Update] = []
    ctx = RunContext(models=Models(provided={"vgg19": object()}))
    drive(run(RemoveRequest(rgb_image, mask), ctx), updates.append)

    assert len(calls) == len(runs) and all(settings in calls for settings in runs)
    inside = seen["hole"][0, 0] > 0
    content = seen["content01"][0].permute(1, 2, 0)[inside] * 255
    assert np.allclose(content.numpy(), np.mean(levels), atol=0.5)
    assert np.allclose(seen["image01"][0].permute(1, 2, 0)[inside].numpy() * 255, 40)  # quick
    fills = [u.message for u in updates if u.message.startswith("Content fill")]
    assert len(fills) == len(stage.CONTENT_FILLS)


def test_refined_cancelled_during_the_content_stage_stops(rgb_image, monkeypatch):
    # The completions run side by side. One is done when the user cancels; the others see the
    # flag at their next step (as patchmatch_fill checks between iterations) and the run ends
    # there, before the texture stage.
    from editor.ops.inpaint import content as stage

    ctx = RunContext(models=Models(provided={"vgg19": object()}))
    finished: list[dict] = []

    def completion(rgb8, hole, cancel, **settings):
        if settings and settings != stage.CONTENT_FILLS[0]:
            assert ctx.cancel_event.wait(timeout=10)
            cancel()
        finished.append(settings)
        return rgb8.copy()

    updates: list[Update] = []

    def cancel_at_first_completion(update: Update) -> None:
        updates.append(update)
        if update.message.startswith("Content fill"):
            ctx.cancel_event.set()

    monkeypatch.setattr(stage, "completion", completion)
    with pytest.raises(JobCancelled):
        drive(
            run(RemoveRequest(rgb_image, _object_mask(rgb_image.shape)), ctx),
            cancel_at_first_completion,
        )
    assert finished == [{}, stage.CONTENT_FILLS[0]]
    assert not any(u.message == "Refining texture" for u in updates)


def test_refined_leaves_a_flat_sky_flat(shared_models, shared_data):
    # A hole in the Golden Gate's plain sky: the refined fill is no grainier than the sky was.
    # (With Adam's default epsilon every pixel took a full step on its vanishing gradient:
    # about 4x the sky's grain.)
    import cv2
    from PIL import Image

    photo = Image.open(shared_data / "content" / "golden_gate.jpg").convert("RGB")
    image = np.asarray(photo.resize((490, 367), Image.Resampling.LANCZOS))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(mask, (304, 110), (30, 55), 20, 0, 360, 255, -1)
    out = drive(run(RemoveRequest(image, mask), RunContext.for_folder(shared_models)))

    def grain(a: np.ndarray) -> float:
        f = a.astype(np.float32)
        return float(np.abs(f - cv2.GaussianBlur(f, (0, 0), 1.5)).mean(axis=2)[mask > 0].mean())

    assert grain(out) < 1.5 * grain(image), (grain(out), grain(image))
