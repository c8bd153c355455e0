"""Train a fast style in the app: the Train Style dialog's job, on the engine like any edit.

Drives `editor.ops.style_train` (Johnson et al. 2016: a `TransformNet` trained against the Gram
style loss of one painting over random crops of many photos) as a run generator: it yields
progress and, every `preview_every_s` seconds, a preview (a photo beside its stylisation by the
current weights) and returns the path of the finished network.

Files, all in the user's fast-styles folder (`editor.engine.models.fast_styles.user_dir()`):

    <folder>/<name>.safetensors              the finished network (written once, at the end)
    <folder>/<name>.png                      its thumbnail for the Styles panel
    <folder>/training/<name>.ckpt.safetensors   resumable state while training runs

Every `checkpoint_every_s` seconds, and when the job is cancelled, the complete training state
(weights, Adam moments, step, sampler RNG, the painting itself and the settings as metadata) is
written atomically to the checkpoint, so the dialog can offer Resume, even after a crash. The
network file appears only when training finishes (then the checkpoint goes): a cancelled run
leaves no half-trained style in the panel and no partly written file anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from editor.engine.jobs import JobCancelled, Run, RunContext, Update
from editor.engine.models.vgg import VGGFeatures
from editor.engine.train_upscaler import atomic_save, list_images, load_rgb, read_metadata
from editor.ops import style_train
from editor.ops.pixels import rgb01_to_uint8
from editor.ops.transform_net import metadata_for

DEFAULT_STEPS = 1000
DEFAULT_SIZE = 128
THUMBNAIL_SIZE = 96
PREVIEW_SIDE = 192
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


@dataclass(frozen=True)
class TrainStyleRequest:
    """Train the fast style `name` into `folder`.

    painting: (h, w, 3) uint8 RGB, the style (None when resuming: the checkpoint holds it).
    photos: a folder of natural photos. steps: total training steps. size: crop side in px.
    resume: continue from `folder`/training/<name>.ckpt.safetensors (steps may extend it).
    """

    name: str
    painting: np.ndarray | None
    photos: Path
    folder: Path
    steps: int = DEFAULT_STEPS
    size: int = DEFAULT_SIZE
    resume: bool = False
    painting_label: str = ""
    batch_size: int = 4
    channels: tuple[int, int, int] = style_train.StyleTrainConfig.channels
    blocks: int = style_train.StyleTrainConfig.blocks
    checkpoint_every_s: float = 60.0
    preview_every_s: float = 2.0
    report_every: int = 5


@dataclass(frozen=True)
class TrainingCheckpoint:
    """An interrupted training the dialog can resume."""

    name: str
    path: Path
    step: int
    total_steps: int
    photos: Path
    size: int
    painting_label: str


def output_path(folder: Path, name: str) -> Path:
    return Path(folder) / f"{name}.safetensors"


def checkpoint_path(folder: Path, name: str) -> Path:
    return Path(folder) / "training" / f"{name}.ckpt.safetensors"


def check_name(name: str) -> str:
    """A style name that is also a safe file name; ValueError (one line) otherwise."""
    name = name.strip()
    if not _NAME.match(name):
        raise ValueError(
            "a style name is 1-64 letters, digits, spaces, '_', '-' or '.', starting with a "
            f"letter or digit; got {name!r}"
        )
    return name


def find_checkpoints(folder: Path) -> list[TrainingCheckpoint]:
    """Interrupted trainings in `folder`, newest first (unreadable files are skipped)."""
    found = []
    training = Path(folder) / "training"
    if not training.is_dir():
        return []
    paths = sorted(training.glob("*.ckpt.safetensors"), key=lambda p: -p.stat().st_mtime)
    for path in paths:
        try:
            meta = read_metadata(path)
            config = json.loads(meta["config"])
            found.append(
                TrainingCheckpoint(
                    name=meta["name"],
                    path=path,
                    step=int(meta["step"]),
                    total_steps=int(config["total_steps"]),
                    photos=Path(meta["photos"]),
                    size=int(config["crop"]),
                    painting_label=meta.get("painting_label", ""),
                )
            )
        except (OSError, KeyError, ValueError):
            continue
    return found


def _atomic_png(pixels: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(pixels).save(tmp)
    tmp.replace(path)


def run(request: TrainStyleRequest, ctx: RunContext) -> Run:
    """Train (or resume); yields progress and previews; returns the finished network's path.

    ValueError for a bad name, no photos, or nothing to resume; ModelMissing without VGG19.
    """

    name = check_name(request.name)
    folder = Path(request.folder)
    ckpt = checkpoint_path(folder, name)
    out = output_path(folder, name)
    if request.resume and not ckpt.is_file():
        raise ValueError(f"nothing to resume: no checkpoint for {name!r}")
    if not request.resume and request.painting is None:
        raise ValueError("no style picture to train on")
    if request.steps < 1:
        raise ValueError(f"steps must be at least 1, got {request.steps}")
    if not 32 <= request.size <= 512:
        raise ValueError(f"the crop size must be 32..512 px, got {request.size}")

    meta: dict[str, str] = {}
    state: dict[str, torch.Tensor] | None = None
    if request.resume:
        meta = read_metadata(ckpt)
        state = load_file(str(ckpt))
        saved = json.loads(meta["config"])
        saved["total_steps"] = max(request.steps, int(meta["step"]) + 1)
        config = style_train.StyleTrainConfig.from_dict(saved)
        photos_dir = Path(meta["photos"])
        painting = state["painting"].numpy().copy()
        label = meta.get("painting_label", "")
    else:
        defaults = style_train.StyleTrainConfig()
        config = dataclasses.replace(
            defaults,
            crop=request.size,
            batch_size=request.batch_size,
            total_steps=request.steps,
            channels=tuple(request.channels),
            blocks=request.blocks,
            input_noise=style_train.NEW_STYLE_INPUT_NOISE,
        )
        photos_dir = Path(request.photos)
        painting = style_train.resize_rgb(
            np.ascontiguousarray(request.painting[..., :3]),
            _fit(request.painting.shape[:2], 2 * request.size),
        )
        label = request.painting_label
    if not photos_dir.is_dir():
        raise ValueError(f"{photos_dir} is not a folder of photos")
    paths = list_images(photos_dir)
    if not paths:
        raise ValueError(f"no photos in {photos_dir}")

    photo_side = 2 * config.crop
    photos = []
    for i, path in enumerate(paths):
        ctx.check_cancelled()
        yield Update(progress=0.0, message=f"Reading photos {i + 1}/{len(paths)}")
        try:
            photos.append(style_train.prepare_photo(load_rgb(path), photo_side))
        except OSError:
            continue  # an unreadable file in the folder is skipped, not fatal
    if not photos:
        raise ValueError(f"no readable photos in {photos_dir}")
    yield Update(progress=0.0, message="Loading VGG19 features")
    device = torch.device(ctx.device)
    features = ctx.models.load(VGGFeatures.id)
    style = torch.from_numpy(painting.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    trainer = style_train.StyleTrainer(features, style, photos, config, device=device)
    if state is not None:
        trainer.load_state_tensors(state)

    first = photos[0].permute(1, 2, 0).numpy()
    preview_in = style_train.resize_rgb(first, _fit(first.shape[:2], PREVIEW_SIDE))
    preview_t = torch.from_numpy(preview_in.astype(np.float32) / 255.0).permute(2, 0, 1)[None]

    def preview() -> np.ndarray:
        return np.concatenate([preview_in, rgb01_to_uint8(trainer.stylise(preview_t))], axis=1)

    def save_checkpoint() -> None:
        tensors = trainer.state_tensors()
        tensors["painting"] = torch.from_numpy(np.array(painting, np.uint8))
        atomic_save(
            tensors,
            ckpt,
            {
                "name": name,
                "step": str(trainer.step),
                "config": json.dumps(dataclasses.asdict(trainer.config)),
                "photos": str(photos_dir),
                "painting_label": label,
            },
        )

    start_step = trainer.step
    last_save = last_preview = time.monotonic()
    saved_step = trainer.step
    total = trainer.config.total_steps
    yield Update(progress=trainer.step / total, message="Training", preview=preview())
    try:
        for report in style_train.train(trainer, None, request.report_every):
            ctx.check_cancelled()
            now = time.monotonic()
            shown = None
            if now - last_preview >= request.preview_every_s or report.step >= total:
                shown, last_preview = preview(), now
            if now - last_save >= request.checkpoint_every_s:
                save_checkpoint()
                saved_step, last_save = trainer.step, time.monotonic()
            yield Update(
                progress=report.step / total,
                message=f"step {report.step}/{total} · loss {report.loss:.3f} "
                f"(style {report.style:.3f}, content {report.content:.3f})",
                preview=shown,
            )
    except (JobCancelled, GeneratorExit):
        if trainer.step != saved_step and trainer.step > start_step:
            save_checkpoint()  # complete and atomic: Resume continues from here
        raise

    yield Update(progress=1.0, message="Saving the style")
    final = preview()
    weights = {
        k: v.detach().cpu().half().contiguous() for k, v in trainer.model.state_dict().items()
    }
    description = (
        f"Trained in SemEdit on {label or 'a picture'}: {trainer.step} steps, "
        f"{config.crop} px crops of {len(photos)} photos from {photos_dir.name}"
    )
    atomic_save(
        weights,
        out,
        {
            **metadata_for(trainer.model),
            "style": name,
            "style_image": label,
            "steps": str(trainer.step),
            "description": description,
            "train_config": json.dumps(dataclasses.asdict(trainer.config)),
            "dtype": "float16",
        },
    )
    stylised = final[:, preview_in.shape[1] :]
    thumb = Image.fromarray(stylised)
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    _atomic_png(np.asarray(thumb), folder / f"{name}.png")
    ckpt.unlink(missing_ok=True)
    yield Update(progress=1.0, message="Done", preview=final)
    return out


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(h, w) scaled so the long side is `side`."""
    h, w = size
    scale = side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))
