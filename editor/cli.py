"""`semedit` without a window: the same edits and model store, for batch use and scripts.

    semedit remove IMAGE --mask MASK.png -o OUT [--method refined|quick|telea|ns] [--radius R]
                   [--device auto|cpu|cuda] [--models DIR]
    semedit upscale IMAGE --scale 2|3|4 -o OUT [--model ID] [--look faithful|sharp]
                    [--device auto|cpu|cuda] [--models DIR] [--tile N]
    semedit style IMAGE --style STYLE.jpg [--mask MASK.png] [--style ... --mask ...]
                  [--method gatys|mrf|wct] [--size N] [--iterations N] [--strength X]
                  [--keep-colors] [--style-scale X] -o OUT
    semedit style IMAGE --model NAME|FILE [--mask MASK.png] [--model ... --mask ...] -o OUT
    semedit style --list
    semedit texture SAMPLE --size WxH -o OUT [--iterations N] [--scale X]
    semedit faceswap IMAGE --face PHOTO [--face PHOTO ...] [--target N] [--quick] -o OUT
                     [--device auto|cpu|cuda] [--models DIR]

Batches: upscale, remove, style and faceswap take several IMAGEs or a folder of them, with -o a
folder (created if missing); each output is named like its input (`--format png|jpg|webp|tif|bmp`,
else the input's format). A --mask may be a folder of masks named like the images (photo.jpg ->
photo.png) or one file for all. `--skip-existing` leaves out files whose output exists (a rerun
continues where a stopped one ended), `--jobs N` edits N files at a time in worker processes.
A failed file is one `semedit: error: NAME: ...` line and the batch goes on; a summary line ends
it; the exit status is 1 when any file failed (the others are written).
    semedit models list [--models DIR]
    semedit models fetch ID [--models DIR]
    semedit models import FILE [--models DIR]

This module must never import Qt (a test checks it): it runs on servers with no display. The
launcher (`editor.app`) routes a first argument in COMMANDS here and everything else to the GUI.
Heavy modules (torch, OpenCV, the edits) are imported inside the commands that need them, and
only after the command's `check_*` found its arguments and files in order (input images from their
headers, the output's folder and extension): a typo fails in a fraction of a second, not after
seconds of importing torch (benchmarks/bench_cli_startup.py).

Faces are numbered from 1, left to right (`--target 1` is the leftmost), as the window shows them;
the engine's indices count from 0 and are converted here.

Exit status: 0 success, 1 a failure reported as one `semedit: error: ...` line on stderr,
2 a usage error (argparse), 130 cancelled (Ctrl+C, SIGINT), 143 stopped by SIGTERM. Both signals
unwind the running edit like a cancel, so its temporary files go with it; what a killed process
(SIGKILL) left in the temp folder is removed when the next command starts (`editor.engine.spill`).

`upscale` checks before any work that the output stays within the megapixel limit and that the
run's memory and temporary disk are free (`editor.engine.upscale_needs`).

`-o` may name an existing file, which is overwritten (so a batch can be rerun), but never the
input image (or, for remove, the mask) itself: losing the original to a typo is not worth the
convenience. For the same reason a batch's output folder cannot be a folder its inputs are in.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

COMMANDS = {
    "remove",
    "upscale",
    "style",
    "texture",
    "faceswap",
    "models",
    "train-upscaler",
    "train-style",
}
PROG = "semedit"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl+C's KeyboardInterrupt: it unwinds the
    running edit through its `finally` blocks (temporary files, spill folders)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


class ProgressBar:
    """A one-line `\\r[#####     ]  42% message` bar on a terminal; silent when not a terminal.

    Redraws at most ten times a second so a fast loop does not spend its time printing.
    """

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._drawn = False

    def update(self, fraction: float | None, message: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        if fraction is None:
            bar, pct = "?" * self.WIDTH, "  ?%"
        else:
            fraction = min(max(fraction, 0.0), 1.0)
            filled = int(round(fraction * self.WIDTH))
            bar, pct = "#" * filled + " " * (self.WIDTH - filled), f"{fraction * 100:3.0f}%"
        width = shutil.get_terminal_size((80, 24)).columns
        line = f"[{bar}] {pct} {message}"[: max(width - 1, 10)]
        self.stream.write("\r" + line.ljust(max(width - 1, 10)))
        self.stream.flush()
        self._drawn = True

    def clear(self) -> None:
        """Blank the bar's line, so that a message printed now stands alone; the next update
        draws the bar again below it."""
        if self.enabled and self._drawn:
            width = shutil.get_terminal_size((80, 24)).columns
            self.stream.write("\r" + " " * max(width - 1, 10) + "\r")
            self.stream.flush()
            self._drawn = False
            self._last = 0.0

    def close(self) -> None:
        """End the bar's line so that what follows starts on a fresh one."""
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


