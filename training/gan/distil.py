"""Distil Real-ESRGAN x4plus into `semedit-gan-x4` (editor.ops.sr_compact.CompactSR), on the CPU.

    .venv/bin/python training/gan/distil.py pairs   # teacher outputs on training crops (resumes)
    .venv/bin/python training/gan/distil.py train [--steps N]   # resumes from its checkpoint
    .venv/bin/python training/gan/distil.py export  # -> editor/resources/models/semedit-gan-x4...

Photos: ../shared/data/train/ only (never Set5/Set14, the test sets). Each photo gives
CROPS_PER_PHOTO random 256 px crops; LR = an area downscale by 4 (the degradation the GAN
benchmark uses), teacher = Real-ESRGAN x4plus on that LR, both stored as uint8 shards in
training/gan/pairs/ (not in git). Training draws 32 px LR / 128 px teacher sub-crops
(editor.ops.sr_train.PatchSampler: any of the 8 flips/rotations), batch BATCH: L1 to the
teacher alone for WARMUP steps (WARMUP_WEIGHTS, WARMUP_LR), then L1 + perceptual + Gram +
adversarial (editor.ops.gan_distil; GAN_WEIGHTS, GAN_LR). Checkpoints every CHECKPOINT_EVERY
steps in training/checkpoints/gan_x4.safetensors (editor.ops.train_state's layout: it resumes
bit for bit); the log in training/logs/gan_x4.log.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from editor.engine.models.upscalers import choose_upscaler, load_upscaler  # noqa: E402
from editor.engine.models.vgg import CONV3_ONLY, shared_features  # noqa: E402
from editor.engine.store import ModelStore  # noqa: E402
from editor.ops.gan_distil import Distiller, DistilWeights  # noqa: E402
from editor.ops.sr_compact import CompactSR  # noqa: E402
from editor.ops.sr_train import PatchSampler  # noqa: E402

SHARED = REPO.parent / "shared"
PHOTOS = SHARED / "data" / "train"
PAIRS = REPO / "training" / "gan" / "pairs"
CHECKPOINT = REPO / "training" / "checkpoints" / "gan_x4.safetensors"
LOG = REPO / "training" / "logs" / "gan_x4.log"
EXPORT = REPO / "editor" / "resources" / "models" / "semedit-gan-x4.safetensors"
HR_CROP, SCALE, CROPS_PER_PHOTO = 256, 4, 12
LR_PATCH, BATCH, WARMUP, CHECKPOINT_EVERY = 32, 8, 3000, 100
WARMUP_WEIGHTS, WARMUP_LR = DistilWeights(pixel=1.0, perceptual=0.0, gram=0.0), 5e-4
GAN_WEIGHTS, GAN_LR = DistilWeights(), 2e-4
"""The warm-up is ESRGAN's PSNR stage: L1 to the teacher alone, which costs no VGG passes
(~0.2 s a step against ~1.4 s with the perceptual terms), so it learns the picture's structure
in a few thousand cheap steps. With every term from the start the Gram term's gradient was 12x
the pixel term's and 300 steps at 2e-4 left the student at its nearest-neighbour start (L1 to
the teacher 0.042, bicubic's 0.039). Then the loss of `editor.ops.gan_distil` as it is (L1 +
perceptual + Gram + adversarial) at a GAN's usual rate."""


