"""Train the residual SR network for one scale, with checkpoints and resume.

Usage, and what it writes when: `editor.engine.train_args.UPSCALER_DESCRIPTION` (its --help),
kept there so the command line is checked before torch loads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, safe_open, save_file

from editor.engine.train_args import (  # noqa: F401 - re-exported for the trainers' callers
    IMAGE_SUFFIXES,
    check_photos,
    list_images,
)
from editor.engine.train_args import parse_upscaler_args as parse_args
from editor.ops import sr_train
from editor.ops.sr_net import ResidualSR, build

#: Every VAL_STRIDE-th photo (sorted by name) is held out for model selection.
VAL_STRIDE = 16


def load_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; greyscale and palette images are converted."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def load_test_set(test_sets: Path | None, name: str) -> list[np.ndarray]:
    """The HR images of `test_sets`/`name` (Set5, Set14), or [] when there is no such folder."""
    folder = test_sets / name if test_sets is not None else None
    return [load_rgb(p) for p in list_images(folder)] if folder and folder.is_dir() else []


def atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    """Write via a temporary file and rename, so a kill mid-write never leaves a broken file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)  # safetensors writes 0600; shipped files must be readable by all
    os.replace(tmp, path)


def read_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


class Logger:
    """Appends timestamped lines to the log file and echoes them to stdout."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def __call__(self, message: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())}Z {message}"
        print(line, flush=True)
        with self.path.open("a") as f:
            f.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    log = Logger(args.log)
    scale = args.scale

    paths = check_photos(args.images)
    photos = [sr_train.prepare_photo(load_rgb(p), args.prescale) for p in paths]
    held_out = {i for i in range(len(photos)) if i % VAL_STRIDE == VAL_STRIDE - 1}
    if not held_out and len(photos) >= 2:
        held_out = {len(photos) - 1}  # a small folder still gets one photo to select with
    val = [img for i, img in enumerate(photos) if i in held_out]
    train_imgs = [img for i, img in enumerate(photos) if i not in held_out]
    pairs = [sr_train.make_pair(img, scale) for img in train_imgs]
    set5, set14 = (load_test_set(args.test_sets, name) for name in ("Set5", "Set14"))

    config = sr_train.TrainConfig(
        lr_patch=args.patch,
        batch_size=args.batch,
        learning_rate=args.lr,
        total_steps=args.steps or 20000,
        seed=args.seed,
    )
    progress = {"train_seconds": 0.0, "best_val_psnr": -1.0, "best_step": -1}
    resuming = args.resume and args.checkpoint.exists()
    if resuming:
        meta = read_metadata(args.checkpoint)
        arch = json.loads(meta["architecture"])  # the checkpoint's sizes win over the flags
        model = build(scale, arch["channels"], arch["depth"])
        saved = json.loads(meta["config"])
        if args.steps is not None:  # extend (or shorten) the schedule on resume
            saved["total_steps"] = args.steps
        config = sr_train.TrainConfig(**saved)
        progress.update(json.loads(meta["progress"]))
        trainer = sr_train.SRTrainer(model, pairs, config)
        trainer.load_state_tensors(load_file(str(args.checkpoint)))
        log(f"resumed x{scale} from {args.checkpoint} at step {trainer.step}")
    else:
        model = build(scale, args.channels, args.depth)
        trainer = sr_train.SRTrainer(model, pairs, config)

    nan = float("nan")
    bic_val = sr_train.evaluate_bicubic_psnr(val, scale) if val else nan
    init_val = sr_train.evaluate_psnr(build(scale), val, scale) if val else nan  # = bicubic
    bar = max(bic_val, init_val)
    log(
        f"x{scale}: {len(pairs)} train / {len(val)} val photos from {args.images}, "
        f"params {sum(p.numel() for p in model.parameters())}, arch c{model.channels} "
        f"d{model.depth}, config {dataclasses.asdict(config)}; val PSNR PIL-bicubic "
        f"{bic_val:.3f}, net at init {init_val:.3f}"
    )

    stop = {"signal": 0}

    def request_stop(signum: int, _frame: object) -> None:
        log(f"signal {signum}: checkpointing and stopping")
        stop["signal"] = signum

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    saved_at = {"step": -1}

    def checkpoint() -> None:
        """Score on the held-out photos, ship if best, then save the resumable state."""
        val_psnr = sr_train.evaluate_psnr(model, val, scale) if val else nan
        message = f"step {trainer.step} checkpoint; val {val_psnr:.3f} (bicubic {bic_val:.3f})"
        if not val or (val_psnr > progress["best_val_psnr"] and val_psnr > bar):
            progress.update(best_val_psnr=val_psnr, best_step=trainer.step)
            ship(model, val_psnr)
            message += f" -> shipped {args.out.name}"
        meta = {
            "config": json.dumps(dataclasses.asdict(trainer.config)),
            "progress": json.dumps(progress),
            "scale": str(scale),
            "architecture": json.dumps({"channels": model.channels, "depth": model.depth}),
        }
        atomic_save(trainer.state_tensors(), args.checkpoint, meta)
        saved_at["step"] = trainer.step
        log(message)

    def last_saved_step() -> int:
        return saved_at["step"]

    def ship(net: ResidualSR, val_psnr: float) -> None:
        scores = {}
        for name, images in (("set5", set5), ("set14", set14)):
            if images:
                scores[f"{name}_psnr"] = f"{sr_train.evaluate_psnr(net, images, scale):.3f}"
                scores[f"{name}_bicubic_psnr"] = (
                    f"{sr_train.evaluate_bicubic_psnr(images, scale):.3f}"
                )
        meta = {
            "architecture": "ResidualSR",
            "scale": str(scale),
            "channels": str(net.channels),
            "depth": str(net.depth),
            "input": "RGB float 0..1 NCHW; output = bicubic(lr) + residual, clip to 0..1",
            "steps": str(trainer.step),
            "train_seconds": f"{progress['train_seconds']:.0f}",
            "training_data": (
                f"{args.images.name}: {len(pairs)} photos, area-downscaled x{args.prescale}, "
                f"LR = PIL bicubic; {len(val)} held out for selection"
            ),
            "val_psnr": f"{val_psnr:.3f}",
            "val_bicubic_psnr": f"{bic_val:.3f}",
            "psnr_protocol": "BT.601 studio Y, border=scale, modcrop, PIL BICUBIC LR",
            "config": json.dumps(dataclasses.asdict(trainer.config)),
            **scores,
        }
        weights = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
        atomic_save(weights, args.out, meta)
        log(f"shipped step {trainer.step}: {json.dumps(scores)}")

    last_save = time.monotonic()
    t0 = time.monotonic()
    seconds_per_step = 0.0
    last_step = trainer.step
    for step, loss, lr_value in sr_train.train(trainer, None, args.report_every):
        now = time.monotonic()
        progress["train_seconds"] += now - t0
        recent = (now - t0) / max(1, step - last_step)
        seconds_per_step = recent if not seconds_per_step else 0.7 * seconds_per_step + 0.3 * recent
        t0, last_step = now, step
        if args.minutes is not None and step >= config.warmup_steps:
            # Fit the cosine schedule into the remaining budget at the current speed, which
            # drifts with the other jobs sharing the CPU.
            remaining = max(0.0, args.minutes * 60.0 - progress["train_seconds"])
            planned = step + 1 + int(remaining / seconds_per_step)
            if abs(planned - config.total_steps) > 0.01 * config.total_steps:
                config = dataclasses.replace(config, total_steps=planned)
                trainer.config = config
        log(
            f"step {step}/{config.total_steps} loss {loss:.5f} lr {lr_value:.2e} "
            f"({progress['train_seconds']:.0f}s, {seconds_per_step:.3f} s/step)"
        )
        if stop["signal"] or now - last_save >= args.checkpoint_every:
            checkpoint()
            last_save = time.monotonic()
            t0 = last_save  # evaluation time is not training time
            if stop["signal"]:
                return 128 + stop["signal"]  # like the shell: a stopped run is not a finished one
    if trainer.step != last_saved_step():
        checkpoint()
    log(f"done x{scale}: best val {progress['best_val_psnr']:.3f} at step {progress['best_step']}")
    if progress["best_step"] < 0:
        raise SystemExit(
            f"after {trainer.step} steps the network does not beat bicubic on the held-out photos "
            f"yet, so {args.out.name} was not written; continue with --resume and more --steps"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
