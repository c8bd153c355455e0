"""Face swap quality and speed on ../shared/data/faces (public figures: local use only).

For every ordered pair of people (target photo of person A, all photos of person B as the new
identity) the quick mode swaps A's face, then prints with dlib's face-recognition embedding
(distance < 0.6 = the same person):

- to B: the smallest distance from the result to B's photos (the issue: within 0.6),
- to A: the distance from the result to A's other photos, mean (the issue: farther than before),
- landmark error: mean distance between the result's and the input's 68 landmarks in units of the
  inter-ocular distance (the issue: within 5 %: pose and expression kept),
- seconds for the swap (face detection of the input and the photos included).

    .venv/bin/python benchmarks/bench_faceswap.py

The full (optimisation) mode is not built yet; its column will join this table.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from editor.engine.edits.faceswap import FaceSwapRequest, run  # noqa: E402
from editor.engine.face_models import detect_faces, embedding  # noqa: E402
from editor.engine.jobs import RunContext, drive  # noqa: E402
from editor.ops.face_swap import inter_ocular  # noqa: E402

FACES = REPO.parent / "shared" / "data" / "faces"
PEOPLE = ("obama", "biden", "kit_harington")


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def main() -> int:
    photos = {p: sorted((FACES / p).glob("*.jp*g")) for p in PEOPLE}
    embeddings = {
        path: embedding(image, detect_faces(image)[0])
        for paths in photos.values()
        for path in paths
        for image in [_load(path)]
    }
    print(
        "| target photo | new identity | to new ↓ (< 0.6) | to original before → after "
        "| landmark error / IOD | s |"
    )
    print("|---|---|---:|---:|---:|---:|")
    rows = []
    for a, b in itertools.permutations(PEOPLE, 2):
        target = photos[a][0]
        image = _load(target)
        identity = tuple(_load(p) for p in photos[b])
        t = time.perf_counter()
        out = drive(run(FaceSwapRequest(image, identity, quick=True), RunContext()))
        seconds = time.perf_counter() - t
        before, after = detect_faces(image), detect_faces(out)
        if not after:
            print(f"| {target.name} | {b} | no face found in the result | | | {seconds:.1f} |")
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
        rows.append((to_new, was, now, error, seconds))
        print(
            f"| {target.name} | {b} | {to_new:.3f} | {was:.3f} → {now:.3f} | {100 * error:.1f} % "
            f"| {seconds:.1f} |",
            flush=True,
        )
    ok = sum(r[0] < 0.6 for r in rows)
    farther = sum(r[2] > r[1] for r in rows)
    kept = sum(r[3] < 0.05 for r in rows)
    print(
        f"\n{len(rows)} pairs: new identity within 0.6 on {ok}, farther from the original on "
        f"{farther}, landmarks within 5 % on {kept}; mean {np.mean([r[4] for r in rows]):.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
