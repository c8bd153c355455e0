"""Style edit, method "fast" (feed-forward networks) and the one-pass live preview."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from editor.core.imageio import load_image
from editor.engine.edits import style
from editor.engine.edits.style import onepass as style_onepass
from editor.engine.jobs import JobCancelled, RunContext, drive
from editor.engine.models.fast_styles import FastStyleError, load_fast_style
from editor.ops import fast_style


def _photo(h=96, w=128):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1).astype(np.float32)
    img[20:40, 30:70] = (200, 40, 40)
    return np.clip(img, 0, 255).astype(np.uint8)


def _mask(h=96, w=128):
    mask = np.zeros((h, w), np.uint8)
    mask[30:60, 40:80] = 255
    return mask


def _fast(image, mask=None, **kw):
    region = style.StyleRegion(mask=mask, model="starry_night")
    return style.StyleRequest(image=image, regions=(region,), method="fast", **kw)


def test_only_the_masked_region_changes():
    image, mask = _photo(), _mask()
    out = drive(style.run(_fast(image, mask, strength=1.0), RunContext()))
    assert out.shape == image.shape and out.dtype == image.dtype
    inside = mask > 0
    assert np.abs(out[inside].astype(int) - image[inside]).mean() > 10
    far = np.ones_like(inside)
    far[30 - 8 : 60 + 8, 40 - 8 : 80 + 8] = False  # beyond the feather
    assert np.array_equal(out[far], image[far])


@pytest.mark.parametrize(
    "layout",
    ["grey2d", "grey1", "rgba", "rgb16"],
)
def test_layouts_and_dtypes_are_kept(layout):
    rgb = _photo()
    image = {
        "grey2d": rgb.mean(2).astype(np.uint8),
        "grey1": rgb.mean(2, keepdims=True).astype(np.uint8),
        "rgba": np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 77, np.uint8)], 2),
        "rgb16": rgb.astype(np.uint16) * 257,
    }[layout]
    out = drive(style.run(_fast(image, _mask()), RunContext()))
    assert out.shape == image.shape and out.dtype == image.dtype
    assert not np.array_equal(out, image)
    if layout == "rgba":
        assert (out[..., 3] == 77).all()


def test_strength_zero_keeps_the_photo_and_keep_colors_keeps_its_palette():
    image = _photo()
    same = drive(style.run(_fast(image, strength=0.0), RunContext()))
    assert np.abs(same.astype(int) - image).max() <= 1
    full = drive(style.run(_fast(image, strength=1.0), RunContext())).astype(float)
    kept = drive(style.run(_fast(image, strength=1.0, keep_colors=True), RunContext())).astype(
        float
    )

    def chroma(x):
        return x - x.mean(2, keepdims=True)

    ref = chroma(image.astype(float)).mean((0, 1))
    assert (
        np.abs(chroma(kept).mean((0, 1)) - ref).max()
        < np.abs(chroma(full).mean((0, 1)) - ref).max()
    )


def test_a_shipped_style_moves_the_colours_toward_its_painting(shared_data):
    photo = load_image(shared_data / "content" / "golden_gate.jpg").pixels[::3, ::3].copy()
    painting = load_image(shared_data / "style" / "starry_night.jpg").pixels
    out = drive(style.run(_fast(photo, strength=1.0), RunContext()))
    target = painting.reshape(-1, 3).mean(0)
    before = np.linalg.norm(photo.reshape(-1, 3).mean(0) - target)
    after = np.linalg.norm(out.reshape(-1, 3).mean(0) - target)
    assert after < before / 2


def test_large_crops_go_through_in_tiles_without_seams():
    net = load_fast_style("starry_night")
    rng = np.random.default_rng(0)
    image = _photo(160, 200)
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    fractions = []
    run = fast_style.iter_stylise_fast(net, image, tile=64, overlap=32)
    while True:
        try:
            fractions.append(next(run))
        except StopIteration as stop:
            tiled = stop.value
            break
    assert len(fractions) > 4 and fractions[-1] == 1.0
    whole = fast_style.stylise_fast(net, image)
    assert tiled.shape == whole.shape == (160, 200, 3) and tiled.dtype == np.float32
    # whole-image normalisation statistics: the tiles agree with the one-pass result (to 0.02:
    # the shipped nets' input noise shifts the statistics of the shrunk whole-image pass a bit)
    assert np.abs(tiled - whole).max() < 0.02
    # no seam: the tiled result is as smooth across a tile border as within a tile
    rows = np.abs(np.diff(tiled, axis=0)).mean((1, 2))
    assert rows.max() < 4 * np.median(rows)


def test_a_region_is_stylised_like_that_part_of_the_whole_photo():
    # Normalised with its own statistics a region gets another palette (mean difference 0.13
    # here); with the whole photo's it matches the whole stylisation away from its border.
    net = load_fast_style("the_scream")
    image = _photo(160, 200)
    whole = fast_style.stylise_fast(net, image)
    crop = np.s_[40:136, 60:172]
    inner = np.s_[24:-24, 24:-24]
    reference = whole[crop][inner]
    alone = fast_style.stylise_fast(net, image[crop], origin=(60, 40))
    matched = fast_style.stylise_fast(net, image[crop], stats_image=image, origin=(60, 40))
    assert np.abs(matched[inner] - reference).mean() < 0.01
    assert np.abs(alone[inner] - reference).mean() > 5 * np.abs(matched[inner] - reference).mean()


def test_input_noise_is_fixed_to_the_photo_so_regions_and_tiles_agree():
    # A net with input noise (strokes in flat areas) draws the noise by absolute position: a
    # region placed at its origin, and a tiled run, match the whole stylisation.
    net = load_fast_style("shipwreck")
    assert net.input_noise == 0.05  # as shipped
    image = _photo(160, 200)
    whole = fast_style.stylise_fast(net, image)
    crop, inner = np.s_[40:136, 60:172], np.s_[24:-24, 24:-24]
    placed = fast_style.stylise_fast(net, image[crop], stats_image=image, origin=(60, 40))
    unplaced = fast_style.stylise_fast(net, image[crop], stats_image=image)
    error = np.abs(placed[inner] - whole[crop][inner]).mean()
    assert error < 0.01 and np.abs(unplaced[inner] - whole[crop][inner]).mean() > 3 * error
    tiled = fast_style.stylise_fast(net, image, tile=64, overlap=32)
    assert np.abs(tiled - whole).max() < 0.02
    # The noise is what puts texture into a flat area; without it a flat photo stays flat.
    flat = np.full((96, 96, 3), 40, np.uint8)
    silent = copy.deepcopy(net)
    silent.input_noise = 0.0
    quiet = fast_style.stylise_fast(silent, flat)[16:-16, 16:-16]
    assert fast_style.stylise_fast(net, flat)[16:-16, 16:-16].std() > 3 * quiet.std()


def test_the_brush_and_its_preview_paint_the_whole_photo_look():
    image, mask = _photo(160, 200), np.zeros((160, 200), np.uint8)
    mask[60:110, 80:150] = 255
    request = style.StyleRequest(
        image=image,
        regions=(style.StyleRegion(mask=mask, model="the_scream"),),
        method="fast",
        strength=1.0,
    )
    whole = fast_style.stylise_fast(load_fast_style("the_scream"), image)
    whole8 = np.rint(whole * 255).astype(int)
    core = np.s_[75:95, 100:130]
    out = drive(style.run(request, RunContext()))
    assert np.abs(out[core].astype(int) - whole8[core]).mean() < 3
    pixels, rect = drive(style.run_preview(request, RunContext()))
    preview_core = pixels[75 - rect.y : 95 - rect.y, 100 - rect.x : 130 - rect.x]
    assert np.abs(preview_core.astype(int) - whole8[core]).mean() < 3


def test_style_scale_and_bad_input():
    image = _photo()
    out = drive(style.run(_fast(image, style_scale=2.0), RunContext()))
    assert out.shape == image.shape
    with pytest.raises(ValueError, match="no fast style"):
        drive(
            style.run(
                style.StyleRequest(image, (style.StyleRegion(),), method="fast"), RunContext()
            )
        )
    with pytest.raises(ValueError, match="no style picture"):
        drive(
            style.run(style.StyleRequest(image, (style.StyleRegion(),), method="wct"), RunContext())
        )
    bad = style.StyleRequest(image, (style.StyleRegion(model="nope"),), method="fast")
    with pytest.raises(FastStyleError, match="available: .*starry_night"):
        drive(style.run(bad, RunContext()))


def test_cancel_stops_the_run():
    ctx = RunContext()
    ctx.cancel_event.set()
    with pytest.raises(JobCancelled):
        drive(style.run(_fast(_photo(), _mask()), ctx))


def test_fast_preview_is_the_region_box_in_the_image_layout():
    image, mask = _photo(), _mask()
    updates = []
    pixels, rect = drive(style.run_preview(_fast(image, mask), RunContext()), updates.append)
    assert rect.x == 40 - style.CONTEXT_PX and rect.w == 40 + 2 * style.CONTEXT_PX
    assert pixels.shape == (rect.h, rect.w, 3) and pixels.dtype == np.uint8  # small crop: 1:1
    assert updates[-1].preview is pixels and updates[-1].preview_rect == rect
    full = drive(style.run(_fast(image, mask), RunContext()))
    assert np.abs(pixels.astype(int) - full[rect.slices]).mean() < 2  # the preview is the result
    big = np.repeat(np.repeat(image, 16, 0), 16, 1)
    big_mask = np.repeat(np.repeat(mask, 16, 0), 16, 1)
    pixels, rect = drive(style.run_preview(_fast(big, big_mask), RunContext()))
    assert max(pixels.shape[:2]) == style_onepass.FAST_PREVIEW_MAX_SIZE and rect.w > 320


def test_preview_refuses_the_optimising_methods():
    req = style.StyleRequest(_photo(), (style.StyleRegion(style=_photo()),), method="gatys")
    with pytest.raises(ValueError, match="unknown method .gatys. here"):
        drive(style.run_preview(req, RunContext()))


def test_wct_preview_reuses_the_prepared_style(shared_models, shared_data):
    image, mask = _photo(), _mask()
    picture = load_image(shared_data / "style" / "the_scream.jpg").pixels
    req = style.StyleRequest(
        image,
        (style.StyleRegion(style=picture, mask=mask),),
        method="wct",
    )
    style_onepass._prepared_cache.clear()
    first, rect = drive(style.run_preview(req, RunContext.for_folder(shared_models)))
    assert len(style_onepass._prepared_cache) == 1
    second, _ = drive(style.run_preview(req, RunContext.for_folder(shared_models)))
    assert len(style_onepass._prepared_cache) == 1 and np.array_equal(first, second)
    assert max(first.shape[:2]) == style_onepass.PREVIEW_MAX_SIZE and first.dtype == np.uint8
    assert not np.array_equal(
        first[first.shape[0] // 2],
        style_onepass.resize_pixels(image[rect.slices], first.shape[:2])[first.shape[0] // 2],
    )
