"""Train a fast style network for one painting, with checkpoints, previews and resume.

Usage, and what it writes when: `editor.engine.train_args.STYLE_DESCRIPTION` (its --help),
kept there so the command line is checked before torch loads.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from editor.engine.models.vgg import shared_features
from editor.engine.train_args import check_style_inputs
from editor.engine.train_args import parse_style_args as parse_args
from editor.engine.train_upscaler import Logger, atomic_save, load_rgb, read_metadata
from editor.ops import style_train
from editor.ops.pixels import rgb01_to_uint8
from editor.ops.transform_net import TransformNet, metadata_for


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)

    paths = check_style_inputs(args)
    try:
        painting = load_rgb(args.style)
    except OSError as exc:
        raise SystemExit(f"cannot read style image {args.style}: {exc}") from exc

    log = Logger(args.log)
    device = _device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed crop and batch: pick the fastest kernels
    resuming = args.resume and args.checkpoint.exists()
    progress = {"train_seconds": 0.0}
    if resuming:
        meta = read_metadata(args.checkpoint)
        saved = json.loads(meta["config"])
        if args.steps is not None:  # extend (or shorten) the schedule on resume
            saved["total_steps"] = args.steps
        if args.style_weight is not None:  # fine-tune towards more (or less) style
            saved["style_weight"] = args.style_weight
        # Bigger batches or crops (a GPU) change no weight shapes: Adam's moments carry over.
        if args.batch is not None:
            saved["batch_size"] = args.batch
        if args.size is not None:
            saved["crop"] = args.size
        if args.input_noise is not None:  # no weight shapes change: a fine-tune can add it
            saved["input_noise"] = args.input_noise
        if args.lr is not None:  # a new segment: warm up and decay from here
            saved["learning_rate"] = args.lr
            saved["schedule_start"] = int(load_file(str(args.checkpoint))["step"][0])
        saved_blocks = int(saved.get("blocks", style_train.StyleTrainConfig.blocks))
        if args.blocks is not None and args.blocks < saved_blocks:
            raise SystemExit(
                f"--blocks {args.blocks}: {args.checkpoint} already has {saved_blocks} blocks "
                "(a resumed net can grow, not shrink)"
            )
        if args.blocks is not None:  # more capacity: new blocks start as identity
            saved["blocks"] = args.blocks
        config = style_train.StyleTrainConfig.from_dict(saved)
        progress.update(json.loads(meta.get("progress", "{}")))
        style_side = int(meta["style_side"])
        photo_side = int(meta["photo_side"])
        if config.crop > photo_side:
            raise SystemExit(
                f"--size {config.crop} is larger than the photos' short side {photo_side}"
            )
    else:
        defaults = style_train.StyleTrainConfig()
        crop = args.size or defaults.crop
        config = style_train.StyleTrainConfig(
            crop=crop,
            batch_size=args.batch or defaults.batch_size,
            learning_rate=args.lr or defaults.learning_rate,
            total_steps=args.steps or defaults.total_steps,
            style_weight=args.style_weight or defaults.style_weight,
            content_weight=args.content_weight or defaults.content_weight,
            tv_weight=defaults.tv_weight if args.tv_weight is None else args.tv_weight,
            channels=tuple(args.channels) if args.channels else defaults.channels,
            blocks=args.blocks or defaults.blocks,
            input_noise=style_train.NEW_STYLE_INPUT_NOISE
            if args.input_noise is None
            else args.input_noise,
            seed=args.seed,
        )
        style_side = args.style_size or 2 * crop
        photo_side = args.photo_size or 2 * crop

    photos = [style_train.prepare_photo(load_rgb(p), photo_side) for p in paths]
    style = style_train.prepare_style(painting, style_side)
    features = shared_features(args.models_dir, str(device))
    trainer = style_train.StyleTrainer(features, style, photos, config, device=device)
    if resuming:
        state = load_file(str(args.checkpoint))
        if config.blocks > saved_blocks:
            state = style_train.deepen_state(
                state, config.channels, saved_blocks, config.blocks - saved_blocks
            )
        trainer.load_state_tensors(state)
        log(f"resumed {args.style.stem} from {args.checkpoint} at step {trainer.step}")
        if config.blocks > saved_blocks:
            log(f"residual blocks {saved_blocks} -> {config.blocks} (the new ones start silent)")
    model: TransformNet = trainer.model
    log(
        f"{args.style.stem}: {len(photos)} photos from {args.images} (short side {photo_side}), "
        f"style {args.style.name} at {style_side} px, params "
        f"{sum(p.numel() for p in model.parameters())}, features {features.source}, "
        f"config {json.dumps(dataclasses.asdict(config))}"
    )

    preview_photo = None
    if args.preview_image and args.preview_image.is_file():
        rgb = load_rgb(args.preview_image)
        scale = 384 / max(rgb.shape[:2])
        size = (round(rgb.shape[0] * scale), round(rgb.shape[1] * scale))
        small = style_train.resize_rgb(rgb, size)
    else:
        small = (trainer.sampler.photos[0].permute(1, 2, 0).numpy()).copy()
    preview_photo = torch.from_numpy(small.astype(np.float32) / 255.0).permute(2, 0, 1)[None]

    def write_preview() -> None:
        out = rgb01_to_uint8(trainer.stylise(preview_photo))
        side = np.concatenate([rgb01_to_uint8(preview_photo), out], axis=1)
        args.preview.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.preview.with_name(args.preview.name + ".tmp.png")
        Image.fromarray(side).save(tmp)
        tmp.replace(args.preview)

    def ship() -> None:
        """The current weights as float16 (half the bytes; the loader casts back)."""
        meta = {
            **metadata_for(model),
            "style": args.style.stem,
            "style_image": args.style.name,
            "steps": str(trainer.step),
            "train_seconds": f"{progress['train_seconds']:.0f}",
            "training": (
                f"Johnson et al. 2016 perceptual losses; VGG19 {features.source} "
                f"style {','.join(config.style_layers)} content {config.content_layer}; "
                f"{len(photos)} photos from {args.images.name} (short side {photo_side}), "
                f"random {config.crop}px crops, batch {config.batch_size}, Adam; painting at "
                f"{style_side}px long side"
            ),
            "train_config": json.dumps(dataclasses.asdict(trainer.config)),
            "style_side": str(style_side),
            "photo_side": str(photo_side),
            "dtype": "float16",
        }
        weights = {k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items()}
        atomic_save(weights, args.out, meta)

    def checkpoint() -> None:
        meta = {
            "config": json.dumps(dataclasses.asdict(trainer.config)),
            "progress": json.dumps(progress),
            "style_side": str(style_side),
            "photo_side": str(photo_side),
            "style": args.style.stem,
        }
        atomic_save(trainer.state_tensors(), args.checkpoint, meta)
        ship()
        log(f"step {trainer.step} checkpoint -> {args.checkpoint.name}, weights -> {args.out}")

    stop = {"signal": 0}

    def request_stop(signum: int, _frame: object) -> None:
        log(f"signal {signum}: checkpointing and stopping")
        stop["signal"] = signum

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        last_save = time.monotonic()
        t0, cpu0 = time.monotonic(), time.process_time()
        seconds_per_step = 0.0
        last_step = trainer.step
        saved_step = -1
        for report in style_train.train(trainer, None, args.report_every):
            now, cpu = time.monotonic(), time.process_time()
            # Wall time, but on the CPU a paused process (SIGSTOP, a suspended laptop) does not
            # spend its budget: an interval counts at most ~2x the CPU time it used. A GPU run
            # may sleep while it waits for the device, so there wall time alone counts.
            elapsed = now - t0
            if device.type == "cpu":
                elapsed = min(elapsed, 2.0 * (cpu - cpu0) + 1.0)
            progress["train_seconds"] += elapsed
            recent = elapsed / max(1, report.step - last_step)
            seconds_per_step = (
                recent if not seconds_per_step else 0.7 * seconds_per_step + 0.3 * recent
            )
            t0, cpu0, last_step = now, cpu, report.step
            warmed_up = report.step >= config.schedule_start + config.warmup_steps
            if args.minutes is not None and warmed_up:
                # Fit the cosine schedule into the remaining budget at the current speed, which
                # drifts with the other jobs sharing the CPU.
                remaining = max(0.0, args.minutes * 60.0 - progress["train_seconds"])
                planned = report.step + 1 + int(remaining / seconds_per_step)
                if abs(planned - config.total_steps) > 0.01 * config.total_steps:
                    config = dataclasses.replace(config, total_steps=planned)
                    trainer.config = config
            log(
                f"step {report.step}/{config.total_steps} loss {report.loss:.4f} "
                f"(style {report.style:.4f} content {report.content:.4f} tv {report.tv:.4f}) "
                f"lr {report.learning_rate:.2e} ({progress['train_seconds']:.0f}s, "
                f"{seconds_per_step:.3f} s/step)"
            )
            if report.step % args.preview_every < args.report_every or (
                report.step >= config.total_steps
            ):
                write_preview()
                t0, cpu0 = time.monotonic(), time.process_time()
            if stop["signal"] or now - last_save >= args.checkpoint_every:
                checkpoint()
                saved_step = trainer.step
                last_save = t0 = time.monotonic()
                cpu0 = time.process_time()
                if stop["signal"]:
                    return 128 + stop["signal"]  # like the shell: a stopped run is not finished
        if trainer.step != saved_step:
            write_preview()
            checkpoint()
        log(f"done {args.style.stem}: {trainer.step} steps, {progress['train_seconds']:.0f}s")
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    raise SystemExit(main())
