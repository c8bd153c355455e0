"""Builds the face swap's held-out people: photos of people the settings were never tuned on.

../shared/data/faces holds three people, and the face swap's settings were tuned on them; a new
user's faces are someone else's. This gathers fifteen more people, several photos each, from two
MIT-licensed repositories' test images (public figures, as in ../shared/data/faces: local
benchmarking only, never shipped or committed), into one folder per person, each photo's long
side at most 1280 px (phone photos are bigger; the swap works on a 128 px frame either way):

    git clone https://github.com/serengil/deepface            # at DEEPFACE_COMMIT
    git clone https://github.com/ageitgey/face_recognition    # at FACE_RECOGNITION_COMMIT
    .venv/bin/python benchmarks/held_out_faces.py DEEPFACE_CLONE FACE_RECOGNITION_CLONE OUT_DIR
    .venv/bin/python benchmarks/bench_faceswap.py --people OUT_DIR

deepface's tests/unit/dataset names nobody; its master.csv marks same-person pairs, and dlib's
face-recognition distances (all within 0.62 inside a group, 0.6 being dlib's same-person line)
grouped the files its pairs leave out. The labels below are neutral. Two files were left out
(img26, img27): their group's distances reached 0.55 and they do not look like the rest.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageOps

DEEPFACE_COMMIT = "243209fd7b46ecdecf72665cc25219f6e8181f25"
FACE_RECOGNITION_COMMIT = "2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1"
LONG_SIDE = 1280

_DEEPFACE = "tests/unit/dataset"
_KNN = "examples/knn_examples"
PEOPLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "df01": ("deepface", ("img1", "img2", "img4", "img5", "img6", "img7", "img10", "img11")),
    "df02": ("deepface", ("img28", "img42", "img43", "img44", "img45", "img46")),
    "df03": ("deepface", ("img8", "img9", "img47", "img48", "img49", "img50", "img51")),
    "df04": ("deepface", ("img3", "img12", "img53", "img54", "img55", "img56")),
    "df05": ("deepface", ("img13", "img14", "img15", "img57", "img58")),
    "df06": ("deepface", ("img16", "img17", "img59", "img61", "img62")),
    "df07": ("deepface", ("img29", "img30", "img31", "img32", "img33")),
    "df08": ("deepface", ("img34", "img35", "img36", "img37")),
    "df09": ("deepface", ("img38", "img39", "img40", "img41")),
    "df10": ("deepface", ("img18", "img19", "img67")),
    "df11": ("deepface", ("img20", "img21")),
    "df12": ("deepface", ("img22", "img23")),
    "df13": ("deepface", ("img24", "img25")),
    "rose_leslie": ("face_recognition", ("train/rose_leslie/img1", "train/rose_leslie/img2")),
    "alex_lacamoire": (
        "face_recognition",
        ("train/alex_lacamoire/img1", "test/alex_lacamoire1"),
    ),
}


def build(deepface: Path, face_recognition: Path, out: Path) -> int:
    """Writes OUT/<person>/<file>.jpg; returns how many photos it wrote."""
    roots = {"deepface": deepface / _DEEPFACE, "face_recognition": face_recognition / _KNN}
    written = 0
    for person, (repo, files) in PEOPLE.items():
        folder = out / person
        folder.mkdir(parents=True, exist_ok=True)
        for name in files:
            source = roots[repo] / f"{name}.jpg"
            with Image.open(source) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
            image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
            image.save(folder / f"{Path(name).name}.jpg", quality=95)
            written += 1
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("deepface", type=Path, help=f"deepface at {DEEPFACE_COMMIT}")
    parser.add_argument(
        "face_recognition", type=Path, help=f"face_recognition at {FACE_RECOGNITION_COMMIT}"
    )
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    try:
        count = build(args.deepface, args.face_recognition, args.out)
    except FileNotFoundError as error:
        print(f"held_out_faces: {error.filename} is missing: is that the right clone?")
        return 1
    print(f"{count} photos of {len(PEOPLE)} people in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
