"""`semedit train-upscaler`: trains on a folder of photos, writes weights, resumes."""

from __future__ import annotations

import numpy as np
from PIL import Image
from safetensors.torch import load_file

from editor.cli import main
from editor.ops.sr_models import build_from_state_dict


def _photos(folder, n=3):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        base = rng.random((24, 30, 3))
        img = np.kron(base, np.ones((8, 8, 1)))  # blocky photos with real edges
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def _args(photos, out, steps, *extra):
    return [
        "train-upscaler",
        "--scale",
        "2",
        "--images",
        str(photos),
        "-o",
        str(out),
        "--steps",
        str(steps),
        "--report-every",
        "3",
        "--batch",
        "2",
        "--patch",
        "16",
        *extra,
    ]


def test_a_short_run_checkpoints_and_resumes(tmp_path, capsys):
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "mine_x2.safetensors"
    # Six steps cannot beat bicubic on the held-out photo: no weights, a clear message, and a
    # checkpoint to continue from.
    assert main(_args(photos, out, 6)) == 1
    assert "--resume" in capsys.readouterr().err
    assert not out.exists() and out.with_suffix(".ckpt.safetensors").exists()
    main(_args(photos, out, 9, "--resume"))
    log = out.with_suffix(".log").read_text()
    assert "resumed x2" in log and "at step 6" in log and "step 9/9" in log


def test_weights_are_written_and_load_as_an_upscaler(tmp_path):
    photos = _photos(tmp_path / "photos", n=1)  # nothing to hold out: the last weights ship
    out = tmp_path / "mine_x2.safetensors"
    assert main(_args(photos, out, 3)) == 0
    model = build_from_state_dict("residual", load_file(str(out)), 2)
    assert model.scale == 2


def test_a_missing_photo_folder_is_one_line(tmp_path, capsys):
    code = main(
        [
            "train-upscaler",
            "--scale",
            "2",
            "--images",
            str(tmp_path / "nope"),
            "-o",
            str(tmp_path / "x.safetensors"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder of photos" in err[0]