def photos() -> list[Path]:
    return sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def make_pairs(threads: int) -> None:
    torch.set_num_threads(threads)
    store = ModelStore(models_dir=SHARED / "models")
    teacher = load_upscaler(choose_upscaler(store, 4, "realesrgan-x4plus"), "cpu")
    PAIRS.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(photos()):
        shard = PAIRS / f"{index:04d}_{path.stem}.npz"
        if shard.exists():
            continue
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        rng = np.random.default_rng(index)
        h, w = rgb.shape[:2]
        lrs, outs = [], []
        t0 = time.perf_counter()
        for _ in range(CROPS_PER_PHOTO):
            y, x = rng.integers(0, h - HR_CROP + 1), rng.integers(0, w - HR_CROP + 1)
            hr = rgb[y : y + HR_CROP, x : x + HR_CROP]
            lr = cv2.resize(hr, (HR_CROP // SCALE,) * 2, interpolation=cv2.INTER_AREA)
            with torch.inference_mode():
                t = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
                out = teacher(t).clamp(0, 1)[0].permute(1, 2, 0).numpy()
            lrs.append(lr)
            outs.append(np.rint(out * 255).astype(np.uint8))
        tmp = shard.with_suffix(".tmp.npz")
        np.savez(tmp, lr=np.stack(lrs), teacher=np.stack(outs))
        tmp.replace(shard)
        print(f"{shard.name}: {time.perf_counter() - t0:.1f} s", flush=True)


def load_pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(LR, teacher) uint8 (3, h, w) pairs, for `PatchSampler` (the teacher is its "HR")."""
    pairs = []
    for path in sorted(PAIRS.glob("*.npz")):
        if ".tmp" in path.name:
            continue
        shard = np.load(path)
        for lr, out in zip(shard["lr"], shard["teacher"], strict=True):
            chw = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))  # noqa: E731
            pairs.append((chw(lr), chw(out)))
    if not pairs:
        raise SystemExit("no pairs yet: run `distil.py pairs` first")
    return pairs


def train(steps: int, threads: int, warmup: int) -> None:
    torch.set_num_threads(threads)
    pairs = load_pairs()
    features = shared_features(SHARED / "models", "cpu", prefer=CONV3_ONLY)
    distiller = Distiller(CompactSR(), features)
    rng = torch.Generator().manual_seed(0)
    if CHECKPOINT.exists():
        distiller.restore(load_file(str(CHECKPOINT)), rng)
    sampler = PatchSampler(pairs, SCALE, LR_PATCH, rng)
    LOG.parent.mkdir(parents=True, exist_ok=True)
    CHECKPOINT.parent.mkdir(parents=True, exist_ok=True)
    t0, sums = time.perf_counter(), {}
    with LOG.open("a") as log:
        while distiller.step_count < steps:
            lr, hr = sampler.sample(BATCH)
            gan = distiller.step_count >= warmup
            distiller.weights = GAN_WEIGHTS if gan else WARMUP_WEIGHTS
            for group in distiller.opt_g.param_groups:
                group["lr"] = GAN_LR if gan else WARMUP_LR
            parts = distiller.step(lr, hr, adversarial=gan)
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            if distiller.step_count % CHECKPOINT_EVERY == 0:
                tmp = CHECKPOINT.with_suffix(".tmp")
                save_file(distiller.state(rng), str(tmp))
                tmp.replace(CHECKPOINT)
                means = " ".join(f"{k} {v / CHECKPOINT_EVERY:.4f}" for k, v in sums.items())
                pace = (time.perf_counter() - t0) / CHECKPOINT_EVERY
                line = f"step {distiller.step_count} pairs {len(pairs)} {pace:.2f} s/step {means}"
                print(line, file=log, flush=True)
                print(line, flush=True)
                t0, sums = time.perf_counter(), {}


def export() -> None:
    student = CompactSR()
    prefix = "g.model."  # the student's weights in Distiller.state's layout
    weights = {
        k[len(prefix) :]: v for k, v in load_file(str(CHECKPOINT)).items() if k.startswith(prefix)
    }
    student.load_state_dict(weights, strict=True)
    EXPORT.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in student.state_dict().items()}
    save_file(state, str(EXPORT), metadata=student.metadata())
    print("wrote", EXPORT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("pairs", "train", "export"))
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--warmup", type=int, default=WARMUP, help="steps without the adversarial term"
    )
    args = parser.parse_args()
    if args.stage == "pairs":
        make_pairs(args.threads)
    elif args.stage == "train":
        train(args.steps, args.threads, args.warmup)
    else:
        export()


if __name__ == "__main__":
    main()
