"""Every `semedit` command checks its arguments and files before torch or OpenCV load, so a typo
fails at once with the usual one-line error; and faces are numbered from 1 on the command line.

The checks run in a fresh interpreter: this test process has long imported torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.cli import main

REPO = Path(__file__).resolve().parents[1]

# Each command runs in one child interpreter, one after the other; after each the child records
# its exit status, its stderr and whether torch / cv2 / an edit were imported by then.
CHILD = """
import contextlib, io, json, sys
import editor.cli as cli

results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main(argv)
    heavy = sorted(m for m in ("torch", "cv2", "editor.engine.edits") if m in sys.modules)
    results.append({"rc": rc, "err": err.getvalue(), "heavy": heavy})
print(json.dumps(results))
"""


def run_fresh(commands: list[list[str]], cwd: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """A real small image, a file that is not an image, and a folder of photos."""
    Image.fromarray(np.full((24, 32, 3), 90, np.uint8)).save(tmp_path / "photo.png")
    (tmp_path / "notes.png").write_text("a shopping list, not a picture")
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.full((24, 32, 3), 90, np.uint8)).save(tmp_path / "photos" / "a.png")
    return {
        "photo": str(tmp_path / "photo.png"),
        "notes": str(tmp_path / "notes.png"),
        "photos": str(tmp_path / "photos"),
        "out": str(tmp_path / "out.png"),
        "no_folder": str(tmp_path / "no-such-folder" / "out.png"),
    }


def test_bad_arguments_fail_in_one_line_before_torch_loads(files, tmp_path):
    f = files
    cases = [  # (argv, what the one error line must say); each exits 1
        (["remove", "missing.png", "--mask", "m.png", "-o", f["out"]], "missing.png does not"),
        (["remove", f["photo"], "--mask", "m.png", "-o", f["out"]], "m.png does not exist"),
        (["remove", f["photo"], "--mask", f["photo"], "-o", f["no_folder"]], "does not exist"),
        (["remove", f["notes"], "--mask", f["photo"], "-o", f["out"]], "notes.png is not an image"),
        (["upscale", f["photo"], "--scale", "2", "-o", str(tmp_path / "o.gif")], "'.gif'"),
        (["upscale", f["photo"], "--scale", "2", "-o", f["photo"]], "is the input image"),
        (["upscale", f["photo"], "--scale", "2", "--tile", "8", "-o", f["out"]], "--tile"),
        (["style", f["photo"], "--style", "missing.jpg", "-o", f["out"]], "missing.jpg does not"),
        (["style", f["photo"], "--style", f["photo"], "-o", f["no_folder"]], "does not exist"),
        (["style", f["photo"], "--model", "wave", "--mask", "m.png", "-o", f["out"]], "m.png"),
        (["texture", "missing.png", "--size", "64x64", "-o", f["out"]], "missing.png does not"),
        (["texture", f["photo"], "--size", "big", "-o", f["out"]], "--size must look like"),
        (["faceswap", f["photo"], "--face", "nobody.jpg", "-o", f["out"]], "nobody.jpg does not"),
        (["faceswap", f["photo"], "--face", f["photo"], "-o", f["no_folder"]], "does not exist"),
        (["models", "import", "missing.bin"], "missing.bin: no such file"),
        (["train-style", "missing.jpg", "--images", f["photos"], "-o", "s.safetensors"], "missing"),
        (["train-style", f["photo"], "--images", "nowhere", "-o", "s.safetensors"], "nowhere"),
        (["train-upscaler", "--scale", "2", "--images", "nowhere", "-o", "u.st"], "nowhere"),
    ]
    results = run_fresh([argv for argv, _ in cases], cwd=tmp_path)
    for (argv, expected), result in zip(cases, results, strict=True):
        lines = [line for line in result["err"].splitlines() if line.strip()]
        assert result["rc"] == 1, (argv, result)
        assert len(lines) == 1 and lines[0].startswith("semedit: error: "), (argv, result)
        assert expected in lines[0], (argv, lines[0])
        assert result["heavy"] == [], (argv, result["heavy"])


def test_usage_errors_and_help_need_no_torch_either(files, tmp_path):
    f = files
    commands = [
        ["faceswap", f["photo"], "--face", f["photo"], "--target", "0", "-o", f["out"]],
        ["remove", f["photo"], "-o", f["out"]],  # --mask missing
        ["train-upscaler", "--help"],
        ["train-style", "--help"],
    ]
    target_zero, no_mask, upscaler_help, style_help = run_fresh(commands, cwd=tmp_path)
    assert target_zero["rc"] == 2
    expected = "argument --target: faces are numbered from 1 (the leftmost), got 0"
    assert expected in target_zero["err"]
    assert no_mask["rc"] == 2 and "--mask" in no_mask["err"]
    assert upscaler_help["rc"] == 0 and style_help["rc"] == 0
    for result in (target_zero, no_mask, upscaler_help, style_help):
        assert result["heavy"] == [], result


def test_the_help_text_keeps_the_trainers_default():
    from editor.engine import train_args
    from editor.ops.style_train import NEW_STYLE_INPUT_NOISE

    assert train_args.NEW_STYLE_INPUT_NOISE == NEW_STYLE_INPUT_NOISE


# ------------------------------------------------------------------------- faces counted from 1


def test_target_1_is_the_leftmost_face(shared_data, tmp_path, capsys):
    from editor.core.imageio import load_image
    from editor.engine.edits.faceswap import FaceSwapRequest, FindFacesRequest, find_faces, run
    from editor.engine.jobs import RunContext, drive
    from editor.ops.pixels import to_rgb8 as rgb8

    faces = shared_data / "faces"
    image, photo = faces / "multi" / "two_people.jpg", faces / "biden" / "biden.jpg"
    pixels = load_image(image).pixels
    found = drive(find_faces(FindFacesRequest(pixels), RunContext()))
    assert len(found) == 2
    first = drive(
        run(FaceSwapRequest(pixels, (rgb8(load_image(photo).pixels),), target=0), RunContext())
    )

    out = tmp_path / "first.png"
    argv = ["faceswap", str(image), "--face", str(photo), "--quick", "--device", "cpu"]
    assert main([*argv, "--target", "1", "-o", str(out)]) == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(out)), first)

    assert main([*argv, "--target", "3", "-o", str(tmp_path / "third.png")]) == 1
    err = capsys.readouterr().err
    assert err == "semedit: error: there are 2 faces; --target must be 1 or 2\n"
    assert not (tmp_path / "third.png").exists()
