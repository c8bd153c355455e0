"""GAN upscaling benchmark: CPU seconds per output megapixel and texture statistics, x4.

Run: ``.venv/bin/python benchmarks/bench_upscale_gan.py [--set set14|photos|all] [--size N]
[--crops K] [--threads N] [--bf16] [--models DIR]`` (``--smoke``: one 64 px crop, one thread:
checks it still runs)

Rows, in one run on the same hold-out crops: bicubic (``cv2.INTER_CUBIC``), the best faithful
(PSNR-trained) model the store has for x4 (RFDN), Real-ESRGAN x4plus (RRDBNet, 23 blocks) in
fp32 NCHW, in fp32 channels_last, in bf16 autocast channels_last (only with ``--bf16`` or on a
CPU with native bf16, AVX512-BF16 / AMX: emulated bf16 is several times slower; there it is
what the editor runs), the
anime model (6 blocks) and SemEdit GAN (``semedit-gan-x4``, the `CompactSR` distilled here from
Real-ESRGAN, training/gan/). Each model is loaded by the model store (sha256-checked); missing
ones are listed.

Crops, two sets, one table each (``--set``): Set14 (baboon, zebra, bridge: texture) and photos
(../shared/data/content: golden_gate, hoovertowernight, tubingen). Neither is a training photo
(the distillation saw only ../shared/data/train) and no setting was tuned on them. ``--crops``
(default 3) ``--size`` px (default 384) HR squares per set, LR by ``cv2.INTER_AREA`` (a
bicubic-like anti-aliased downscale), each method x4, output clipped and rounded to uint8.
Under each table: the issue's criteria as ratios within that run (Gram of the faithful model
over each GAN's, perceptual of each GAN over the faithful model's, SemEdit GAN's speed-up per
output pixel over Real-ESRGAN channels_last and its Gram distance relative to Real-ESRGAN's).

Columns:
- ``s / out MP``: wall seconds of the forward pass per output megapixel (whole crop, one tile,
  ``torch.inference_mode``, ``--threads`` torch threads, after a tiny warm-up call).
- ``max |Δ| vs fp32``: largest difference from Real-ESRGAN fp32's output, in 0..255 levels.
- ``Gram``: texture statistics distance to the original: for VGG19 relu1_1, relu2_1, relu3_1,
  ``‖G(out) − G(hr)‖_F / ‖G(hr)‖_F`` with G the position-normalised Gram matrix
  (`editor.ops.style_losses.gram_matrix`), averaged over layers and crops. Lower = the texture
  looks more like the original's.
- ``perceptual``: aligned VGG distance, ``mean |F(out) − F(hr)| / mean |F(hr)|`` over the same
  layers: lower = closer pixel for pixel in feature space (blur scores well here).
- ``PSNR-Y``: studio-range Y, 4 border pixels cut.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from PIL import Image  # noqa: E402

from editor.engine.models.upscalers import SHIPPED_GAN_ID, choose_upscaler, load_upscaler  # noqa: E402
from editor.engine.store import (  # noqa: E402
    ModelError,
    ModelStore,
    default_models_dir,
    load_state_dict,
)
from editor.ops.sr_models import (  # noqa: E402
    SRUpscaler,
    build_from_state_dict,
    build_rrdbnet_from_ncnn,
)
from editor.ops.style_losses import gram_matrix  # noqa: E402

SHARED = REPO.parent / "shared"
CROP_SETS = {
    "set14": (
        ("Set14/baboon.png", 0.35, 0.25),
        ("Set14/zebra.png", 0.4, 0.5),
        ("Set14/bridge.png", 0.5, 0.5),
    ),
    "photos": (
        ("content/golden_gate.jpg", 0.55, 0.5),
        ("content/hoovertowernight.jpg", 0.5, 0.5),
        ("content/tubingen.jpg", 0.5, 0.5),
    ),
}
"""Image (under ../shared/data) and the crop centre as fractions of (height, width)."""
FAITHFUL_ROW, EDITOR, OURS_ROW = "(faithful)", " (editor)", "SemEdit GAN"
"""Row names: the faithful model's ends with FAITHFUL_ROW; the variant the editor itself runs
on this CPU ends with EDITOR (Real-ESRGAN: bf16 channels_last where the CPU has native bf16,
else fp32 channels_last); the issue's criteria compare those."""
LAYERS = ("relu1_1", "relu2_1", "relu3_1")

Upscale = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Row:
    name: str
    seconds_per_mp: float
    max_diff: float | None
    gram: float
    perceptual: float
    psnr: float