# ---------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="SemEdit from the command line (no window needed)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    remove = sub.add_parser(
        "remove",
        help="remove what a mask covers (inpainting)",
        description="Fill the masked area from its surroundings and write the result to OUT. "
        "OUT may be an existing file (it is overwritten) but not the input or the mask.",
    )
    _add_images_argument(remove)
    remove.add_argument(
        "--mask",
        type=Path,
        required=True,
        metavar="MASK",
        help="image of the same size; non-zero (white) pixels are removed. For several images: "
        "a folder of masks named like them (photo.jpg -> photo.png), or one mask for all",
    )
    _add_output_argument(remove)
    remove.add_argument(
        "--method",
        choices=("refined", "quick", "telea", "ns"),
        default="refined",
        help="refined: PatchMatch fill + neural texture refinement (default; needs VGG19 "
        "weights, else quick is used); quick: PatchMatch only, ~1 s; telea/ns: OpenCV diffusion",
    )
    remove.add_argument(
        "--radius",
        type=float,
        default=5.0,
        metavar="R",
        help="inpainting neighbourhood in pixels (default 5)",
    )
    remove.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where to compute (default auto)",
    )
    _add_models_option(remove)
    _add_batch_options(remove)

    upscale = sub.add_parser(
        "upscale",
        help="enlarge an image 2, 3 or 4 times with a super-resolution network",
        description="Upscale IMAGE by --scale with the best model available for that scale (or "
        "--model ID) and write the result to OUT, keeping the ICC profile and EXIF. Says which "
        "model it used. OUT may be an existing file (it is overwritten) but not the input.",
    )
    _add_images_argument(upscale)
    upscale.add_argument("--scale", type=int, required=True, choices=(2, 3, 4), help="factor")
    upscale.add_argument(
        "--model",
        default=None,
        metavar="ID",
        help="model id (see `semedit models list`; semedit-sr and semedit-gan-x4 are built in, "
        "realesrgan-x4plus is Real-ESRGAN); default: the best available for the scale and --look",
    )
    upscale.add_argument(
        "--look",
        default="faithful",
        choices=("faithful", "sharp"),
        help="faithful (default): the PSNR networks, closest on average but smooth; sharp: a "
        "GAN network (Real-ESRGAN, else the built-in semedit-gan-x4) that draws believable "
        "texture; x2/x3 are x4 then an area "
        "downscale. --model wins over --look",
    )
    _add_output_argument(upscale)
    upscale.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where to compute (default auto)",
    )
    upscale.add_argument(
        "--tile",
        type=int,
        default=192,
        metavar="N",
        help="tile side in input pixels (default 192; smaller uses less memory)",
    )
    _add_models_option(upscale)
    _add_batch_options(upscale)

    _add_style_parsers(sub)

    faceswap = sub.add_parser(
        "faceswap",
        help="replace a face by another person's, from photos of them",
        description="Replace face N of IMAGE (1 = the leftmost; default the largest) by the face "
        "in the --face photos and write the result to OUT. --quick: the nearest-pose photo warped "
        "over the face's 68 landmarks, colour matched and blended (a second or two); without "
        "it an optimisation with region-restricted neural patches follows (needs the VGG19 "
        "weights; under a minute). OUT may be an existing file but not an input.",
    )
    _add_images_argument(faceswap)
    faceswap.add_argument(
        "--face",
        type=Path,
        action="append",
        required=True,
        metavar="PHOTO",
        help="a photo of the new face (repeat: several poses and expressions help)",
    )
    faceswap.add_argument(
        "--target",
        type=_face_number,
        metavar="N",
        help="which face, counted from 1 = the leftmost (default: the largest)",
    )
    faceswap.add_argument("--quick", action="store_true", help="warp and blend, no optimisation")
    _add_output_argument(faceswap)
    _add_device_option(faceswap)
    _add_models_option(faceswap)
    _add_batch_options(faceswap)

    sub.add_parser(
        "train-upscaler",
        help="train an upscaling network on a folder of photos (semedit train-upscaler --help)",
        add_help=False,
    )
    sub.add_parser(
        "train-style",
        help="train a fast style network for one painting (semedit train-style --help)",
        add_help=False,
    )
    models = sub.add_parser("models", help="list, download or import model weights")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = msub.add_parser("list", help="show every model and whether it is installed")
    _add_models_option(listing)
    fetch = msub.add_parser("fetch", help="download a model into the user data folder")
    fetch.add_argument("model_id", metavar="ID")
    _add_models_option(fetch)
    imp = msub.add_parser("import", help="copy a weights file you already have into place")
    imp.add_argument("file", type=Path, metavar="FILE")
    _add_models_option(imp)
    return parser


