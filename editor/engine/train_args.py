"""The trainers' command lines and input checks, apart from the trainers so that
`semedit train-upscaler` / `semedit train-style` can say "no images in DIR" (or print --help)
without importing torch first. No torch, numpy or OpenCV here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from editor.core.imageio import ImageIOError, probe_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
#: editor.ops.style_train.NEW_STYLE_INPUT_NOISE, for the help text (a test keeps them equal).
NEW_STYLE_INPUT_NOISE = 0.05

UPSCALER_DESCRIPTION = """\
Train the residual SR network for one scale, with checkpoints and resume.

    semedit train-upscaler --scale 2 --images PHOTOS/ -o my_x2.safetensors [--minutes 30]
    semedit train-upscaler --scale 2 --images PHOTOS/ -o my_x2.safetensors --resume   # continue

Every ~2 minutes it writes a complete, resumable checkpoint (one safetensors file: weights, Adam
moments, step, sampler RNG; the config and progress as JSON in its metadata) and scores the net
on photos held out from training. When that score is the best so far and beats bicubic, the
weights go to the output file, with Set5/Set14 PSNR in the metadata when --test-sets names a
folder holding them, so stopping at any moment leaves usable weights. SIGTERM/SIGINT save a
checkpoint.

Set5/Set14 are only ever *measured*; training and model selection use the --images photos alone.
"""

STYLE_DESCRIPTION = """\
Train a fast style network for one painting, with checkpoints, previews and resume.

    semedit train-style STYLE.jpg --images PHOTOS/ -o NAME.safetensors [--steps N] [--size N]
    semedit train-style STYLE.jpg --images PHOTOS/ -o NAME.safetensors --resume   # continue

Every ~2 minutes (and on SIGTERM/SIGINT) it writes a complete, resumable checkpoint (one
safetensors file: weights, Adam moments, step, sampler RNG; config and progress as JSON in its
metadata) and the current weights to the output file, so stopping at any moment leaves a usable
network. Every --preview-every steps it writes a preview PNG: a photo beside its stylisation.
"""


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def upscaler_parser() -> argparse.ArgumentParser:
    """`semedit train-upscaler`'s parser, without the defaults `parse_upscaler_args` derives."""
    p = argparse.ArgumentParser(
        prog="semedit train-upscaler",
        description=UPSCALER_DESCRIPTION,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("--scale", type=int, required=True, choices=(2, 3, 4))
    p.add_argument("--images", type=Path, required=True, help="a folder of natural photos")
    p.add_argument(
        "--steps",
        type=int,
        help="total steps, the cosine schedule's length (default 20000; on --resume the saved one)",
    )
    p.add_argument(
        "--minutes",
        type=float,
        help="training-time budget; re-plans --steps from the measured speed at every report",
    )
    p.add_argument(
        "-o", "--out", type=Path, required=True, help="the trained weights (.safetensors)"
    )
    p.add_argument("--checkpoint", type=Path, help="resumable state file")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if present")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--log", type=Path)
    p.add_argument("--prescale", type=int, default=2, help="area downscale of the photos first")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=32, help="LR patch side")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--channels", type=int, help="override the shipped width (experiments)")
    p.add_argument("--depth", type=int, help="override the shipped depth (experiments)")
    p.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds")
    p.add_argument("--report-every", type=int, default=100, help="steps")
    p.add_argument(
        "--test-sets",
        type=Path,
        metavar="DIR",
        help="a folder holding Set5/ and Set14/, measured into the weights' metadata",
    )
    return p


def parse_upscaler_args(argv: list[str] | None = None) -> argparse.Namespace:
    """`semedit train-upscaler`'s command line; the checkpoint and log default beside --out."""
    a = upscaler_parser().parse_args(argv)
    a.checkpoint = a.checkpoint or a.out.with_suffix(".ckpt.safetensors")
    a.log = a.log or a.out.with_suffix(".log")
    return a


