"""Face swap quality and speed on ../shared/data/faces (public figures: local use only).

For every ordered pair of people (target photo of person A, all photos of person B as the new
identity) the quick and the full mode swap A's face, then it prints with dlib's face-recognition
embedding (distance < 0.6 = the same person):

- to B: the smallest distance from the result to B's photos (the issue: within 0.6),
- to A: the distance from the result to A's other photos, mean (the issue: farther than before),
- landmark error: mean distance between the result's and the input's 68 landmarks in units of the
  inter-ocular distance (the issue: within 5 %: pose and expression kept),
- seconds for the swap (face detection of the input and the photos included).

    .venv/bin/python benchmarks/bench_faceswap.py [--threads 2] [--quick-only] [--smoke]
        [--features old|full]  # full mode on conv1-3 + wct16x aux (the default) or on relu3_1 /
                               # relu4_1 of the full VGG19 (issue #19)

``--smoke``: one pair, both modes, a few optimisation steps: checks the benchmark still runs.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _smoke import add_smoke_option, announce_smoke  # noqa: E402

from editor.engine.edits import faceswap  # noqa: E402
from editor.engine.edits.faceswap import FaceSwapRequest, run  # noqa: E402
from editor.engine.jobs import RunContext, drive  # noqa: E402
from editor.engine.models.faces import detect_faces, embedding  # noqa: E402
from editor.engine.models.vgg import FULL_FIRST  # noqa: E402
from editor.ops.face_swap import inter_ocular  # noqa: E402
from editor.ops.face_swap_full import FullSettings  # noqa: E402

FACES = REPO.parent / "shared" / "data" / "faces"
MODELS = REPO.parent / "shared" / "models"
PEOPLE = ("obama", "biden", "kit_harington")


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick-only", action="store_true")
    parser.add_argument(
        "--features",
        choices=("old", "full"),
        default="old",
        help="the full mode's VGG19: conv1-3 + wct16x aux (the edit's), or the full network",
    )
    add_smoke_option(parser)
    args = parser.parse_args()
    if args.features == "full":
        faceswap.FEATURE_PREFER = FULL_FIRST
    # smoke: one thread, as two on a shared or busy core (a parallel test worker) crawl
    torch.set_num_threads(1 if args.smoke else args.threads)
    modes = (True,) if args.quick_only else (True, False)
    people, settings = PEOPLE, FullSettings()
    if args.smoke:  # one pair whose target has other photos ('to original'), both modes, 2 steps
        people, settings = PEOPLE[:2], FullSettings(iterations=2)
        announce_smoke()
    pairs = list(itertools.permutations(people, 2))[: 1 if args.smoke else None]
    photos = {p: sorted((FACES / p).glob("*.jp*g")) for p in people}
    embeddings = {
        path: embedding(image, detect_faces(image)[0])
        for paths in photos.values()
        for path in paths
        for image in [_load(path)]
    }
    print(
        "| target photo | new identity | mode | to new ↓ (< 0.6) | to original before → after "
        "| landmark error / IOD | s |"
    )
    print("|---|---|---|---:|---:|---:|---:|")
    rows: dict[bool, list[tuple[float, float, float, float, float]]] = {m: [] for m in modes}
    for (a, b), quick in itertools.product(pairs, modes):
        target = photos[a][0]
        image = _load(target)
        identity = tuple(_load(p) for p in photos[b])
        request = FaceSwapRequest(image, identity, quick=quick, settings=settings)
        t = time.perf_counter()
        out = drive(run(request, RunContext.for_folder(MODELS)))
        seconds = time.perf_counter() - t
        mode = "quick" if quick else "full"
        before, after = detect_faces(image), detect_faces(out)
        if not after:
            print(f"| {target.name} | {b} | {mode} | no face in the result | | | {seconds:.1f} |")
            continue
        big = max(range(len(before)), key=lambda i: before[i].box[2] * before[i].box[3])
        match = min(after, key=lambda f: np.linalg.norm(f.landmarks - before[big].landmarks))
        new = embedding(out, match)
        to_new = min(np.linalg.norm(new - embeddings[p]) for p in photos[b])
        others = [p for p in photos[a] if p != target]
        was = np.mean([np.linalg.norm(embeddings[target] - embeddings[p]) for p in others])
        now = np.mean([np.linalg.norm(new - embeddings[p]) for p in others])
        error = np.linalg.norm(match.landmarks - before[big].landmarks, axis=1).mean()
        error /= inter_ocular(before[big].landmarks)
        rows[quick].append((to_new, was, now, error, seconds))
        print(
            f"| {target.name} | {b} | {mode} | {to_new:.3f} | {was:.3f} → {now:.3f} "
            f"| {100 * error:.1f} % | {seconds:.1f} |",
            flush=True,
        )
    print()
    for quick, found in rows.items():
        ok = sum(r[0] < 0.6 for r in found)
        farther = sum(r[2] > r[1] for r in found)
        kept = sum(r[3] < 0.05 for r in found)
        print(
            f"{'quick' if quick else 'full'}: {len(found)} pairs, new identity within 0.6 on "
            f"{ok}, farther from the original on {farther}, landmarks within 5 % on {kept}; "
            f"mean to new {np.mean([r[0] for r in found]):.3f}, mean "
            f"{np.mean([r[4] for r in found]):.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
