"""Make the README's before/after pictures from ../shared/data content photos (MIT licensed).

    .venv/bin/python tools/readme_images.py            # writes docs/images/*.jpg

Upscaling: a crop of golden_gate.jpg downscaled ×4, then upscaled by bicubic, our shipped network
and CARN-M/RFDN when ../shared/models is present; "gan": the same crop, faithful (RFDN) against
sharp (Real-ESRGAN, SemEdit GAN). Removal: tubingen.jpg with an object mask,
filled by each method (the same mask generator as benchmarks/bench_remove.py). Style: photos at
512 px with the public-domain paintings, every method, regions, keep colours, texture.

    .venv/bin/python tools/readme_images.py style     # one part (upscaling, gan, removal,
                                                      # style, full-vgg)
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "docs" / "images"
sys.path.insert(0, str(REPO / "benchmarks"))


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (8 + 9 * len(text), 22), (0, 0, 0), -1)
    cv2.putText(out, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def save(name: str, tiles: list[np.ndarray]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(OUT / name, quality=88)
    print("wrote", OUT / name)


def upscaling() -> None:
    from editor.engine.edits.upscale import UpscaleRequest, run
    from editor.engine.jobs import RunContext, drive
    from editor.engine.models.upscalers import available_upscalers
    from editor.engine.store import ModelStore

    photo = np.asarray(Image.open(SHARED / "data" / "content" / "golden_gate.jpg").convert("RGB"))
    hr = photo[180:436, 120:376]  # 256x256: tower and cables
    lr = np.asarray(Image.fromarray(hr).resize((64, 64), Image.BICUBIC))
    tiles = [
        label(cv2.resize(lr, (256, 256), interpolation=cv2.INTER_NEAREST), "input (64 px)"),
        label(np.asarray(Image.fromarray(lr).resize((256, 256), Image.BICUBIC)), "bicubic"),
    ]
    store = ModelStore(models_dir=SHARED / "models")
    for choice in reversed(available_upscalers(store, 4)):
        out = drive(run(UpscaleRequest(image=lr, scale=4, model=choice), RunContext()))
        tiles.append(label(out, choice.title))
    tiles.append(label(hr, "original"))
    save("upscale_x4.jpg", tiles)


def gan_upscaling() -> None:
    """Faithful vs sharp: bicubic / the best faithful model / Real-ESRGAN / SemEdit GAN /
    original, x4."""
    from editor.engine.edits.upscale import UpscaleRequest, run
    from editor.engine.jobs import RunContext, drive
    from editor.engine.models.upscalers import SHIPPED_GAN_ID, choose_upscaler
    from editor.engine.store import ModelStore

    photo = np.asarray(Image.open(SHARED / "data" / "content" / "golden_gate.jpg").convert("RGB"))
    hr = photo[180:436, 120:376]  # the crop of upscale_x4.jpg
    lr = np.asarray(Image.fromarray(hr).resize((64, 64), Image.BICUBIC))
    tiles = [label(np.asarray(Image.fromarray(lr).resize((256, 256), Image.BICUBIC)), "bicubic")]
    store = ModelStore(models_dir=SHARED / "models")
    choices = [choose_upscaler(store, 4, look=look) for look in ("faithful", "sharp")]
    choices.append(choose_upscaler(store, 4, SHIPPED_GAN_ID))
    for choice in choices:
        out = drive(run(UpscaleRequest(image=lr, scale=4, model=choice), RunContext()))
        tiles.append(label(out, f"{choice.title} ({'sharp' if choice.gan else 'faithful'})"))
    tiles.append(label(hr, "original"))
    save("upscale_gan_x4.jpg", tiles)


GRADIENT_VOTE_PHOTO = ("content/golden_gate.jpg", 1)


def removal() -> None:
    from bench_remove import load_photo, object_mask

    from editor.engine.edits.remove import METHODS, RemoveRequest, run
    from editor.engine.jobs import RunContext, drive

    image = load_photo("content/tubingen.jpg")
    mask = object_mask(image.shape[:2], 1)
    shown = image.copy()
    hole = mask > 0
    shown[hole] = (shown[hole] * 0.4 + np.array([255, 0, 0]) * 0.6).astype(np.uint8)
    tiles = [label(shown, "mask")]
    for method in METHODS:
        req = RemoveRequest(image, mask, method=method)
        tiles.append(label(drive(run(req, RunContext.for_folder(SHARED / "models"))), method))
    half = [
        cv2.resize(t, (t.shape[1] // 2, t.shape[0] // 2), interpolation=cv2.INTER_AREA)
        for t in tiles
    ]
    save("remove_tubingen.jpg", half)

    # The quick fill's last vote, in colours and in the gradient domain, shown at 2x.
    from editor.ops.patchmatch import patchmatch_fill

    image = load_photo(GRADIENT_VOTE_PHOTO[0])
    hole = object_mask(image.shape[:2], GRADIENT_VOTE_PHOTO[1]) > 0
    ys, xs = np.nonzero(hole)
    box = np.s_[max(0, ys.min() - 16) : ys.max() + 16, max(0, xs.min() - 16) : xs.max() + 16]
    shown = image.copy()
    shown[hole] = (shown[hole] * 0.4 + np.array([255, 0, 0]) * 0.6).astype(np.uint8)
    tiles = [
        label(cv2.resize(tile[box], None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST), text)
        for tile, text in (
            (shown, "mask"),
            (patchmatch_fill(image, hole, gradient_weight=0), "quick, colour vote"),
            (patchmatch_fill(image, hole), "quick, gradient vote"),
        )
    ]
    save("remove_gradient_vote.jpg", tiles)


def _photo(name: str, long_side: int) -> np.ndarray:
    image = Image.open(SHARED / "data" / name).convert("RGB")
    factor = long_side / max(image.size)
    size = (round(image.width * factor), round(image.height * factor))
    return np.asarray(image.resize(size, Image.LANCZOS))


def _thumb(picture: np.ndarray, height: int) -> np.ndarray:
    """The style picture fitted into a (height x height*3/4...) tile beside the results."""
    factor = height / picture.shape[0]
    return cv2.resize(picture, (round(picture.shape[1] * factor), height), cv2.INTER_AREA)


def style() -> None:
    """Style brushes: Gatys, patches (CNNMRF) and universal (WCT) at 512 px; regions and keep
    colours; texture. Only public-domain paintings (starry_night, the_scream, shipwreck)."""
    from editor.engine.edits.style import StyleRegion, StyleRequest, TextureRequest, run_texture
    from editor.engine.edits.style import run as stylise
    from editor.engine.jobs import RunContext, drive

    models = SHARED / "models"
    for content, painting, name in (
        ("content/tubingen.jpg", "style/starry_night.jpg", "style_tubingen.jpg"),
        ("content/golden_gate.jpg", "style/the_scream.jpg", "style_golden_gate.jpg"),
    ):
        photo = _photo(content, 512)
        art = _photo(painting, 512)
        tiles = [label(photo, "photo"), label(_thumb(art, photo.shape[0]), "style")]
        for method, title in (("gatys", "Gatys"), ("mrf", "patches (MRF)"), ("wct", "WCT")):
            request = StyleRequest(photo, (StyleRegion(art),), method=method)
            tiles.append(label(drive(stylise(request, RunContext.for_folder(models))), title))
        save(name, [_half(t) for t in tiles])

    photo = _photo("content/golden_gate.jpg", 512)
    left = np.zeros(photo.shape[:2], np.uint8)
    left[:, : photo.shape[1] // 2] = 255
    scream, starry = _photo("style/the_scream.jpg", 512), _photo("style/starry_night.jpg", 512)
    regions = (StyleRegion(scream, left), StyleRegion(starry, 255 - left))
    two = drive(stylise(StyleRequest(photo, regions), RunContext.for_folder(models)))
    kept = drive(
        stylise(
            StyleRequest(photo, (StyleRegion(starry),), keep_colors=True),
            RunContext.for_folder(models),
        )
    )
    shipwreck = _photo("style/shipwreck.jpg", 384)
    texture = drive(
        run_texture(TextureRequest(shipwreck, size=(384, 384)), RunContext.for_folder(models))
    )
    tiles = [
        label(two, "scream | starry night, one run"),
        label(kept, "starry night, keep colours"),
        label(_thumb(shipwreck, photo.shape[0]), "sample"),
        label(cv2.resize(texture, (photo.shape[0], photo.shape[0])), "texture from it"),
    ]
    save("style_regions_texture.jpg", [_half(t) for t in tiles])


def style_full_vgg() -> None:
    """Gatys on the full VGG19 against conv1-3 + aux: bench_style.py --quality's own results
    (golden_gate, hoovertowernight x starry_night, 512 px), photo / old / full per row."""
    import tempfile

    import bench_style

    with tempfile.TemporaryDirectory() as folder:
        bench_style.main(["--quality", "--save", folder])
        compose_full_vgg(Path(folder))


def compose_full_vgg(folder: Path) -> None:
    """style_full_vgg.jpg from a ``bench_style.py --quality --save FOLDER`` run's PNGs."""
    rows = []
    for stem in ("golden_gate", "hoovertowernight"):
        tiles = [label(_photo(f"content/{stem}.jpg", 512), "photo")]
        for tag, title in (("old", "conv1-3 + aux"), ("full", "full VGG19")):
            result = np.asarray(Image.open(folder / f"gatys_{stem}_512_{tag}.png"))
            tiles.append(label(result[..., :3], title))
        height = min(t.shape[0] for t in tiles)
        rows.append(np.concatenate([_half(t[:height]) for t in tiles], axis=1))
    width = min(r.shape[1] for r in rows)
    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([r[:, :width] for r in rows])).save(
        OUT / "style_full_vgg.jpg", quality=88
    )
    print("wrote", OUT / "style_full_vgg.jpg")


def _half(tile: np.ndarray) -> np.ndarray:
    return cv2.resize(tile, (tile.shape[1] // 2, tile.shape[0] // 2), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    torch.set_num_threads(1)
    parts = {"upscaling": upscaling, "gan": gan_upscaling, "removal": removal, "style": style,
             "full-vgg": style_full_vgg}  # fmt: skip
    for part in sys.argv[1:] or parts:
        parts[part]()