def _add_style_parsers(sub) -> None:
    style = sub.add_parser(
        "style",
        help="paint a picture's style (or a fast style) onto an image or masked regions of it",
        description="Stylise IMAGE with the style of STYLE: optimised (Gatys et al.; --method "
        "mrf: Li & Wand's neural patches) or in one pass (--method wct: universal style "
        "transfer, any picture). --model NAME|FILE uses a fast style network instead (one "
        "pass; `semedit style --list` names the installed ones). Give several --style/--mask "
        "(or --model/--mask) pairs to put different styles in different regions in one run "
        "(the n-th mask goes with the n-th style); without masks the style covers the whole "
        "image. OUT may be an existing file (it is overwritten) but not an input.",
    )
    _add_images_argument(style, required=False)
    style.add_argument(
        "--list",
        action="store_true",
        help="print the available fast styles (shipped and trained), one name per line",
    )
    style.add_argument(
        "--style",
        type=Path,
        action="append",
        default=[],
        metavar="STYLE",
        help="style picture (repeat for several styles)",
    )
    style.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME|FILE",
        help="a fast style: a name from --list or a .safetensors file (repeat for several)",
    )
    style.add_argument(
        "--mask",
        type=Path,
        action="append",
        default=[],
        metavar="MASK",
        help="where the matching --style/--model goes: an image of IMAGE's size, white inside "
        "(for several images: a folder of masks named like them, or one mask for all)",
    )
    _add_output_argument(style, required=False)
    style.add_argument(
        "--method",
        choices=("gatys", "mrf", "wct", "fast"),
        default=None,
        help="gatys: Gram-matrix style (default for --style); mrf: nearest neural patches, "
        "keeps the style's local shapes, slower; wct: universal style transfer, one pass, any "
        "picture; fast: a trained style network (the default, and the only one, for --model)",
    )
    style.add_argument(
        "--size",
        type=int,
        default=None,
        metavar="N",
        help="long side of the output in pixels (the image is resized first); default: the "
        "image's own size (the optimising methods work at up to 1024 px and upsample)",
    )
    style.add_argument(
        "--iterations",
        type=int,
        default=None,
        metavar="N",
        help="optimisation steps (gatys, mrf; default: 50 on the full VGG19, else 120)",
    )
    style.add_argument(
        "--strength",
        type=float,
        default=None,
        metavar="X",
        help="0..1: 0 keeps most of the photo, 1 gives most of the style (default 0.5; "
        "1 for fast styles)",
    )
    style.add_argument(
        "--keep-colors",
        action="store_true",
        help="keep the image's colours, take only the style's strokes and texture",
    )
    style.add_argument(
        "--style-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="> 1 larger brush strokes, < 1 finer ones (default 1)",
    )
    _add_device_option(style)
    _add_models_option(style)
    _add_batch_options(style)

    texture = sub.add_parser(
        "texture",
        help="synthesise a texture like SAMPLE, of any size",
        description="Make a new WxH image with the texture of SAMPLE (Gatys et al. texture "
        "synthesis: Gram matrices of VGG features, from noise).",
    )
    texture.add_argument("sample", type=Path, metavar="SAMPLE")
    texture.add_argument(
        "--size", required=True, metavar="WxH", help="size of the texture, e.g. 512x512"
    )
    texture.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    texture.add_argument(
        "--iterations", type=int, default=120, metavar="N", help="optimisation steps (120)"
    )
    texture.add_argument(
        "--scale",
        type=float,
        default=1.0,
        metavar="X",
        help="size of the texture's elements relative to the sample (default 1)",
    )
    _add_device_option(texture)
    _add_models_option(texture)