def _crops(which: str, size: int, count: int) -> list[np.ndarray]:
    out = []
    for name, fy, fx in CROP_SETS[which][:count]:
        rgb = np.asarray(Image.open(SHARED / "data" / name).convert("RGB"))
        h, w = rgb.shape[:2]
        side = min(size, h, w) // 4 * 4
        y = min(max(0, int(fy * h) - side // 2), h - side)
        x = min(max(0, int(fx * w) - side // 2), w - side)
        out.append(np.ascontiguousarray(rgb[y : y + side, x : x + side]))
    return out


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t[0].float().clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def _psnr_y(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    def y(rgb: np.ndarray) -> np.ndarray:
        f = rgb.astype(np.float64)
        return 16.0 + (65.481 * f[..., 0] + 128.553 * f[..., 1] + 24.966 * f[..., 2]) / 255.0

    d = (y(a) - y(b))[border:-border, border:-border]
    return float(10 * np.log10(255.0**2 / max(np.mean(d**2), 1e-12)))


class Texture:
    """VGG Gram and aligned feature distances to the original (see the module docstring)."""

    def __init__(self, models_dir: Path | None) -> None:
        from editor.engine.models.vgg import shared_features

        self.features = shared_features(models_dir, "cpu")

    def __call__(self, out: np.ndarray, hr: np.ndarray) -> tuple[float, float]:
        with torch.inference_mode():
            fo = self.features(_to_tensor(out), LAYERS)
            fh = self.features(_to_tensor(hr), LAYERS)
        grams, percs = [], []
        for layer in LAYERS:
            go, gh = gram_matrix(fo[layer]), gram_matrix(fh[layer])
            grams.append(float((go - gh).norm() / gh.norm().clamp_min(1e-12)))
            percs.append(float((fo[layer] - fh[layer]).abs().mean() / fh[layer].abs().mean()))
        return float(np.mean(grams)), float(np.mean(percs))


def _ours(store: ModelStore, bf16: bool) -> tuple[list[tuple[str, Upscale]], list[str]]:
    """SemEdit GAN in float32 (NCHW, channels_last) and bf16; the editor's row is tagged."""
    try:
        choice = choose_upscaler(store, 4, SHIPPED_GAN_ID)
    except ModelError as exc:
        return [], [f"{SHIPPED_GAN_ID}: {exc}"]
    editor_bf16 = load_upscaler(choice, "cpu").bf16

    def compact() -> SRUpscaler:
        return build_from_state_dict("compact", load_state_dict(choice.path), 4)

    nhwc = compact()
    nhwc.net.to(memory_format=torch.channels_last)

    def channels_last(x: torch.Tensor) -> torch.Tensor:
        return nhwc(x.contiguous(memory_format=torch.channels_last))

    rows: list[tuple[str, Upscale]] = [
        (f"{OURS_ROW} fp32{'' if editor_bf16 else EDITOR}", compact()),
        (f"{OURS_ROW} fp32 channels_last", channels_last),
    ]
    if bf16:
        rows.append((f"{OURS_ROW} bf16{EDITOR if editor_bf16 else ''}", compact().use_bf16()))
    return rows, []


def _methods(store: ModelStore, bf16: bool) -> tuple[list[tuple[str, Upscale]], list[str]]:
    methods: list[tuple[str, Upscale]] = [
        (
            "bicubic",
            lambda x: torch.nn.functional.interpolate(
                x, scale_factor=4, mode="bicubic", align_corners=False
            ),
        )
    ]
    missing: list[str] = []
    ours, ours_missing = _ours(store, bf16)
    try:
        faithful = choose_upscaler(store, 4)
        methods.append((f"{faithful.title} {FAITHFUL_ROW}", load_upscaler(faithful, "cpu")))
    except ModelError as exc:
        missing.append(f"faithful: {exc}")
    try:
        choice = choose_upscaler(store, 4, "realesrgan-x4plus")
        gan = load_upscaler(choice, "cpu")
    except ModelError as exc:
        missing.append(f"realesrgan-x4plus: {str(exc).split('.')[0]}")
        return methods + ours, missing + ours_missing
    editor_bf16 = gan.bf16  # what load_upscaler chose for this CPU
    gan.net.to(memory_format=torch.contiguous_format)  # the plain fp32 row: NCHW
    gan.channels_last = gan.bf16 = False
    methods.append(("Real-ESRGAN fp32", gan))
    assert choice.param_path is not None

    def rrdbnet() -> SRUpscaler:  # channels_last, fp32
        return build_rrdbnet_from_ncnn(choice.param_path.read_text(), choice.path.read_bytes(), 4)

    tag = "" if editor_bf16 else EDITOR
    methods.append((f"Real-ESRGAN fp32 channels_last{tag}", rrdbnet()))
    if bf16:
        tag = EDITOR if editor_bf16 else ""
        methods.append((f"Real-ESRGAN bf16 channels_last{tag}", rrdbnet().use_bf16()))
    else:
        missing.append(
            "Real-ESRGAN bf16: skipped, this CPU has no native bf16 (pass --bf16 to run it)"
        )
    try:
        anime = load_upscaler(choose_upscaler(store, 4, "realesrgan-x4plus-anime"), "cpu")
        methods.append(("Real-ESRGAN anime (6 blocks)", anime))
    except ModelError as exc:
        missing.append(f"realesrgan-x4plus-anime: {str(exc).split('.')[0]}")
    return methods + ours, missing + ours_missing


def native_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    cpu = getattr(torch, "cpu", None)
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(cpu, probe, None)
        if fn is not None and fn():
            return True
    return False


def _measure(name: str, fn: Upscale, crops: list[np.ndarray], texture: Texture,
             fp32: list[np.ndarray]) -> Row:  # fmt: skip
    seconds = pixels = 0.0
    grams, percs, psnrs, diffs = [], [], [], []
    with torch.inference_mode():
        fn(torch.rand(1, 3, 8, 8))  # warm-up (allocator, kernels)
    for i, hr in enumerate(crops):
        side = hr.shape[0]
        lr = cv2.resize(hr, (side // 4, side // 4), interpolation=cv2.INTER_AREA)
        x = _to_tensor(lr)
        start = time.perf_counter()
        with torch.inference_mode():
            y = fn(x)
        seconds += time.perf_counter() - start
        pixels += y.shape[-1] * y.shape[-2]
        out = _to_uint8(y)
        if name == "Real-ESRGAN fp32":
            fp32.append(out)
        if name.startswith("Real-ESRGAN") and "anime" not in name and fp32:
            diffs.append(float(np.abs(out.astype(int) - fp32[i].astype(int)).max()))
        g, p = texture(out, hr)
        grams.append(g)
        percs.append(p)
        psnrs.append(_psnr_y(out, hr))
    return Row(
        name,
        seconds / (pixels / 1e6),
        max(diffs) if diffs else None,
        float(np.mean(grams)),
        float(np.mean(percs)),
        float(np.mean(psnrs)),
    )


def _criteria(rows: list[Row]) -> list[str]:
    """The issue's targets as ratios of this run's rows (those present)."""
    faithful = next((r for r in rows if r.name.endswith(FAITHFUL_ROW)), None)
    editor = [r for r in rows if r.name.endswith(EDITOR)]
    real = next((r for r in editor if r.name.startswith("Real-ESRGAN")), None)
    ours = next((r for r in editor if r.name.startswith(OURS_ROW)), None)
    lines = []
    if faithful is not None:
        for gan in (g for g in (real, ours) if g is not None):
            lines.append(
                f"{gan.name}: Gram {faithful.gram / gan.gram:.2f}× closer than "
                f"{faithful.name} (target ≥ 1.5), perceptual "
                f"{gan.perceptual / faithful.perceptual:.2f}× its (target ≤ 1.5)"
            )
    if real is not None and ours is not None:
        lines.append(
            f"{ours.name} vs {real.name}: {real.seconds_per_mp / ours.seconds_per_mp:.1f}× "
            f"faster per output pixel (target ≥ 10), Gram {ours.gram / real.gram - 1:+.0%} "
            "(target ≤ +15 %)"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="all", choices=(*CROP_SETS, "all"))
    parser.add_argument("--size", type=int, default=384, help="HR crop side (default 384)")
    parser.add_argument("--crops", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast")
    parser.add_argument("--models", type=Path, default=None)
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    if args.smoke:
        announce_smoke()
        args.size, args.crops, args.threads = 64, 1, 1
    torch.set_num_threads(args.threads)
    models_dir = args.models or default_models_dir() or (SHARED / "models")
    store = ModelStore(models_dir=models_dir)
    texture = Texture(models_dir)
    methods, missing = _methods(store, args.bf16 or native_bf16())
    for which in CROP_SETS if args.set == "all" else (args.set,):
        crops = _crops(which, args.size, args.crops)
        fp32: list[np.ndarray] = []
        rows = [_measure(name, fn, crops, texture, fp32) for name, fn in methods]
        side = crops[0].shape[0]
        print(
            f"x4 on {len(crops)} {which} crop(s) of {side} px (LR {side // 4} px), "
            f"{args.threads} torch thread(s), CPU {torch.backends.cpu.get_cpu_capability()}\n"
        )
        print("| method | s / out MP | max \\|Δ\\| vs fp32 | Gram ↓ | perceptual ↓ | PSNR-Y |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows:
            diff = "" if r.max_diff is None else f"{r.max_diff:.0f}"
            print(
                f"| {r.name} | {r.seconds_per_mp:.2f} | {diff} | {r.gram:.3f} | "
                f"{r.perceptual:.3f} | {r.psnr:.2f} |"
            )
        print()
        for line in _criteria(rows):
            print(f"- {line}")
        print()
    for line in missing:
        print(f"- {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
