"""PatchMatch vs OpenCV Telea on object-sized holes: seconds, sharpness and PSNR in the hole.

Run: ``.venv/bin/python benchmarks/bench_patchmatch.py [--repeat N] [--images PATH ...]``
(``--smoke``: each image at 192 px, one run, to check it still works).

Each image (default: two ``../shared/data/content`` photos and Set14 baboon) is resized to 512 px
on its long side and gets a generated object-like hole: a smooth random blob covering 10 % of
the image, at a different place per image. ``editor.ops.patchmatch.patchmatch_fill`` (defaults)
and ``cv2.inpaint(..., 5, INPAINT_TELEA)`` (the baseline) fill it in the same process.

- seconds: the median of ``--repeat`` runs (after one warm-up run per method);
- sharpness: mean Sobel gradient magnitude inside the hole / in a 10-px ring around it (issue 6:
  near 1 = as sharp as the surroundings; Telea's smear gives about 0.2–0.4);
- PSNR (dB) of the hole against the original pixels. It rewards blur, so a sharp plausible fill
  may score lower than Telea here; read it with the sharpness column.

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402

from editor.ops.patchmatch import patchmatch_fill  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DEFAULT_IMAGES = (
    DATA / "content" / "golden_gate.jpg",
    DATA / "content" / "tubingen.jpg",
    DATA / "Set14" / "baboon.png",
)
#: Blob centres (fraction of width, height), one per image, cycled.
CENTRES = ((0.55, 0.6), (0.4, 0.45), (0.5, 0.35))
SMOKE_LONG_SIDE = 192
"""Smoke run: the images' long side. The smallest at which PatchMatch's pyramid has three levels
on each default image, so a coarse level's full iteration count runs as well as the two finest
levels' halved one."""


def load_rgb(path: Path, long_side: int = 512) -> np.ndarray:
    """The image as (H, W, 3) uint8 RGB, resized (area) to `long_side` on its long side."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(path)
    h, w = bgr.shape[:2]
    scale = long_side / max(h, w)
    size = (round(w * scale), round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(bgr, size, interpolation=interp)[..., ::-1])


def blob_hole(
    shape: tuple[int, int], centre: tuple[float, float], fraction: float = 0.10, seed: int = 0
) -> np.ndarray:
    """An object-like (H, W) bool hole: a smooth random star-shaped blob of `fraction` area."""
    h, w = shape
    rng = np.random.default_rng(seed)
    angles = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    radius = np.ones_like(angles)
    for k in range(1, 5):  # a few low harmonics: a lumpy, object-like outline
        radius += rng.uniform(0, 0.25 / k) * np.cos(k * angles + rng.uniform(0, 2 * np.pi))
    stretch = rng.uniform(0.7, 1.4)
    cx, cy = centre[0] * w, centre[1] * h
    scale = 1.0
    hole = np.zeros((h, w), np.uint8)
    for _ in range(30):  # scale the outline until the area is right
        pts = np.stack(
            [cx + scale * stretch * radius * np.cos(angles), cy + scale * radius * np.sin(angles)],
            -1,
        )
        hole[:] = 0
        cv2.fillPoly(hole, [np.round(pts).astype(np.int32)], 1)
        scale *= np.sqrt(fraction * h * w / max(int(hole.sum()), 1))
    return hole > 0


def sharpness(image: np.ndarray, hole: np.ndarray) -> float:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
    ring = (cv2.dilate(hole.astype(np.uint8), np.ones((21, 21), np.uint8)) > 0) & ~hole
    return float(grad[hole].mean() / grad[ring].mean())


def psnr_in_hole(result: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    mse = float(np.mean((result[hole].astype(np.float64) - truth[hole]) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-10))


def timed(fill: Callable[[], np.ndarray], repeat: int) -> tuple[np.ndarray, float]:
    """The result and the median seconds of `repeat` runs after one warm-up."""
    result = fill()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fill()
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, nargs="+", default=list(DEFAULT_IMAGES))
    parser.add_argument("--repeat", type=int, default=3)
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    if args.smoke:  # every image, small, timed once after the warm-up
        args.repeat = 1
        announce_smoke()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"CPU: {platform.processor() or platform.machine()}, {cores} cores visible, "
        f"load average {os.getloadavg()[0]:.2f}; cv2 threads {cv2.getNumThreads()}; "
        f"median of {args.repeat} runs\n"
    )
    print(
        "| image | size | hole % | PatchMatch s | Telea s | PatchMatch sharpness | "
        "Telea sharpness | PatchMatch PSNR | Telea PSNR |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for index, path in enumerate(args.images):
        truth = load_rgb(path, SMOKE_LONG_SIDE) if args.smoke else load_rgb(path)
        hole = blob_hole(truth.shape[:2], CENTRES[index % len(CENTRES)], seed=index)
        damaged = truth.copy()
        damaged[hole] = 0  # nothing of the original leaks into either fill
        mask = hole.astype(np.uint8)
        ours, t_ours = timed(lambda d=damaged, h=hole: patchmatch_fill(d, h), args.repeat)
        telea, t_telea = timed(
            lambda d=damaged, m=mask: cv2.inpaint(d, m, 5.0, cv2.INPAINT_TELEA), args.repeat
        )
        print(
            f"| {path.name} | {truth.shape[1]}x{truth.shape[0]} | {100 * hole.mean():.1f} "
            f"| {t_ours:.2f} | {t_telea:.3f} "
            f"| {sharpness(ours, hole):.2f} | {sharpness(telea, hole):.2f} "
            f"| {psnr_in_hole(ours, truth, hole):.2f} | {psnr_in_hole(telea, truth, hole):.2f} |"
        )


if __name__ == "__main__":
    main()