def _face_number(text: str) -> int:
    """--target's type: a face number counted from 1 (argparse makes a ValueError a usage error)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a face number (1 = the leftmost), got {text!r}"
        ) from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"faces are numbered from 1 (the leftmost), got {number}")
    return number


def _add_images_argument(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "image",
        type=Path,
        nargs="+" if required else "*",
        metavar="IMAGE",
        help="an image; or several, or a folder of them (a batch: -o is then a folder)",
    )


def _add_output_argument(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=required,
        metavar="OUT",
        help="the output file; for a batch, the folder the outputs go to (named like the inputs)",
    )


def _add_batch_options(parser: argparse.ArgumentParser) -> None:
    from editor.core.batch_plan import OUTPUT_FORMATS

    batch = parser.add_argument_group("batches (several images or a folder)")
    batch.add_argument(
        "--format",
        choices=tuple(OUTPUT_FORMATS),
        type=str.lower,
        default=None,
        help="the outputs' format (default: each input's own)",
    )
    batch.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave out images whose output is already there (continue a stopped batch)",
    )
    batch.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="edit N images at a time in worker processes, each loading the model once (default 1)",
    )


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="where to compute (default auto)",
    )


def _add_models_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        type=Path,
        metavar="DIR",
        default=None,
        help="models folder searched first (default: $SEMEDIT_MODELS)",
    )


# ---------------------------------------------------------------------------------------- checks
# Each command's arguments and files, checked with the standard library, numpy and Pillow only:
# a ValueError or ImageIOError here is the command's one-line error, before torch loads.


def _masks(args: argparse.Namespace) -> list[Path]:
    if args.command == "remove":
        return [args.mask]
    return list(getattr(args, "mask", []))


def _file_edit(args: argparse.Namespace):
    """The command's options as the engine's file edit (`editor.engine.file_edits`)."""
    from editor.engine import file_edits

    if args.command == "upscale":
        return file_edits.UpscaleEdit(
            args.scale, args.model, args.look, args.tile, args.device, args.models
        )
    if args.command == "remove":
        return file_edits.RemoveEdit(args.method, args.radius, args.device, args.models)
    if args.command == "faceswap":
        target = None if args.target is None else args.target - 1
        return file_edits.FaceSwapEdit(
            tuple(args.face), target, args.quick, args.device, args.models
        )
    return file_edits.StyleEdit(
        method=_style_usage(args),
        styles=tuple(args.style),
        models=tuple(args.model),
        strength=args.strength,
        keep_colors=args.keep_colors,
        style_scale=args.style_scale,
        iterations=args.iterations,
        size=args.size,
        device=args.device,
        models_dir=args.models,
    )


def check_file_edit(args: argparse.Namespace) -> None:
    """upscale, remove, style, faceswap: the options, then the one file (from its header) or
    the batch's plan (the files themselves are checked as each one runs: a broken file is its
    own failure, not the batch's). Leaves `args.edit` and `args.item` or `args.plan`."""
    from editor.core.batch_plan import BatchItem, BatchPlanError, find_mask, is_batch, plan_batch

    _check_options(args)
    args.edit = _file_edit(args)
    args.item = args.plan = None
    masks = _masks(args)
    if is_batch(args.image, args.output):
        try:
            args.plan = plan_batch(
                args.image,
                args.output,
                fmt=args.format,
                masks=masks,
                skip_existing=args.skip_existing,
            )
        except BatchPlanError as exc:
            raise ValueError(str(exc)) from None
        args.output.mkdir(parents=True, exist_ok=True)
        return
    if args.format is not None:
        raise ValueError(
            f"--format is for batches (several images or an output folder); -o {args.output} "
            "sets the format by its extension"
        )
    (image,) = args.image
    found = [find_mask(image, mask) for mask in masks]
    for mask, path in zip(masks, found, strict=True):
        if path is None:
            raise ValueError(f"--mask {mask}: no mask named {image.stem}.* in that folder")
    args.item = BatchItem(image, args.output, tuple(found))  # type: ignore[arg-type]
    args.edit.check(args.item)


