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
        [--people DIR [--only NAME ...]] [--photos 5]

The face swap's settings were tuned on the three people of ../shared/data/faces, so their figures
are the tuned ones. A new user's faces are someone else's: `--people DIR` (one folder per person,
two photos or more each; benchmarks/held_out_faces.py builds fifteen such people) reports on
people the settings never saw. There each person is the new identity once, on the first photo of
the next person in name order (the pairs form one cycle); `--only` keeps the named people.
df01-df07 chose the identity and region weights; df08-df13, rose_leslie and alex_lacamoire were
only measured (docs/faceswap.md, "People it was never tuned on"). `--set NAME=VALUE` tries other
full-mode settings.

``--smoke``: one pair, both modes, a few optimisation steps: checks the benchmark still runs.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from editor.engine.edits.faceswap import FaceSwapRequest, largest_face, run  # noqa: E402
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


def settings_from(pairs: list[str]) -> FullSettings:
    """FullSettings with NAME=VALUE overrides, each value of its field's type."""
    fields = {f.name: f for f in dataclasses.fields(FullSettings)}
    changes = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in fields:
            raise SystemExit(f"no setting {name!r}: one of {', '.join(fields)}")
        kind = type(getattr(FullSettings(), name))
        changes[name] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return FullSettings(**changes)


def people_in(root: Path, only: list[str] | None) -> tuple[str, ...]:
    """The folders of `root` with two photos or more (a target needs another photo of itself)."""
    found = sorted(p.name for p in root.iterdir() if len(list(p.glob("*.jp*g"))) >= 2)
    if only:
        missing = set(only) - set(found)
        if missing:
            raise SystemExit(f"not in {root}: {', '.join(sorted(missing))}")
        found = [p for p in found if p in only]
    return tuple(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick-only", action="store_true")
    parser.add_argument("--people", type=Path, help="held-out people: one folder per person")
    parser.add_argument("--only", nargs="+", help="with --people: just these people")
    parser.add_argument(
        "--photos", type=int, default=5, help="at most this many photos of the new identity"
    )
    parser.add_argument(
        "--features",
        choices=("old", "full"),
        default="old",
        help="the full mode's VGG19: conv1-3 + wct16x aux (the edit's), or the full network",
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="NAME=VALUE",
        help="full-mode settings other than the defaults, e.g. identity_weight=1",
    )
    add_smoke_option(parser)
    args = parser.parse_args()
    if args.features == "full":
        faceswap.FEATURE_PREFER = FULL_FIRST
    # smoke: one thread, as two on a shared or busy core (a parallel test worker) crawl
    torch.set_num_threads(1 if args.smoke else args.threads)
    modes = (True,) if args.quick_only else (True, False)
    root, settings = args.people or FACES, settings_from(args.set)
    people = people_in(root, args.only) if args.people else PEOPLE
    photos = {p: sorted((root / p).glob("*.jp*g")) for p in people}
    if args.people:  # a cycle: every person is the new identity once
        pairs = [(a, people[(i + 1) % len(people)]) for i, a in enumerate(people)]
    else:
        pairs = list(itertools.permutations(people, 2))
    if args.smoke:  # one pair whose target has other photos ('to original'), both modes, 2 steps
        pairs, settings = pairs[:1], dataclasses.replace(settings, iterations=2)
        people = pairs[0]
        announce_smoke()
    # --people may name the tuning half too (--only df01 ...): the folder, not a verdict.
    print(f"people of {root}: {', '.join(people)}")
    print(f"settings: {settings}\n")
    embeddings = {
        path: embedding(image, faces[largest_face(faces)])
        for person in people
        for path in photos[person]
        for image in [_load(path)]
        for faces in [detect_faces(image)]
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
        identity = tuple(_load(p) for p in photos[b][: args.photos])
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
        to_new = min(np.linalg.norm(new - embeddings[p]) for p in photos[b][: args.photos])
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