def style_parser() -> argparse.ArgumentParser:
    """`semedit train-style`'s parser, without the defaults `parse_style_args` derives."""
    p = argparse.ArgumentParser(
        prog="semedit train-style",
        description=STYLE_DESCRIPTION,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    p.add_argument("style", type=Path, metavar="STYLE", help="the painting (an image file)")
    p.add_argument("--images", type=Path, required=True, help="a folder of natural photos")
    p.add_argument(
        "-o", "--out", type=Path, required=True, help="the trained weights (.safetensors)"
    )
    p.add_argument("--steps", type=int, help="total steps (default 2000; on --resume the saved)")
    p.add_argument(
        "--size",
        type=int,
        help="training crop side (default 128; with --resume it replaces the saved one, up to "
        "the photos' short side)",
    )
    p.add_argument(
        "--minutes", type=float, help="training-time budget; re-plans --steps from the speed"
    )
    p.add_argument(
        "--style-weight",
        type=float,
        help="weight of the Gram style loss (default 4; with --resume it replaces the saved one, "
        "to fine-tune towards more or less style)",
    )
    p.add_argument("--content-weight", type=float, help="weight of the content loss (default 1)")
    p.add_argument("--tv-weight", type=float, help="weight of total variation (default 2)")
    p.add_argument(
        "--style-size", type=int, help="the painting's long side in pixels (default 2 x --size)"
    )
    p.add_argument(
        "--photo-size", type=int, help="photos' short side before cropping (default 2 x --size)"
    )
    p.add_argument("--batch", type=int, help="crops per step (default 4; with --resume too)")
    p.add_argument(
        "--lr",
        type=float,
        help="peak learning rate (default 1e-3; with --resume it replaces the saved one and "
        "starts a new warm-up and cosine decay from the resumed step: fine-tune at ~3e-4)",
    )
    p.add_argument(
        "--input-noise",
        type=float,
        help="sigma of noise added to the network's input, so flat areas get strokes too "
        f"(default {NEW_STYLE_INPUT_NOISE}; with --resume it replaces the saved "
        "value)",
    )
    p.add_argument("--channels", type=int, nargs=3, help="widths at 1, 1/2, 1/4 resolution")
    p.add_argument(
        "--blocks", type=int, help="residual blocks (default 3; on --resume, more deepens the net)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", type=Path, help="resumable state file")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint if present")
    p.add_argument("--log", type=Path)
    p.add_argument("--preview", type=Path, help="preview PNG (default beside the checkpoint)")
    p.add_argument("--preview-image", type=Path, help="the photo to preview on")
    p.add_argument("--preview-every", type=int, default=200, help="steps")
    p.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds")
    p.add_argument("--report-every", type=int, default=25, help="steps")
    p.add_argument("--models-dir", type=Path, help="where the VGG19 weights are")
    return p


def parse_style_args(argv: list[str] | None = None) -> argparse.Namespace:
    """`semedit train-style`'s command line; checkpoint, log and preview default beside --out."""
    a = style_parser().parse_args(argv)
    base = a.out.with_suffix("")
    a.checkpoint = a.checkpoint or base.with_name(base.name + ".ckpt.safetensors")
    a.log = a.log or base.with_name(base.name + ".log")
    a.preview = a.preview or base.with_name(base.name + "_preview.png")
    return a


def check_photos(folder: Path) -> list[Path]:
    """The training photos in `folder`; SystemExit with the one-line reason when there are none."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder of photos")
    paths = list_images(folder)
    if not paths:
        raise SystemExit(f"no images in {folder}")
    return paths


def check_style_inputs(args: argparse.Namespace) -> list[Path]:
    """The painting and the photos of a `train-style` command line, checked from their headers."""
    if not args.style.is_file():
        raise SystemExit(f"style image {args.style} not found")
    try:
        probe_image(args.style)
    except ImageIOError as exc:
        raise SystemExit(f"cannot read style image {args.style}: {exc}") from exc
    return check_photos(args.images)