def _check_options(args: argparse.Namespace) -> None:
    """What a command's options alone can get wrong."""
    if args.command == "upscale" and args.tile < 16:
        raise ValueError(f"--tile must be at least 16 pixels, got {args.tile}")
    if args.command != "style":
        return
    sources = args.model or args.style
    flag = "--model" if args.model else "--style"
    if args.mask and len(args.mask) != len(sources):
        raise ValueError(
            f"{len(sources)} {flag} but {len(args.mask)} --mask: give one mask per style "
            "(or none: the styles then cover the whole image)"
        )
    if args.size is not None and not 16 <= args.size <= 8192:
        raise ValueError(f"--size must be 16..8192 pixels, got {args.size}")
    from editor.engine.file_edits import check_files

    check_files(*args.style)


def check_style(args: argparse.Namespace) -> None:
    if _style_usage(args) == "list":
        return
    check_file_edit(args)


def check_texture(args: argparse.Namespace) -> None:
    from editor.engine.file_edits import check_files, check_output

    check_files(args.sample)
    check_output(args.output, ((args.sample, "the sample"),))
    _texture_size(args)


def check_models_import(args: argparse.Namespace) -> None:
    if not args.file.is_file():
        raise ValueError(f"{args.file}: no such file")


def _no_check(args: argparse.Namespace) -> None:
    """Nothing to check before the work: no input files."""


# -------------------------------------------------------------------------------------- commands


def _store(args: argparse.Namespace):
    from editor.engine.store import ModelStore, default_models_dir

    return ModelStore(models_dir=args.models or default_models_dir())


def _drive_with_bar(run, ctx=None, bar: ProgressBar | None = None):
    """Drive an edit's run on this thread with a progress bar on the terminal; what it reports
    through `ctx` (sub-steps of a long call) moves the bar too."""
    from editor.engine.jobs import drive

    bar = bar if bar is not None else ProgressBar()
    try:
        result = drive(run, lambda update: bar.update(update.progress, update.message), ctx)
        bar.update(1.0, "saving", force=True)
    finally:
        run.close()  # a signal between two updates: unwind the run's cleanup now, not at exit
        bar.close()
    return result


def _style_usage(args: argparse.Namespace) -> str:
    """The method a `semedit style` command line asks for; ValueError (one line) for the
    combinations that make no sense."""
    if args.list:
        extra = args.image or args.style or args.model or args.mask or args.output
        if extra:
            raise ValueError("--list takes no other arguments: semedit style --list")
        return "list"
    if not args.image:
        raise ValueError(
            "IMAGE is missing: semedit style IMAGE (--style STYLE | --model NAME) -o OUT, "
            "or semedit style --list"
        )
    if args.output is None:
        raise ValueError("-o OUT is missing: where to write the stylised image")
    if args.style and args.model:
        raise ValueError(
            "--style and --model do not mix: a picture (--style; methods gatys, mrf, wct) or a "
            "fast style network (--model)"
        )
    if not args.style and not args.model:
        raise ValueError(
            "no style: give --style STYLE.jpg (a picture) or --model NAME (a fast style; "
            "semedit style --list shows them)"
        )
    method = args.method or ("fast" if args.model else "gatys")
    if args.model and method != "fast":
        raise ValueError(
            f"--method {method} needs a style picture (--style); --model is a fast style "
            "network, applied in one pass"
        )
    if method == "fast" and not args.model:
        raise ValueError(
            "--method fast needs --model NAME|FILE (semedit style --list); for any picture in "
            "one pass use --method wct"
        )
    if args.iterations is not None and method in ("fast", "wct"):
        raise ValueError(f"--iterations is for gatys and mrf; {method} runs in one pass")
    return method


def cmd_file_edit(args: argparse.Namespace) -> int:
    """upscale, remove, style, faceswap: one image, or a batch."""
    if args.plan is not None:
        return _run_batch(args.edit, args.plan, args.jobs)
    if args.skip_existing and args.output.is_file():
        print(f"{args.output} is already there (--skip-existing): nothing to do", file=sys.stderr)
        return EXIT_OK

    prepared = args.edit.prepare()
    ctx = prepared.context()
    note = _drive_with_bar(_noted(prepared.run(args.item, ctx), prepared.notes), ctx)
    if note:
        print(note, file=sys.stderr)
    return EXIT_OK


def _noted(run, notes: tuple[str, ...]):
    """`run`, saying `notes` once it has read its files and starts the work (a file that does
    not load is then the only line)."""
    first = True
    result = None
    try:
        while True:
            update = next(run)
            if first:
                for note in notes:
                    print(f"{PROG}: note: {note}", file=sys.stderr)
                first = False
            yield update
    except StopIteration as stop:
        result = stop.value
    finally:
        run.close()
    return result


