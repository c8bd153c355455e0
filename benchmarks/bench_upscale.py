"""Upscaling benchmark: PSNR on Set5/Set14 and CPU seconds per image, every SR model side by side.

Run: ``.venv/bin/python benchmarks/bench_upscale.py [--quick] [--threads N] [--models DIR]``
(``--smoke``: one small crop per set, a small speed test: checks the benchmark still runs)

For each scale 2/3/4 and each model available: PIL bicubic (the baseline), ours (the package's
``editor/resources/models/upscaler_x{S}.safetensors``, when trained), CARN-M and RFDN (x4) from
the models folder (``--models``, else ``SEMEDIT_MODELS``, else ``../shared/models``; located and
sha256-checked by the model store). Models missing from disk are listed, not failed on.

Protocol (shared MANIFEST sections 2 and 5, implemented in ``editor.ops.sr_train``): HR PNG
cropped to a multiple of the scale, LR by PIL ``BICUBIC``, output clipped and rounded to uint8,
PSNR on BT.601 studio-range Y with `scale` border pixels cut. The "MANIFEST" column repeats the
numbers measured when the weights were staged, so a port that is off shows at once.

Speed: seconds per image of the whole-image forward pass (uint8 in, uint8 out) with
``torch.set_num_threads(--threads)`` (default 2, as in the MANIFEST) after one warm-up run per
model; Set14 images unless ``--quick`` (Set5 only). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _smoke import add_smoke_option, announce_smoke  # noqa: E402
from PIL import Image  # noqa: E402

from editor.engine.store import ModelError, ModelStore, default_models_dir  # noqa: E402
from editor.engine.store import load_state_dict as load_weights  # noqa: E402
from editor.ops import sr_train  # noqa: E402
from editor.ops.sr_models import SRKind, SRUpscaler, build_from_state_dict  # noqa: E402

SHARED = REPO.parent / "shared"
PACKAGED = REPO / "editor" / "resources" / "models"
SCALES = (2, 3, 4)

#: Numbers from the shared MANIFEST (sections 2 and 5), same protocol: (Set5, Set14).
MANIFEST_PSNR: dict[tuple[str, int], tuple[float, float]] = {
    ("bicubic", 2): (33.67, 30.32),
    ("bicubic", 3): (30.40, 27.63),
    ("bicubic", 4): (28.43, 26.09),
    ("CARN-M", 2): (37.68, 33.32),
    ("CARN-M", 3): (34.07, 30.11),
    ("CARN-M", 4): (31.89, 28.43),
    ("RFDN", 4): (32.15, 28.66),
}

Upscale = Callable[[np.ndarray], np.ndarray]
"""(h, w, 3) uint8 LR -> (h*s, w*s, 3) uint8 HR."""


@dataclass
class Row:
    name: str
    psnr: dict[str, float]
    ssim: dict[str, float]
    seconds: float | None


def load_set(folder: Path) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 RGB) for every PNG in a folder; grey images (bridge.png) become RGB."""
    return [
        (p.stem, np.asarray(Image.open(p).convert("RGB"))) for p in sorted(folder.glob("*.png"))
    ]


def evaluate(
    upscale: Upscale, images: Sequence[tuple[str, np.ndarray]], scale: int
) -> tuple[float, float, float]:
    """(mean Y-PSNR, mean Y-SSIM, mean seconds per image of `upscale`), MANIFEST protocol."""
    scores, ssims, seconds = [], [], []
    for _, hr in images:
        hr = sr_train.modcrop(hr, scale)
        lr = sr_train.bicubic_downscale(hr, scale)
        start = time.perf_counter()
        out = upscale(lr)
        seconds.append(time.perf_counter() - start)
        scores.append(sr_train.psnr_y(out, hr, scale))
        ssims.append(sr_train.ssim_y(out, hr, scale))
    return float(np.mean(scores)), float(np.mean(ssims)), float(np.mean(seconds))


