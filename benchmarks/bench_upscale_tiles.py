"""Tiled upscaling: seconds, peak memory, viewport-first latency, in-RAM vs memmap spilling.

    .venv/bin/python benchmarks/bench_upscale_tiles.py [--models ../shared/models] [--threads N]

``--smoke``: every case at a tenth of its side, 32 px tiles: checks the benchmark still runs.

Each case runs in a fresh subprocess so its peak RSS (``getrusage`` ru_maxrss, minus what the
process held before the run: interpreter, torch, model, input) is its own; ``numpy peak`` is the
largest numpy heap seen by tracemalloc during the run (numpy reports its buffers to tracemalloc;
file mappings and torch's own buffers are not in it).

Cases:

- ``carn-ram`` / ``carn-memmap``: CARN-M ×4 on a 1000x750 synthetic photo-like image (12 MP out),
  the viewport (the 480x270 LR pixels a 1920x1080 screen shows at 100 % of the result) in the
  centre; the blender in RAM (default budget) vs spilled to files (``max_memory_mb=0``).
  ``first preview`` is the bicubic preview sent before any tile, ``first net tile`` the first
  preview holding network pixels, ``viewport done`` the preview once every tile under the
  viewport is done, ``total`` the whole result. ``raster est.`` is when the viewport would have
  been done in raster order (the index of its last tile in raster order times the mean tile time).
- ``carn-12mp``: the issue's latency target, a 12 MP (4000x3000) input ×4 (a 192 MP output, so it
  spills by default); stops once the viewport is done.
- ``bicubic-100mp-*``: memory only, a 100 MP output (2500x2500 ×4) with a bicubic stand-in for the
  network (the tiling, blending and stitching are the same as with a real model), in RAM vs
  spilled.

The trainer shares this machine: with it running the default is 1 torch thread, else 2.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _smoke import add_smoke_option, announce_smoke  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CASES = ("carn-ram", "carn-memmap", "carn-12mp", "bicubic-100mp-ram", "bicubic-100mp-memmap")


def trainer_running() -> bool:
    """Whether a `train_upscaler` process is running (Linux /proc; False elsewhere)."""
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if pid.isdigit():
            try:
                if b"train_upscaler" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return True
            except OSError:
                continue
    return False


def synthetic(height: int, width: int) -> np.ndarray:
    """A deterministic photo-like RGB uint8 image: smooth gradients, edges and fine noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack(
        [
            128 + 90 * np.sin(xx / 37.0) * np.cos(yy / 53.0),
            128 + 80 * np.cos((xx + yy) / 71.0),
            128 + 60 * np.sin(xx / 11.0 + yy / 17.0),
        ],
        axis=-1,
    )
    img[(xx // 64 + yy // 64) % 5 == 0] *= 0.5  # hard edges
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def run_case(case: str, models: Path, threads: int, smoke: bool = False) -> dict:
    """One case's figures. smoke: images and viewport at a tenth of their side and 32 px tiles
    (several tiles, the viewport a few of them), the 12 MP case's budget below its output so it
    still spills and stops at the viewport."""
    import torch
    import torch.nn.functional as F

    from editor.core.geometry import Rect
    from editor.engine.edits import upscale
    from editor.engine.jobs import JobCancelled, RunContext
    from editor.engine.models.manager import Models
    from editor.engine.models.upscalers import SRModelChoice, choose_upscaler, load_upscaler
    from editor.engine.store import ModelStore
    from editor.ops.tiling import plan_tiles

    torch.set_num_threads(threads)
    scale = 4
    if case.startswith("carn"):
        h, w = (3000, 4000) if case == "carn-12mp" else (750, 1000)
        choice = choose_upscaler(ModelStore(models_dir=models), scale, "carn-m")
        net = load_upscaler(choice, "cpu")
    else:
        h, w = 2500, 2500
        choice = SRModelChoice("bicubic", "bicubic", "residual", scale, Path("-"), "-")

        def net(x: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)

    vw, vh = 480, 270
    budget = 0 if case.endswith("memmap") else (2048 if case == "carn-12mp" else 1 << 20)
    sizes: dict[str, int] = {}
    if smoke:
        h, w, vw, vh = h // 10, w // 10, vw // 10, vh // 10
        budget = 16 if case == "carn-12mp" else budget  # its 31 MB output still spills
        sizes = {"tile": 32}
    image = synthetic(h, w)
    viewport = Rect(w // 2 - vw // 2, h // 2 - vh // 2, vw, vh)
    request = upscale.UpscaleRequest(image, scale, choice, max_memory_mb=budget, **sizes)
    overlap = max(request.overlap, int(getattr(net, "overlap", 0)))
    raster = plan_tiles(w, h, request.tile, overlap)
    last_visible = max(i for i, t in enumerate(raster) if not t.core.intersect(viewport).empty)

    ctx = RunContext(viewport=viewport, models=Models(provided={"upscaler": net}))
    base_rss = rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    times: dict[str, float] = {}
    gen = upscale.run(request, ctx)
    previews = 0
    tiles = 0
    result = None
    try:
        while True:
            update = next(gen)
            now = time.perf_counter() - t0
            if "tile " in update.message:
                tiles += 1
            if update.preview is not None:
                previews += 1
                times.setdefault("first_preview", now)
                if tiles:
                    times.setdefault("first_net_tile", now)
            if tiles and "viewport_done" not in times and update.preview is not None:
                # the run sends a preview as soon as no visible tile is left
                visible = sum(1 for t in raster if not t.core.intersect(viewport).empty)
                if tiles >= visible:
                    times["viewport_done"] = now
                    if case == "carn-12mp":
                        ctx.cancel_event.set()
    except StopIteration as stop:
        result = stop.value
    except JobCancelled:
        pass
    total = time.perf_counter() - t0
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out: dict = {
        "case": case,
        "input": f"{w}x{h}",
        "output_mp": h * w * scale * scale / 1e6,
        "tiles": len(raster),
        "tiles_done": tiles,
        "previews": previews,
        "total_s": total if result is not None else None,
        "peak_rss_mb": rss_mb() - base_rss,
        "numpy_peak_mb": numpy_peak / 2**20,
        "spilled": request.output_bytes() > budget * 2**20,
        **{k: v for k, v in times.items()},
    }
    if tiles and result is not None:
        out["raster_est_s"] = (last_visible + 1) * total / len(raster)
    if result is not None:
        out["result_mapped"] = isinstance(result.base, mmap.mmap)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--case", choices=CASES, default=None, help="run one case (internal)")
    parser.add_argument("--cases", nargs="*", choices=CASES, default=list(CASES))
    add_smoke_option(parser)
    args = parser.parse_args()
    threads = args.threads or (1 if trainer_running() else 2)
    if args.smoke:  # one thread: two on a shared or busy core (a parallel test worker) crawl
        threads = 1
    if args.case:
        print(json.dumps(run_case(args.case, args.models, threads, args.smoke)))
        return

    if args.smoke:
        announce_smoke()
    print(f"torch threads: {threads} (trainer running: {trainer_running()}), CPU only\n")
    rows = []
    for case in args.cases:
        proc = subprocess.run(
            [sys.executable, __file__, "--case", case, "--models", str(args.models)]
            + ["--threads", str(threads)]
            + (["--smoke"] if args.smoke else []),
            capture_output=True,
            text=True,
        )
        if proc.returncode:  # the case's own traceback, not just "exit status 1"
            sys.exit(f"case {case} failed:\n{proc.stderr}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    def fmt(v: float | None, digits: int = 2) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    head = (
        "| case | input → output | tiles | spilled | first preview s | first net tile s "
        "| viewport done s | raster est. s | total s | peak RSS MB | numpy peak MB |"
    )
    print(head)
    print("|" + "---|" * 11)
    for r in rows:
        print(
            f"| {r['case']} | {r['input']} ×4 → {r['output_mp']:.0f} MP | "
            f"{r['tiles_done']}/{r['tiles']} | {'yes' if r['spilled'] else 'no'} | "
            f"{fmt(r.get('first_preview'), 3)} | {fmt(r.get('first_net_tile'))} | "
            f"{fmt(r.get('viewport_done'))} | {fmt(r.get('raster_est_s'))} | "
            f"{fmt(r.get('total_s'))} | {r['peak_rss_mb']:.0f} | {r['numpy_peak_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