def cmd_style(args: argparse.Namespace) -> int:
    if _style_usage(args) == "list":
        from editor.engine.models.fast_styles import list_fast_styles

        for fast in list_fast_styles():
            print(fast.name)
        return EXIT_OK
    return cmd_file_edit(args)


def _run_batch(edit, plan, jobs: int) -> int:
    """Every file of `plan`, a progress bar over them, a line per failed file, a summary."""
    from editor.engine.batch import run_batch
    from editor.engine.jobs import RunContext

    bar = ProgressBar()
    if plan.ignored:
        names = ", ".join(p.name for p in plan.ignored[:5]) + (
            " …" if len(plan.ignored) > 5 else ""
        )
        print(f"{PROG}: note: not images by their name, left out: {names}", file=sys.stderr)
    notes: set[str] = set()

    def on_file(result) -> None:
        if result.ok:
            if result.note:
                notes.add(result.note)
            return
        bar.clear()
        print(f"{PROG}: error: {result.item.source.name}: {result.error}", file=sys.stderr)

    def on_notes(said: tuple[str, ...]) -> None:
        for note in said:
            print(f"{PROG}: note: {note}", file=sys.stderr)

    from editor.engine.jobs import JobCancelled

    ctx = RunContext()
    run = run_batch(edit, plan, ctx, jobs=jobs, on_file=on_file, on_notes=on_notes)
    try:
        report = _drive_with_bar(run, ctx, bar)
    except (KeyboardInterrupt, Terminated, JobCancelled):
        print(
            f"{PROG}: the outputs written so far are complete; rerun with --skip-existing to "
            "continue",
            file=sys.stderr,
        )
        raise
    for note in sorted(notes):
        print(note, file=sys.stderr)
    print(report.summary(edit.verb))
    return EXIT_FAILED if report.failed else EXIT_OK


def _texture_size(args: argparse.Namespace) -> tuple[int, int]:
    """--size WxH as (width, height)."""
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(
            f"--size must look like 512x384 (width x height), got {args.size!r}"
        ) from None
    return width, height


def cmd_texture(args: argparse.Namespace) -> int:
    from editor.core.imageio import load_image, save_image
    from editor.engine.device import pick_device
    from editor.engine.edits.style import TextureRequest, run_texture
    from editor.engine.jobs import RunContext
    from editor.engine.store import default_models_dir

    width, height = _texture_size(args)
    sample = load_image(args.sample).pixels
    request = TextureRequest(
        sample=sample,
        size=(width, height),
        iterations=args.iterations,
        sample_scale=args.scale,
        max_size=max(width, height, 64),
    )
    ctx = RunContext.for_folder(
        args.models or default_models_dir(), device=pick_device(args.device)
    )
    result = _drive_with_bar(run_texture(request, ctx), ctx)
    save_image(args.output, result)
    return EXIT_OK


def _built_in_model_rows() -> list[tuple[str, str, str, str, str]]:
    """The upscalers shipped inside the package (no store entry: nothing to fetch)."""
    from editor.engine.models import upscalers

    rows = []
    sr = [p for s in upscalers.SHIPPED_SCALES if (p := upscalers.shipped_path(s)) is not None]
    if sr:
        title = f"{upscalers.SHIPPED_TITLE} ×2/×3/×4 (faithful)"
        rows.append((upscalers.SHIPPED_ID, title, "built in", str(sr[0].parent),
                     upscalers.SHIPPED_LICENCE))  # fmt: skip
    gan = upscalers.shipped_gan_path()
    if gan is not None:
        rows.append((upscalers.SHIPPED_GAN_ID, f"{upscalers.SHIPPED_GAN_TITLE} ×4 (sharp)",
                     "built in", str(gan), upscalers.SHIPPED_GAN_LICENCE))  # fmt: skip
    return rows


def cmd_models_list(args: argparse.Namespace) -> int:
    store = _store(args)
    rows = [("ID", "TITLE", "STATUS", "WHERE", "LICENCE")]
    for info, state, where in store.status():
        rows.append((info.id, info.title, state, str(where) if where else "-", info.licence))
    rows += _built_in_model_rows()
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
        print("  ".join(cells + [row[4]]).rstrip())
    searched = ", ".join(str(r) for r in store.roots())
    print(f"\nsearched: {searched}")
    return EXIT_OK