class VDSRSize(torch.nn.Module):
    """A VDSR-size network (Kim et al. 2016: 20 conv 3x3 layers, 64 channels, at HR resolution on
    the bicubic upscale), random weights: only its speed is measured, as the issue's yardstick."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU()]
        for _ in range(18):
            layers += [torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU()]
        layers.append(torch.nn.Conv2d(64, 3, 3, padding=1))
        self.body = torch.nn.Sequential(*layers)

    def forward(self, hr_bicubic: torch.Tensor) -> torch.Tensor:
        return hr_bicubic + self.body(hr_bicubic)


def seconds_per_megapixel(run: Callable[[], object], out_pixels: int) -> float:
    run()  # warm-up
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) / (out_pixels / 1e6)


def model_upscale(model: SRUpscaler) -> Upscale:
    return lambda lr: sr_train.upscale_array(model, lr)


def ours(scale: int) -> tuple[SRUpscaler | None, str]:
    """Our packaged net for `scale`, or None with the reason (not trained yet)."""
    path = PACKAGED / f"upscaler_x{scale}.safetensors"
    if not path.is_file():
        return None, f"ours x{scale}: no {path.name} in {PACKAGED} (not trained yet)"
    return build_from_state_dict("residual", load_weights(path), scale), ""


def pretrained(
    store: ModelStore, model_id: str, kind: SRKind, scale: int
) -> tuple[SRUpscaler | None, str]:
    """A store model for `scale`, or None with the store's one-line reason."""
    try:
        state = store.load(model_id)
    except ModelError as exc:
        return None, f"{model_id}: {exc}"
    return build_from_state_dict(kind, state, scale), ""


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Set5 only (time on Set5 too)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--models", type=Path, default=None, help="models folder")
    parser.add_argument("--data", type=Path, default=SHARED / "data", help="holds Set5/, Set14/")
    add_smoke_option(parser)
    args = parser.parse_args(argv)
    if args.smoke:  # one thread: two on a shared or busy core (a parallel test worker) crawl
        args.threads = 1

    torch.set_num_threads(args.threads)
    models_dir = args.models or default_models_dir() or SHARED / "models"
    store = ModelStore(models_dir=models_dir)
    sets = {"Set5": load_set(args.data / "Set5")}
    if not args.quick:
        sets["Set14"] = load_set(args.data / "Set14")
    timed = "Set5" if args.quick else "Set14"
    if not all(sets.values()):
        print(f"no Set5/Set14 PNGs under {args.data}", file=sys.stderr)
        return 1
    side = 256  # the speed test's output side
    if args.smoke:  # both sets, every scale and model: one 96x96 crop per set, a small speed test
        sets = {name: [(images[0][0], images[0][1][:96, :96])] for name, images in sets.items()}
        side = 64
        announce_smoke()

    print("# Upscaling: Y-PSNR (dB) and CPU time\n")
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or 'cpu'}"
        f" ({os.cpu_count()} cores); models from {models_dir}; time = s per {timed} image"
        " (whole image, after a warm-up)\n"
    )
    notes: list[str] = []
    warm_lr = sr_train.bicubic_downscale(sr_train.modcrop(sets["Set5"][0][1], 12), 4)
    for scale in SCALES:
        candidates: list[tuple[str, Upscale]] = [
            ("bicubic", lambda lr, s=scale: sr_train.bicubic_upscale(lr, s))
        ]
        loaded = [
            ("ours (packaged)", *ours(scale)),
            ("CARN-M", *pretrained(store, "carn-m", "carn-m", scale)),
        ]
        if scale == 4:
            loaded.append(("RFDN", *pretrained(store, "rfdn-x4", "rfdn", scale)))
        for name, model, why in loaded:
            if model is None:
                if why not in notes:
                    notes.append(why)
                continue
            candidates.append((name, model_upscale(model)))

        rows: list[Row] = []
        with torch.inference_mode():
            for name, upscale in candidates:
                upscale(warm_lr)  # warm-up: allocator, oneDNN kernels
                psnr: dict[str, float] = {}
                ssim: dict[str, float] = {}
                seconds = None
                for set_name, images in sets.items():
                    psnr[set_name], ssim[set_name], secs = evaluate(upscale, images, scale)
                    if set_name == timed:
                        seconds = secs
                rows.append(Row(name, psnr, ssim, seconds))

        print(f"## x{scale}\n")
        header = " | ".join(f"{s} PSNR / SSIM" for s in sets)
        print(f"| model | {header} | MANIFEST Set5 / Set14 | s / {timed} image |")
        print("|---|" + "---:|" * len(sets) + "---:|---:|")
        bicubic = rows[0].psnr
        for row in rows:
            cells = []
            for set_name in sets:
                gain = row.psnr[set_name] - bicubic[set_name]
                extra = f" (+{gain:.2f})" if row.name != "bicubic" else ""
                cells.append(f"{row.psnr[set_name]:.2f}{extra} / {row.ssim[set_name]:.4f}")
            ref = MANIFEST_PSNR.get((row.name, scale))
            ref_text = f"{ref[0]:.2f} / {ref[1]:.2f}" if ref else "—"
            print(f"| {row.name} | {' | '.join(cells)} | {ref_text} | {fmt(row.seconds, 3)} |")
        print()
    # Speed per output pixel against a VDSR-size network, same run, same threads, x4.
    hr = torch.rand(1, 3, side, side)
    lr = torch.nn.functional.interpolate(hr, scale_factor=0.25, mode="bicubic")
    vdsr = VDSRSize().eval()
    with torch.inference_mode():
        speeds = [("VDSR-size (20x64 at HR)", seconds_per_megapixel(lambda: vdsr(hr), side * side))]
        for name, model, _ in [
            ("ours (packaged)", *ours(4)),
            ("CARN-M", *pretrained(store, "carn-m", "carn-m", 4)),
            ("RFDN", *pretrained(store, "rfdn-x4", "rfdn", 4)),
        ]:
            if model is not None:
                speeds.append((name, seconds_per_megapixel(lambda m=model: m(lr), side * side)))
    print(f"## x4 speed per output megapixel ({side}x{side} output)\n")
    print("| model | s / MP | speed-up vs VDSR-size |")
    print("|---|---:|---:|")
    for name, spm in speeds:
        print(f"| {name} | {spm:.3f} | {speeds[0][1] / spm:.1f}x |")
    print()
    if notes:
        print("Not measured:\n")
        for note in notes:
            print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
