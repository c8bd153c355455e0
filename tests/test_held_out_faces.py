"""benchmarks/held_out_faces.py: the held-out people's folders from the two repositories' files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location(
        "held_out_faces", REPO / "benchmarks" / "held_out_faces.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_person_gets_a_folder_of_photos_no_bigger_than_the_long_side(tmp_path, capsys):
    faces = _module()
    roots = {"deepface": tmp_path / "deepface", "face_recognition": tmp_path / "fr"}
    sub = {"deepface": "tests/unit/dataset", "face_recognition": "examples/knn_examples"}
    for repo, files in faces.PEOPLE.values():
        for name in files:
            path = roots[repo] / sub[repo] / f"{name}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (1400, 900), (200, 150, 120)).save(path)
    out = tmp_path / "people"
    assert faces.main([str(roots["deepface"]), str(roots["face_recognition"]), str(out)]) == 0
    people = sorted(p.name for p in out.iterdir())
    assert people == sorted(faces.PEOPLE)
    for person, (_, files) in faces.PEOPLE.items():
        photos = sorted(out.glob(f"{person}/*.jpg"))
        assert len(photos) == len(files) >= 2
        assert max(Image.open(photos[0]).size) == faces.LONG_SIDE
    # A wrong folder: one line naming the missing file, nothing half-done reported as done.
    assert faces.main([str(tmp_path), str(tmp_path), str(tmp_path / "x")]) == 1
    assert "is missing: is that the right clone?" in capsys.readouterr().out