def cmd_models_fetch(args: argparse.Namespace) -> int:
    store = _store(args)
    bar = ProgressBar()
    cancel = threading.Event()

    from editor.engine.upscale_needs import human_bytes  # stdlib only: cheap

    def progress(done: int, total: int | None, message: str) -> None:
        fraction = done / total if total else None
        sizes = f"{human_bytes(done)}" + (f"/{human_bytes(total)}" if total else "")
        bar.update(fraction, f"{sizes} {message}", force=message == "verified")

    try:
        where = store.fetch(args.model_id, progress=progress, cancel=cancel)
    finally:
        bar.close()
    print(f"{args.model_id}: verified in {where}")
    return EXIT_OK


def cmd_models_import(args: argparse.Namespace) -> int:
    store = _store(args)
    model_id, dest = store.import_file(args.file)
    print(f"{args.file} is {model_id}: copied to {dest}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------ main


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Failures reported as one line, without a traceback (anything else is a bug: show it)."""
    from editor.engine.store import ModelError

    errors: list[type[BaseException]] = [ModelError, ValueError, OSError]
    try:
        from editor.core.imageio import ImageIOError

        errors.insert(0, ImageIOError)
    except ImportError:
        pass
    return tuple(errors)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default sys.argv[1:]), run the command, return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train-upscaler"]:
        return _train_upscaler(argv[1:])
    if argv[:1] == ["train-style"]:
        return _train_style(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        code = exit_.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)

    from editor.engine.spill import remove_stale

    remove_stale()  # spill folders of killed runs (never a live one's), before anything can fail
    check, handler = HANDLERS[args.command if args.command != "models" else args.models_command]
    from editor.core.imageio import ImageIOError

    try:
        check(args)
    except (ImageIOError, ValueError, OSError) as exc:
        return _failed(exc)

    from editor.engine.jobs import JobCancelled

    previous = _on_sigterm(_raise_terminated)
    try:
        return handler(args)
    except (JobCancelled, KeyboardInterrupt):
        print(f"{PROG}: error: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Terminated:
        print(f"{PROG}: error: stopped (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as exc:  # noqa: BLE001 - filtered right below
        if not isinstance(exc, _expected_errors()):
            raise
        return _failed(exc)
    finally:
        _on_sigterm(previous)


def _on_sigterm(handler):
    """Install `handler` for SIGTERM and return the previous one (None off the main thread,
    where Python cannot install handlers: a library caller keeps its own)."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _failed(exc: BaseException) -> int:
    print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
    return EXIT_FAILED


HANDLERS = {
    "remove": (check_file_edit, cmd_file_edit),
    "upscale": (check_file_edit, cmd_file_edit),
    "style": (check_style, cmd_style),
    "texture": (check_texture, cmd_texture),
    "faceswap": (check_file_edit, cmd_file_edit),
    "list": (_no_check, cmd_models_list),
    "fetch": (_no_check, cmd_models_fetch),
    "import": (check_models_import, cmd_models_import),
}
"""Each command's checks (cheap, before heavy imports) and its work."""


def _train_upscaler(argv: list[str]) -> int:
    from editor.engine import train_args

    def train() -> int:
        from editor.engine.train_upscaler import main as train_main

        return train_main(argv)

    return _run_trainer(
        lambda: train_args.check_photos(train_args.parse_upscaler_args(argv).images), train
    )


def _train_style(argv: list[str]) -> int:
    from editor.engine import train_args

    def train() -> int:
        from editor.engine.train_style import main as train_main

        return train_main(argv)

    return _run_trainer(
        lambda: train_args.check_style_inputs(train_args.parse_style_args(argv)), train
    )


def _run_trainer(check: Callable[[], object], train: Callable[[], int]) -> int:
    """Long-running training keeps its own argument parser and log; Ctrl+C saves a checkpoint.
    `check` parses and checks the command line before the trainer (and torch) loads. A
    `SystemExit` with a message (e.g. "no images in DIR") becomes our one-line error."""
    try:
        check()
        return train()
    except SystemExit as exit_:
        code = exit_.code
        if isinstance(code, str):
            print(f"{PROG}: error: {code}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK if code is None else int(code)


if __name__ == "__main__":
    sys.exit(main())
