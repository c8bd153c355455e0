"""Train the project's shipped fast styles: `semedit train-style` with the repository defaults.

    .venv/bin/python tools/train_style.py ../shared/data/style/the_scream.jpg --minutes 22 --resume

Photos come from ../shared/data/train/sun_hays80, the VGG19 weights from ../shared/models and
the preview photo from ../shared/data/content; checkpoints, logs and previews go to
training/styles/ and the weights to editor/resources/models/styles/<name>.safetensors.
Any option given overrides its default. See training/README.md for how the shipped styles were
made.
"""

from __future__ import annotations

import sys
from pathlib import Path

from project_paths import (
    PREVIEW_PHOTO,
    REPO,
    SHARED_MODELS,
    SHIPPED_STYLES,
    STYLE_TRAINING,
    TRAIN_PHOTOS,
)

sys.path.insert(0, str(REPO))  # this checkout's trainer, whichever `editor` is installed

from editor.engine.train_args import style_parser  # noqa: E402

_UNSET = "\0unset"  # no file is called that: -o was not given


def project_argv(argv: list[str]) -> list[str]:
    """`argv` for `semedit train-style` with the repository's defaults in front: argparse keeps
    an option's last value, so whatever `argv` says wins. The checkpoint, log and preview are
    named after the weights (the painting's name unless -o says otherwise)."""
    given = style_parser().parse_args(["--images", ".", "-o", _UNSET, *argv])
    out = SHIPPED_STYLES / f"{given.style.stem}.safetensors" if str(given.out) == _UNSET else None
    base = STYLE_TRAINING / (out or given.out).stem
    defaults: dict[str, Path] = {"--images": TRAIN_PHOTOS}
    if out is not None:
        defaults["--out"] = out
    defaults |= {
        "--checkpoint": base.with_name(base.name + ".ckpt.safetensors"),
        "--log": base.with_name(base.name + ".log"),
        "--preview": base.with_name(base.name + "_preview.png"),
    }
    if PREVIEW_PHOTO.exists():
        defaults["--preview-image"] = PREVIEW_PHOTO
    if SHARED_MODELS.is_dir():
        defaults["--models-dir"] = SHARED_MODELS
    return [word for option, path in defaults.items() for word in (option, str(path))] + argv


def main(argv: list[str] | None = None) -> int:
    from editor.engine.train_style import main as train

    return train(project_argv(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
