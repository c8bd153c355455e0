"""Engine benchmark: does the UI thread stay responsive while a job runs, and how fast is Remove?

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (sets QT_QPA_PLATFORM=offscreen itself;
``--smoke``: sub-second jobs and a 240 px photo, once each, to check it still runs).

1. UI stalls. A 10 ms QTimer ticks on the UI thread while the engine runs a ~5 s CPU job (torch
   matmuls / numpy / pure Python / the Remove edit on a real photo, in ~50 ms chunks with
   check_cancelled between). The *stall* of a tick is how late it came: gap - 10 ms. Baseline:
   the same timer with no job running, in the same process. Goal: largest stall < 50 ms.
2. Remove timing on ../shared/data/content/golden_gate.jpg with a ~10 % (and a ~1 %) elliptical
   mask, every method: the edit (crop + inpaint + feathered composite) against running the same
   fill on the whole image (quick, Telea, NS; refined exists only as the edit). Refined reads
   its VGG19 weights from ../shared/models.

Prints markdown tables.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer  # noqa: E402

from editor.engine.device import describe_device  # noqa: E402
from editor.engine.edits import remove  # noqa: E402
from editor.engine.jobs import RunContext, RunFactory, Update, drive  # noqa: E402
from editor.engine.models.manager import Models  # noqa: E402
from editor.engine.store import ModelStore  # noqa: E402
from editor.engine.worker import Engine  # noqa: E402
from editor.ops.inpaint.classic import inpaint_opencv  # noqa: E402
from editor.ops.inpaint.hole import work_rect  # noqa: E402
from editor.ops.patchmatch import patchmatch_fill  # noqa: E402

TICK_MS = 10
JOB_S = 5.0
BASELINE_S = 3.0
GOAL_MS = 50.0
PHOTO = REPO.parent / "shared" / "data" / "content" / "golden_gate.jpg"
MODELS = REPO.parent / "shared" / "models"
SMOKE_JOB_S = 0.3
"""Smoke run: each stall job and the idle baseline last this long (still some 30 ticks)."""
SMOKE_LONG_SIDE = 240
"""Smoke run: the photo's long side. The smallest at which refined, on the 10 % mask, still
works at two scales (its crop's long side over 160 px), as it does at the full size."""


def chunked(name: str, step: Callable[[], object], seconds: float = JOB_S) -> RunFactory:
    """A ~`seconds` job doing `step` in ~50 ms chunks, checking for cancellation between them."""

    def factory(ctx: RunContext):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            chunk_end = time.perf_counter() + 0.05
            while time.perf_counter() < chunk_end:
                step()
            ctx.check_cancelled()
            yield Update(message=name)
        return None

    factory.__name__ = name
    return factory


def torch_step() -> Callable[[], object]:
    a = torch.randn(512, 512)
    return lambda: torch.tanh(a @ a)


def numpy_step() -> Callable[[], object]:
    rng = np.random.default_rng(0)
    x = rng.random(200_000)
    return lambda: np.sort(x)


def python_step() -> Callable[[], object]:
    """Pure Python holds the GIL: the worst case for a Python UI thread."""
    return lambda: sum(i * i for i in range(2_000))


def remove_step(image: np.ndarray, mask: np.ndarray) -> Callable[[], object]:
    request = remove.RemoveRequest(image, mask, method="telea")
    return lambda: drive(remove.run(request, RunContext()))


def measure_stalls(
    engine: Engine, factory: RunFactory | None, idle_s: float = BASELINE_S, job_s: float = JOB_S
) -> tuple[int, float, float]:
    """Run the UI loop with a 10 ms timer (during the job of ~`job_s`, or `idle_s` idle); stall
    stats."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()
    if factory is None:
        QTimer.singleShot(int(idle_s * 1000), loop.quit)
    else:

        def done(*_args: object) -> None:
            loop.quit()

        engine.finished.connect(done)
        engine.failed.connect(done)
        engine.submit(factory.__name__, factory)
        QTimer.singleShot(int((job_s + 10) * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    if factory is not None:
        engine.finished.disconnect(done)
        engine.failed.disconnect(done)
    stalls = np.maximum(np.diff(ticks) * 1000 - TICK_MS, 0)
    return len(ticks), float(np.percentile(stalls, 99)), float(stalls.max())


def elliptical_mask(h: int, w: int, fraction: float) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    k = np.sqrt(fraction / np.pi)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * k), int(h * k)), 0, 0, 360, 255, -1)
    return mask


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    # Smoke: every stall job and every mask and method, but short jobs, a small photo, one run.
    job_s, idle_s, repeats = (SMOKE_JOB_S, SMOKE_JOB_S, 1) if args.smoke else (JOB_S, BASELINE_S, 3)
    app = QCoreApplication.instance() or QCoreApplication(sys.argv)
    engine = Engine(device="cpu")
    photo = None
    if PHOTO.is_file():
        photo = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
        if args.smoke:
            h, w = photo.shape[:2]
            scale = SMOKE_LONG_SIDE / max(h, w)
            size = (round(w * scale), round(h * scale))
            photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)

    jobs: list[tuple[str, RunFactory | None]] = [
        ("baseline: no job", None),
        ("torch 512² matmul + tanh", chunked("torch", torch_step(), job_s)),
        ("numpy sort 200k", chunked("numpy", numpy_step(), job_s)),
        ("pure Python (holds the GIL)", chunked("python", python_step(), job_s)),
    ]
    if photo is not None:
        mask = elliptical_mask(*photo.shape[:2], 0.10)
        jobs.append(
            (
                "Remove (telea) on the photo, repeated",
                chunked("remove", remove_step(photo, mask), job_s),
            )
        )

    if args.smoke:
        announce_smoke()
    print(
        f"\n## UI thread stalls while a ~{job_s:g} s job runs "
        f"({describe_device(engine.device)}, {os.cpu_count()} cores, "
        f"{TICK_MS} ms QTimer; stall = tick lateness)\n"
    )
    print(
        "| job on the engine thread | ticks | p99 stall (ms) | largest stall (ms) | "
        f"goal < {GOAL_MS:.0f} ms |"
    )
    print("|---|---:|---:|---:|:---:|")
    for label, factory in jobs:
        n, p99, worst = measure_stalls(engine, factory, idle_s, job_s)
        ok = "yes" if worst < GOAL_MS else "**no**"
        print(f"| {label} | {n} | {p99:.1f} | {worst:.1f} | {ok} |", flush=True)
    engine.shutdown()
    del app

    if photo is None:
        print(f"\n({PHOTO} not found: Remove timing skipped)")
        return
    h, w = photo.shape[:2]
    print(f"\n## Remove on {PHOTO.name} ({w}x{h}), best of {repeats}\n")
    print(
        "| mask | method | edit: crop + inpaint + composite (s) | "
        "baseline: inpaint whole image (s) | crop |"
    )
    print("|---|---|---:|---:|---|")
    for fraction in (0.10, 0.01):
        mask = elliptical_mask(h, w, fraction)
        for method in remove.METHODS:
            models = Models(ModelStore(models_dir=MODELS))
            if method == "refined" and not remove.refined_available(models):
                print(f"| | refined | no VGG19 weights in {MODELS} | | |")
                continue
            request = remove.RemoveRequest(photo, mask, method=method)
            crop = work_rect(mask, method in remove.PATCH_METHODS, request.margin)
            ctx = RunContext(models=models)
            edit_s = best_of(lambda r=request, c=ctx: drive(remove.run(r, c)), repeats)
            whole = whole_image_fill(method, photo, mask)
            full = "—" if whole is None else f"{best_of(whole, repeats):.3f}"
            print(
                f"| {100 * (mask > 0).mean():.1f} % | {method} | {edit_s:.3f} | {full} | "
                f"{crop.w}x{crop.h} |",
                flush=True,
            )


def whole_image_fill(method: str, photo: np.ndarray, mask: np.ndarray) -> Callable | None:
    """The method run on the whole image instead of the edit's crop (None for refined, which
    exists only as the edit)."""
    if method == "quick":
        return lambda: patchmatch_fill(photo, mask > 0)
    if method in ("telea", "ns"):
        return lambda: inpaint_opencv(photo, mask, method)
    return None


if __name__ == "__main__":
    main()
