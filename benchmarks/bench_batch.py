"""A folder of photos through `semedit upscale` and `semedit remove`: --jobs 1 against --jobs 2.

Run: ``.venv/bin/python benchmarks/bench_batch.py [--photos 20] [--size 480]`` (``--smoke``: three
tiny photos, to check it still works).

The photos are the first N of ``../shared/data/train/sun_hays80`` (not the Set5/Set14 test
sets), resized so their long side is ``--size``; remove gets a mask per photo (a disc a tenth of
the image, in a folder, matched by name). Each case is the whole command in a fresh process, as a
user runs it, so start-up, model loading, decoding and encoding are in the time: the worker
processes each pay their own start-up and model load, which is what --jobs costs. Both runs of a
case go in the same process of this script, one after the other.

Prints a Markdown table: wall seconds with --jobs 1 and --jobs 2 and the speed-up (jobs 1 / jobs 2).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from PIL import Image  # noqa: E402

PHOTOS = REPO.parent / "shared" / "data" / "train" / "sun_hays80"


def make_inputs(folder: Path, count: int, size: int) -> tuple[Path, Path]:
    """(photo folder, mask folder) with `count` photos of long side `size`."""
    photos, masks = folder / "photos", folder / "masks"
    photos.mkdir()
    masks.mkdir()
    sources = sorted(PHOTOS.glob("*.jpg"))[:count]
    if len(sources) < count:
        raise SystemExit(f"need {count} photos in {PHOTOS}, found {len(sources)}")
    for source in sources:
        with Image.open(source) as im:
            im = im.convert("RGB")
            im.thumbnail((size, size), Image.Resampling.LANCZOS)
            im.save(photos / source.name, quality=92)
            width, height = im.size
        yy, xx = np.mgrid[0:height, 0:width]
        radius = (0.1 * width * height / np.pi) ** 0.5
        disc = (xx - width / 2) ** 2 + (yy - height / 2) ** 2 <= radius**2
        Image.fromarray((disc * 255).astype(np.uint8)).save(masks / f"{source.stem}.png")
    return photos, masks


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "editor", *argv], capture_output=True, text=True, cwd=REPO
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"semedit {' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--size", type=int, default=480, help="long side of each photo")
    add_smoke_option(parser)
    args = parser.parse_args()
    if args.smoke:
        announce_smoke()
        args.photos, args.size = 3, 64
    env_threads = os.environ.get("OMP_NUM_THREADS")
    cases = {
        "upscale ×2 (semedit-sr)": ["upscale", "{photos}", "--scale", "2"],
        "remove --method quick": ["remove", "{photos}", "--mask", "{masks}", "--method", "quick"],
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        photos, masks = make_inputs(Path(tmp), args.photos, args.size)
        for name, template in cases.items():
            argv = [a.format(photos=photos, masks=masks) for a in template]
            seconds = {}
            for jobs in (1, 2):
                out = Path(tmp) / f"out-{len(rows)}-{jobs}"
                seconds[jobs] = timed([*argv, "-o", str(out), "--jobs", str(jobs)])
                assert len(list(out.iterdir())) == args.photos
            rows.append((name, seconds[1], seconds[2]))
    print(f"{args.photos} photos, long side {args.size} px; {os.cpu_count()} cores")
    if env_threads:
        print(f"(OMP_NUM_THREADS={env_threads} set by the caller)")
    print()
    print("| case | jobs 1 s | jobs 2 s | speed-up |")
    print("|---|---:|---:|---:|")
    for name, one, two in rows:
        print(f"| {name} | {one:.1f} | {two:.1f} | {one / two:.2f}× |")


if __name__ == "__main__":
    main()
