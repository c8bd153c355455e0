"""`semedit upscale|remove|style|faceswap` over folders: outputs named like the inputs, one line
per broken file and a summary, exit 1 when any failed, --skip-existing, --jobs, masks by name."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from editor.cli import main
from editor.core.imageio import load_image


def photo_folder(folder: Path, count: int, broken: tuple[int, ...] = ()) -> list[Path]:
    """`count` small photos (smooth gradients with a bright square, different per file), the
    ones at `broken` indices written as garbage with an image extension."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        path = folder / f"photo{i:02d}.{'jpg' if i % 2 else 'png'}"
        if i in broken:
            path.write_bytes(b"this is not an image" * 10)
        else:
            yy, xx = np.mgrid[0:40, 0:48]
            rgb = np.stack([xx * 5, yy * 6, (xx + yy) * 3], -1) % 256
            y, x = rng.integers(4, 24, size=2)
            rgb[y : y + 10, x : x + 10] = 250
            Image.fromarray(rgb.astype(np.uint8)).save(path, quality=95)
        paths.append(path)
    return paths


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("semedit: error:")]


def test_a_folder_with_two_broken_files_upscales_the_rest_and_a_rerun_skips_them(tmp_path, capsys):
    photos = photo_folder(tmp_path / "in", 20, broken=(3, 11))
    (tmp_path / "in" / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"

    code = main(["upscale", str(tmp_path / "in"), "--scale", "2", "-o", str(out)])
    captured = capsys.readouterr()

    assert code == 1
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(p.name for i, p in enumerate(photos) if i not in (3, 11))
    for name in written[:3]:  # named like the input, in its format, twice the size
        assert load_image(out / name).pixels.shape[:2] == (80, 96)
    errors = error_lines(captured.err)
    assert [line.split(":")[2].strip() for line in errors] == ["photo03.jpg", "photo11.jpg"]
    assert all("cannot" in line.lower() or "not" in line.lower() for line in errors), errors
    assert "notes.txt" in captured.err  # said, not counted
    assert "18 of 20 files upscaled" in captured.out and "2 failed" in captured.out

    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code = main(
        ["upscale", str(tmp_path / "in"), "--scale", "2", "-o", str(out), "--skip-existing"]
    )
    captured = capsys.readouterr()
    assert code == 1  # the two broken files are tried again and fail again
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamps  # nothing new
    assert len(error_lines(captured.err)) == 2
    assert "0 of 20 files upscaled" in captured.out and "18 already there" in captured.out


def test_two_worker_processes_write_the_same_pixels_as_one(tmp_path, capsys):
    photo_folder(tmp_path / "in", 4)
    assert main(["upscale", str(tmp_path / "in"), "--scale", "2", "-o", str(tmp_path / "a")]) == 0
    code = main(
        [
            "upscale",
            str(tmp_path / "in"),
            "--scale",
            "2",
            "-o",
            str(tmp_path / "b"),
            "--jobs",
            "2",
            "--format",
            "png",
        ]
    )
    assert code == 0, capsys.readouterr().err
    for one in sorted((tmp_path / "a").glob("*.png")):  # the PNG inputs: lossless both ways
        two = load_image(tmp_path / "b" / one.name).pixels
        assert np.array_equal(load_image(one).pixels, two), one.name
    assert sorted(p.suffix for p in (tmp_path / "b").iterdir()) == [".png"] * 4


def test_several_files_on_the_command_line_and_a_format(tmp_path, capsys):
    a, b = photo_folder(tmp_path / "in", 2)
    code = main(
        [
            "upscale",
            str(a),
            str(b),
            "--scale",
            "2",
            "-o",
            str(tmp_path / "new/out"),
            "--format",
            "webp",
        ]  # fmt: skip
    )
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "new/out").iterdir()) == [
        "photo00.webp",
        "photo01.webp",
    ]


