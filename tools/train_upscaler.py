"""Train the project's shipped upscalers: `semedit train-upscaler` with the repository defaults.

    .venv/bin/python tools/train_upscaler.py --scale 2 --minutes 34 --threads 1 --resume

Photos come from ../shared/data/train/sun_hays80, checkpoints go to training/checkpoints/, logs to
training/logs/ and the weights to editor/resources/models/upscaler_x{S}.safetensors, with the
Set5/Set14 PSNR from ../shared/data in their metadata. Any option given overrides its default.
See training/README.md for how the shipped weights were made.
"""

from __future__ import annotations

import sys

from project_paths import CHECKPOINTS, LOGS, PACKAGED_MODELS, REPO, SHARED_DATA, TRAIN_PHOTOS

sys.path.insert(0, str(REPO))  # this checkout's trainer, whichever `editor` is installed

from editor.engine.train_args import upscaler_parser  # noqa: E402


def project_argv(argv: list[str]) -> list[str]:
    """`argv` for `semedit train-upscaler` with the repository's defaults in front: argparse
    keeps an option's last value, so whatever `argv` says wins."""
    scale = upscaler_parser().parse_args(["--images", ".", "-o", ".", *argv]).scale
    defaults = {
        "--images": TRAIN_PHOTOS,
        "--out": PACKAGED_MODELS / f"upscaler_x{scale}.safetensors",
        "--checkpoint": CHECKPOINTS / f"sr_x{scale}.ckpt.safetensors",
        "--log": LOGS / f"sr_x{scale}.log",
        "--test-sets": SHARED_DATA,
    }
    return [word for option, path in defaults.items() for word in (option, str(path))] + argv


def main(argv: list[str] | None = None) -> int:
    from editor.engine.train_upscaler import main as train

    return train(project_argv(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
