"""Neural-patch refinement benchmark: Telea alone vs Telea + refine_hole (issue 6, stage 2).

Run: ``.venv/bin/python benchmarks/bench_neural_patch.py [--threads N] [--models DIR]
[--sizes 256 512] [--save DIR] [--smoke]`` (``--smoke``: both photos at 96 px, to check that it
still runs; its numbers mean nothing)

Two photos from ``../shared/data/content`` resized to each long side in ``--sizes``, with an
ellipse hole of ~10 % of the image (fixed position, tilted). Stage 1 is OpenCV Telea (radius 5),
the stand-in for the PatchMatch fill; stage 2 is `editor.ops.neural_patch.refine_hole` with its
defaults on the shared VGG19. Columns:

- seconds: wall time of the method (Telea's own time is included in "refined"), on
  ``torch.set_num_threads(--threads)`` (default 1: the CPU budget of one editor job);
- sharpness: mean gradient magnitude in the hole / in a 10-px ring (`fill_metrics`), ~1 = as
  sharp as the surroundings;
- perceptual: `fill_metrics.perceptual_distance` to the original in the hole (VGG relu1_2,
  relu2_2, relu3_3, channel-normalised), lower is better;
- PSNR in the hole, for reference only (it rewards blur).

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402

from editor.engine.models.vgg import FeatureExtractor  # noqa: E402
from editor.engine.store import ModelStore, default_models_dir  # noqa: E402
from editor.ops.fill_metrics import perceptual_distance, sharpness_ratio  # noqa: E402
from editor.ops.neural_patch import refine_hole  # noqa: E402

SHARED = REPO.parent / "shared"
IMAGES = ("tubingen.jpg", "golden_gate.jpg")
SMOKE_SIZES = [96]


def load(path: Path, long_side: int) -> np.ndarray:
    """RGB uint8, area-resized so its long side is `long_side`."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    h, w = bgr.shape[:2]
    s = long_side / max(h, w)
    bgr = cv2.resize(bgr, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def ellipse_hole(h: int, w: int, fraction: float = 0.10) -> np.ndarray:
    """(h, w) uint8 255 inside a 20-degree tilted ellipse covering ~`fraction` of the image."""
    b = np.sqrt(fraction * h * w / (np.pi * 1.25))
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (int(w * 0.55), int(h * 0.6)), (int(1.25 * b), int(b)), 20, 0, 360, 255, -1)
    return mask


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def hole_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    err = (a.astype(np.float64) - b.astype(np.float64))[mask > 0]
    return float(10 * np.log10(255.0**2 / max(1e-10, (err**2).mean())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--save", type=Path, default=None, help="write before/after PNGs here")
    add_smoke_option(parser)
    args = parser.parse_args()
    sizes = SMOKE_SIZES if args.smoke else args.sizes
    torch.set_num_threads(args.threads)
    models = args.models or default_models_dir() or SHARED / "models"
    vgg = FeatureExtractor.from_store(ModelStore(models_dir=models), "cpu")
    if args.smoke:
        announce_smoke()
    print(
        f"VGG: {vgg.source}; torch {torch.__version__}, {args.threads} thread(s),"
        f" {platform.processor() or platform.machine()}\n"
    )
    print("| image | size | hole % | method | seconds | sharpness | perceptual ↓ | hole PSNR |")
    print("|---|---|---|---|---|---|---|---|")
    for name in IMAGES:
        for size in sizes:
            original = load(SHARED / "data" / "content" / name, size)
            h, w = original.shape[:2]
            mask = ellipse_hole(h, w)
            hole = torch.from_numpy(mask > 0)[None, None].float()
            t0 = time.perf_counter()
            telea = cv2.inpaint(original, mask, 5, cv2.INPAINT_TELEA)
            t_telea = time.perf_counter() - t0
            steps = refine_hole(to_tensor(telea), hole, vgg)
            result = list(steps)[-1][1]  # the last yield is (1.0, final image)
            t_refined = time.perf_counter() - t0
            refined = to_uint8(result)
            for method, out, seconds in (
                ("telea", telea, t_telea),
                ("refined", refined, t_refined),
            ):
                pd = perceptual_distance(vgg, to_tensor(original), to_tensor(out), hole)
                print(
                    f"| {name} | {w}x{h} | {100 * mask.mean() / 255:.1f} | {method} |"
                    f" {seconds:.2f} | {sharpness_ratio(out, mask):.2f} | {pd:.3f} |"
                    f" {hole_psnr(original, out, mask):.1f} |"
                )
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                strip = np.concatenate([original, telea, refined], axis=1)
                cv2.imwrite(
                    str(args.save / f"{Path(name).stem}_{size}.png"),
                    cv2.cvtColor(strip, cv2.COLOR_RGB2BGR),
                )


if __name__ == "__main__":
    main()