def test_one_image_into_a_folder_is_named_like_the_input(tmp_path, capsys):
    (photo,) = photo_folder(tmp_path / "in", 1)
    (tmp_path / "out").mkdir()
    assert main(["upscale", str(photo), "--scale", "2", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / photo.name).is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-o", "{in}"], "is the folder"),  # would replace the originals
        (["-o", "{in}/photo00.png"], "is a file"),
        (["--format", "png", "-o", "{out}"], "would both be written"),  # photo0.jpg, photo0.png
    ],
)
def test_batches_that_cannot_work_fail_before_any_file(tmp_path, capsys, arguments, message):
    photo_folder(tmp_path / "in", 2)
    shutil.copyfile(tmp_path / "in" / "photo01.jpg", tmp_path / "in" / "photo00.jpg")
    before = sorted(os.listdir(tmp_path / "in"))
    argv = [a.format(**{"in": tmp_path / "in", "out": tmp_path / "out"}) for a in arguments]
    code = main(["upscale", str(tmp_path / "in"), "--scale", "2", *argv])
    err = capsys.readouterr().err
    assert code == 1 and message in err, err
    assert sorted(os.listdir(tmp_path / "in")) == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_format_is_refused_for_one_file_to_one_file(tmp_path, capsys):
    (photo,) = photo_folder(tmp_path / "in", 1)
    code = main(
        ["upscale", str(photo), "--scale", "2", "-o", str(tmp_path / "o.png"), "--format", "jpg"]
    )
    assert code == 1 and "--format is for batches" in capsys.readouterr().err


def test_remove_matches_masks_by_name_and_reports_an_image_without_one(tmp_path, capsys):
    photos = photo_folder(tmp_path / "in", 3)
    masks = tmp_path / "masks"
    masks.mkdir()
    for photo in photos[:2]:
        mask = np.zeros((40, 48), np.uint8)
        mask[10:20, 10:20] = 255
        Image.fromarray(mask).save(masks / f"{photo.stem}.png")
    out = tmp_path / "out"
    argv = ["remove", str(tmp_path / "in"), "--mask", str(masks), "-o", str(out)]
    code = main([*argv, "--method", "telea"])
    captured = capsys.readouterr()

    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == [photos[0].name, photos[1].name]
    (line,) = error_lines(captured.err)
    assert photos[2].name in line and "no mask" in line
    original = load_image(photos[0]).pixels.astype(int)
    result = load_image(out / photos[0].name).pixels.astype(int)
    assert np.abs(result - original)[10:20, 10:20].mean() > 5  # the hole was filled
    assert np.abs(result - original)[30:, 30:].mean() < 1  # the rest kept


def test_faceswap_over_a_folder_with_one_photo_without_a_face(shared_data, tmp_path, capsys):
    faces = shared_data / "faces"
    source = faces / "obama"
    pictures = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:2]
    (tmp_path / "in").mkdir()
    for picture in pictures:
        shutil.copyfile(picture, tmp_path / "in" / picture.name)
    Image.new("RGB", (64, 64), (90, 120, 200)).save(tmp_path / "in" / "sky.png")
    new_face = sorted((faces / "biden").iterdir())[0]
    code = main(
        [
            "faceswap",
            str(tmp_path / "in"),
            "--face",
            str(new_face),
            "--quick",
            "-o",
            str(tmp_path / "out"),
            "--jobs",
            "2",
        ]  # fmt: skip
    )
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in pictures)
    (line,) = error_lines(captured.err)
    assert "sky.png" in line and "face" in line
    assert "2 of 3 files swapped" in captured.out


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_problem_every_file_shares_fails_the_batch_once(tmp_path, capsys, jobs):
    photo_folder(tmp_path / "in", 3)
    argv = ["upscale", str(tmp_path / "in"), "--scale", "2", "--model", "nope"]
    code = main([*argv, "-o", str(tmp_path / "out"), "--jobs", jobs])
    captured = capsys.readouterr()
    assert code == 1
    (line,) = error_lines(captured.err)  # said once, from the worker that met it first
    assert "'nope' is not an upscaling model" in line
    assert list((tmp_path / "out").iterdir()) == []
